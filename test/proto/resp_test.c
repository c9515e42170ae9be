/* resp_test.c — unit test of proto/resp.c: each reply type read whole and
 * from every prefix (NEED_MORE, nothing used, until the last byte), several
 * replies back to back, every error, commands written and read back, the
 * pub/sub pushes (flat arrays) the same way, and the redis:// URL. */
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

/* A flat array read from every prefix (NEED_MORE until whole), then whole. */
static void expect_array(const char *wire, int rc, size_t max, const char *const *texts,
                         size_t want_n)
{
	size_t len = strlen(wire);
	for (size_t cut = 0; cut < len; cut++) {
		uint8_t *exact = malloc(cut ? cut : 1);
		memcpy(exact, wire, cut);
		struct resp_reply el[RESP_MAX_ELEMS];
		size_t used = 7, n = 7;
		int got = resp_parse_array(exact, cut, &used, el, max, &n);
		CHECK(got == RESP_NEED_MORE || (rc < 0 && got == rc));
		CHECK_EQ_INT(used, 0);
		free(exact);
	}
	uint8_t *exact = malloc(len);
	memcpy(exact, wire, len);
	struct resp_reply el[RESP_MAX_ELEMS];
	size_t used = 7, n = 7;
	CHECK_EQ_INT(resp_parse_array(exact, len, &used, el, max, &n), rc);
	if (rc == RESP_REPLY) {
		CHECK_EQ_INT(used, len);
		CHECK_EQ_INT(n, want_n);
		for (size_t i = 0; i < n && i < want_n; i++) {
			if (!texts[i]) {
				CHECK_EQ_INT(el[i].type, RESP_INTEGER);
				continue;
			}
			CHECK_EQ_INT(el[i].text.len, strlen(texts[i]));
			CHECK(el[i].text.len == 0 || memcmp(el[i].text.p, texts[i], el[i].text.len) == 0);
		}
	} else {
		CHECK_EQ_INT(used, 0);
	}
	free(exact);
}

static void test_arrays(void)
{
	static const char *const msg[] = {"message", "wsferry:push:/push", "wsferry-push/1 x\nhi"};
	expect_array("*3\r\n$7\r\nmessage\r\n$18\r\nwsferry:push:/push\r\n"
	             "$19\r\nwsferry-push/1 x\nhi\r\n",
	             RESP_REPLY, RESP_MAX_ELEMS, msg, 3);
	static const char *const sub[] = {"subscribe", "c", NULL};
	expect_array("*3\r\n$9\r\nsubscribe\r\n$1\r\nc\r\n:1\r\n", RESP_REPLY, 3, sub, 3);
	static const char *const pong[] = {"pong", ""};
	expect_array("*2\r\n$4\r\npong\r\n$0\r\n\r\n", RESP_REPLY, 3, pong, 2);
	expect_array("*0\r\n", RESP_REPLY, 3, NULL, 0);
	expect_array("*4\r\n", RESP_ERR_TOO_BIG, 3, NULL, 0);
	expect_array("*-1\r\n", RESP_ERR_TYPE, 3, NULL, 0);
	expect_array("*-2\r\n", RESP_ERR_SYNTAX, 3, NULL, 0);
	expect_array("*01\r\n", RESP_ERR_SYNTAX, 3, NULL, 0);
	expect_array("*1\r\n*1\r\n:1\r\n", RESP_ERR_TYPE, 3, NULL, 0);
	expect_array("*1\r\n$2\r\nabc\r\n", RESP_ERR_SYNTAX, 3, NULL, 0);
	expect_array("+OK\r\n", RESP_ERR_TYPE, 3, NULL, 0);
	/* two pushes back to back: the first one only */
	static const char two[] = "*1\r\n:1\r\n*1\r\n:2\r\n";
	struct resp_reply el[RESP_MAX_ELEMS];
	size_t used, n;
	CHECK_EQ_INT(resp_parse_array((const uint8_t *)two, sizeof(two) - 1, &used, el, 3, &n),
	             RESP_REPLY);
	CHECK_EQ_INT(used, 8);
	CHECK_EQ_INT(el[0].integer, 1);
}

static void test_url(void)
{
	struct resp_url u;
	const char *why = NULL;
	CHECK_EQ_INT(resp_url_parse("redis://127.0.0.1:6380/2", &u, &why), 0);
	CHECK(!u.is_unix && strcmp(u.host, "127.0.0.1") == 0 && u.port == 6380 && u.has_db &&
	      u.db == 2 && !u.has_password);
	CHECK_EQ_INT(resp_url_parse("redis://:s3cret@[::1]", &u, &why), 0);
	CHECK(strcmp(u.host, "::1") == 0 && u.port == RESP_DEFAULT_PORT && u.has_password &&
	      strcmp(u.password, "s3cret") == 0 && u.user[0] == '\0');
	CHECK_EQ_INT(resp_url_parse("redis://bob:pw@redis.lan:7000", &u, &why), 0);
	CHECK(strcmp(u.user, "bob") == 0 && strcmp(u.password, "pw") == 0 && u.port == 7000);
	CHECK_EQ_INT(resp_url_parse("unix:/run/redis.sock", &u, &why), 0);
	CHECK(u.is_unix && strcmp(u.path, "/run/redis.sock") == 0);
	CHECK_EQ_INT(resp_url_parse("unix:///run/redis.sock", &u, &why), 0);
	CHECK(u.is_unix && strcmp(u.path, "/run/redis.sock") == 0);
	static const char *const bad[] = {"http://h", "redis://", "redis://h:0", "redis://h:70000",
	                                  "redis://h:1x", "redis://[::1", "redis://h/x",
	                                  "redis://pw@h", "unix:relative", ""};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why = NULL;
		CHECK_EQ_INT(resp_url_parse(bad[i], &u, &why), -1);
		CHECK(why != NULL);
	}
}

int main(void)
{
	TEST_RUN(test_replies);
	TEST_RUN(test_errors);
	TEST_RUN(test_pipelined);
	TEST_RUN(test_command);
	TEST_RUN(test_arrays);
	TEST_RUN(test_url);
	return test_summary();
}
