/* resp_test.c — unit test of proto/resp.c: each reply type read whole and
 * from every prefix (NEED_MORE, nothing used, until the last byte), several
 * replies back to back, every error, commands written and read back. */
#include "proto/resp.h"

#include "test/check.h"

#include <stdlib.h>

static void expect(const char *wire, size_t len, int rc, enum resp_type type, const char *text,
                   int64_t integer)
{
	/* Every prefix is NEED_MORE (or the same error, once it shows). */
	for (size_t cut = 0; cut < len; cut++) {
		uint8_t *exact = malloc(cut ? cut : 1); /* heap: ASan sees over-reads */
		memcpy(exact, wire, cut);
		struct resp_reply r;
		size_t used = 7;
		int got = resp_parse(exact, cut, &used, &r);
		CHECK(got == RESP_NEED_MORE || (rc < 0 && got == rc));
		CHECK_EQ_INT(used, 0);
		free(exact);
	}
	uint8_t *exact = malloc(len);
	memcpy(exact, wire, len);
	struct resp_reply r;
	size_t used = 7;
	int got = resp_parse(exact, len, &used, &r);
	CHECK_EQ_INT(got, rc);
	if (rc == RESP_REPLY) {
		CHECK_EQ_INT(used, len);
		CHECK_EQ_INT(r.type, type);
		if (text) {
			CHECK_EQ_INT(r.text.len, strlen(text));
			CHECK(r.text.len == 0 || memcmp(r.text.p, text, r.text.len) == 0);
		}
		CHECK_EQ_INT(r.integer, integer);
	} else {
		CHECK_EQ_INT(used, 0);
		CHECK(resp_strerror(rc) != NULL);
	}
	free(exact);
}

#define EXPECT(w, rc, type, text, i) expect(w, sizeof(w) - 1, rc, type, text, i)

static void test_replies(void)
{
	EXPECT("+OK\r\n", RESP_REPLY, RESP_SIMPLE, "OK", 0);
	EXPECT("-ERR wrong number\r\n", RESP_REPLY, RESP_ERROR, "ERR wrong number", 0);
	EXPECT(":0\r\n", RESP_REPLY, RESP_INTEGER, NULL, 0);
	EXPECT(":-42\r\n", RESP_REPLY, RESP_INTEGER, NULL, -42);
	EXPECT(":9223372036854775807\r\n", RESP_REPLY, RESP_INTEGER, NULL, INT64_MAX);
	EXPECT("$-1\r\n", RESP_REPLY, RESP_NIL, NULL, 0);
	EXPECT("$0\r\n\r\n", RESP_REPLY, RESP_BULK, "", 0);
	EXPECT("$5\r\nhe\r\nl\r\n", RESP_REPLY, RESP_BULK, "he\r\nl", 0);
	EXPECT("+\r\n", RESP_REPLY, RESP_SIMPLE, "", 0);
}

static void test_errors(void)
{
	EXPECT("*1\r\n$1\r\na\r\n", RESP_ERR_TYPE, 0, NULL, 0);
	EXPECT("x", RESP_ERR_TYPE, 0, NULL, 0);
	EXPECT("+OK\n", RESP_ERR_SYNTAX, 0, NULL, 0);
	EXPECT("+OK\rX", RESP_ERR_SYNTAX, 0, NULL, 0);
	EXPECT(":01\r\n", RESP_ERR_SYNTAX, 0, NULL, 0);
	EXPECT(":-0\r\n", RESP_ERR_SYNTAX, 0, NULL, 0);
	EXPECT(":+1\r\n", RESP_ERR_SYNTAX, 0, NULL, 0);
	EXPECT(":\r\n", RESP_ERR_SYNTAX, 0, NULL, 0);
	EXPECT(":9223372036854775808\r\n", RESP_ERR_SYNTAX, 0, NULL, 0);
	EXPECT("$-2\r\n", RESP_ERR_SYNTAX, 0, NULL, 0);
	EXPECT("$2\r\nabcd", RESP_ERR_SYNTAX, 0, NULL, 0);
	EXPECT("$65537\r\n", RESP_ERR_TOO_BIG, 0, NULL, 0);
	char longline[RESP_MAX_LINE + 8];
	memset(longline, 'a', sizeof(longline));
	longline[0] = '+';
	expect(longline, sizeof(longline), RESP_ERR_TOO_BIG, 0, NULL, 0);
}

static void test_pipelined(void)
{
	static const char w[] = "+OK\r\n$-1\r\n:1\r\n";
	size_t at = 0, used;
	struct resp_reply r;
	CHECK_EQ_INT(resp_parse((const uint8_t *)w + at, sizeof(w) - 1 - at, &used, &r), RESP_REPLY);
	CHECK_EQ_INT(r.type, RESP_SIMPLE);
	at += used;
	CHECK_EQ_INT(resp_parse((const uint8_t *)w + at, sizeof(w) - 1 - at, &used, &r), RESP_REPLY);
	CHECK_EQ_INT(r.type, RESP_NIL);
	at += used;
	CHECK_EQ_INT(resp_parse((const uint8_t *)w + at, sizeof(w) - 1 - at, &used, &r), RESP_REPLY);
	CHECK_EQ_INT(r.integer, 1);
	CHECK_EQ_INT(at + used, sizeof(w) - 1);
}

static void test_command(void)
{
	uint8_t out[256];
	struct resp_slice a[] = {{(const uint8_t *)"SET", 3}, {(const uint8_t *)"k", 1},
	                         {(const uint8_t *)"", 0}, {(const uint8_t *)"EX", 2}};
	size_t n = resp_command(out, sizeof(out), a, 4);
	static const char want[] = "*4\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n$2\r\nEX\r\n";
	CHECK_EQ_INT(n, sizeof(want) - 1);
	CHECK_MEM(out, want, n);
	CHECK_EQ_INT(resp_command(out, 20, a, 4), 0);
	CHECK_EQ_INT(resp_command(out, sizeof(out), a, 0), 0);
	CHECK_EQ_INT(resp_command(out, sizeof(out), a, RESP_MAX_ARGS + 1), 0);
}

int main(void)
{
	TEST_RUN(test_replies);
	TEST_RUN(test_errors);
	TEST_RUN(test_pipelined);
	TEST_RUN(test_command);
	return test_summary();
}
