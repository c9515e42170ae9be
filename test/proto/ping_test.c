/* ping_test.c — proto/ping.c with fixed times: UTC dates and ISO times,
 * signatures (expected values from `printf %s DATENAME | sha256sum`), the
 * SPEC's checks in order, and the exact JSON of every reply and request. */
#include "proto/ping.h"

#include <string.h>

#include "test/check.h"

#define T_2024_01_15 INT64_C(1705276800) /* 2024-01-15T00:00:00Z */
#define DAY 86400
#define SIG_2024_01_15 "23b6e6df4ad3a967" /* 2024-01-15ming-mong-server */
#define SIG_2024_01_14 "32becc3792fb2139" /* 2024-01-14ming-mong-server */
#define NAME "ming-mong-server"

static void date_is(int64_t secs, const char *want)
{
	char out[PING_DATE_LEN + 1];
	ping_date(secs, out);
	CHECK(strcmp(out, want) == 0);
	if (strcmp(out, want) != 0)
		fprintf(stderr, "  %lld: got %s, want %s\n", (long long)secs, out, want);
}

static void test_dates(void)
{
	date_is(0, "1970-01-01");
	date_is(T_2024_01_15, "2024-01-15");
	date_is(T_2024_01_15 + DAY - 1, "2024-01-15");
	date_is(T_2024_01_15 - 1, "2024-01-14");
	date_is(INT64_C(1709164800), "2024-02-29");     /* leap day */
	date_is(INT64_C(1709251199), "2024-02-29");
	date_is(INT64_C(1709251200), "2024-03-01");
	date_is(INT64_C(951868799), "2000-02-29");      /* 400-year leap */
	date_is(INT64_C(4107542400), "2100-03-01");     /* 2100 is no leap year */
	date_is(INT64_C(4107542400) - 1, "2100-02-28");
	date_is(INT64_C(1704067199), "2023-12-31");
	date_is(INT64_C(253402300799), "9999-12-31");
	date_is(-1, "1970-01-01");                      /* clamped */
	date_is(INT64_MAX, "9999-12-31");
	date_is(INT64_MIN, "1970-01-01");
}

static void time_is(int64_t secs, long nsec, const char *want)
{
	char out[PING_TIME_LEN + 1];
	struct timespec ts = {.tv_sec = (time_t)secs, .tv_nsec = nsec};
	ping_time(&ts, out);
	CHECK_EQ_INT(strlen(out), PING_TIME_LEN);
	CHECK(strcmp(out, want) == 0);
	if (strcmp(out, want) != 0)
		fprintf(stderr, "  got %s, want %s\n", out, want);
}

static void test_times(void)
{
	time_is(INT64_C(1705314645), 123456789, "2024-01-15T10:30:45.123Z");
	time_is(INT64_C(1705314645), 999999999, "2024-01-15T10:30:45.999Z"); /* truncated */
	time_is(INT64_C(1705314645), 0, "2024-01-15T10:30:45.000Z");
	time_is(INT64_C(1705314645), 1000000, "2024-01-15T10:30:45.001Z");
	time_is(0, 0, "1970-01-01T00:00:00.000Z");
	time_is(INT64_C(1709251199), 500000000, "2024-02-29T23:59:59.500Z");
	time_is(INT64_C(253402300799), 0, "9999-12-31T23:59:59.000Z");
	time_is(0, -5, "1970-01-01T00:00:00.000Z");
	time_is(0, 2000000000L, "1970-01-01T00:00:00.999Z");
}

static void sig_is(int64_t secs, const char *name, const char *want)
{
	char out[PING_SIG_LEN + 1];
	ping_signature(secs, name, out);
	CHECK(strcmp(out, want) == 0);
	if (strcmp(out, want) != 0)
		fprintf(stderr, "  %s: got %s, want %s\n", name, out, want);
}

static void test_signatures(void)
{
	sig_is(T_2024_01_15, NAME, SIG_2024_01_15);
	sig_is(T_2024_01_15 + 37845, NAME, SIG_2024_01_15); /* any time of the day */
	sig_is(T_2024_01_15 - 1, NAME, SIG_2024_01_14);
	sig_is(INT64_C(1709164800), NAME, "e4a4c12d35b36002");     /* 2024-02-29 */
	sig_is(INT64_C(1709251200), NAME, "483a0d558c2b331a");     /* 2024-03-01 */
	sig_is(0, NAME, "7af7fa16f7b9c53f");                       /* 1970-01-01 */
	sig_is(INT64_C(1704067199), "custom-name", "e7a734b87f0da137"); /* 2023-12-31 */
	sig_is(INT64_C(1704067200), "custom-name", "9c307aee919a1fe1"); /* 2024-01-01 */
	sig_is(INT64_C(951868799), "x", "d0efa962e965b442");       /* 2000-02-29 */
	sig_is(INT64_C(253402300799), NAME, "6a6731065a5e0fed");   /* 9999-12-31 */
}

/* ping_check of text at 2024-01-15 10:30:45 UTC for name. */
static void verdict(const char *name, const char *text, enum ping_verdict want)
{
	enum ping_verdict v =
		ping_check((const uint8_t *)text, strlen(text), name, T_2024_01_15 + 37845);
	CHECK_EQ_INT(v, want);
	if (v != want)
		fprintf(stderr, "  %s\n", text);
}

static void test_check_signature(void)
{
	verdict(NAME, "{\"type\":\"ping\",\"signature\":\"" SIG_2024_01_15 "\",\"timestamp\":\"x\"}",
	        PING_OK);
	verdict(NAME, "{\"type\":\"ping\",\"signature\":\"" SIG_2024_01_14 "\"}", PING_OK);
	verdict(NAME, "{\"type\":\"ping\",\"signature\":\"7c9f8dd1d2fe7b28\"}", PING_INVALID_SIGNATURE);
	verdict(NAME, "{\"type\":\"ping\",\"signature\":\"23B6E6DF4AD3A967\"}", PING_INVALID_SIGNATURE);
	verdict(NAME, "{\"type\":\"ping\",\"signature\":\"23b6e6df4ad3a96\"}", PING_INVALID_SIGNATURE);
	verdict(NAME, "{\"type\":\"ping\",\"signature\":\"23b6e6df4ad3a9670\"}", PING_INVALID_SIGNATURE);
	verdict(NAME, "{\"type\":\"ping\",\"signature\":\"23b6e6df4ad3a967"
	              "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}", PING_INVALID_SIGNATURE);
	verdict(NAME, "{\"type\":\"ping\"}", PING_INVALID_SIGNATURE);
	verdict(NAME, "{\"type\":\"ping\",\"signature\":null}", PING_INVALID_SIGNATURE);
	verdict(NAME, "{\"type\":\"ping\",\"signature\":23}", PING_INVALID_SIGNATURE);
	verdict(NAME, "{\"type\":\"ping\",\"signature\":[\"" SIG_2024_01_15 "\"]}",
	        PING_INVALID_SIGNATURE);
	verdict(NAME, "{\"type\":\"ping\",\"sig\":\"" SIG_2024_01_15 "\"}", PING_INVALID_SIGNATURE);
	verdict("custom-name", "{\"type\":\"ping\",\"signature\":\"" SIG_2024_01_15 "\"}",
	        PING_INVALID_SIGNATURE);
	/* the signature of a 2-day-old date */
	char old[PING_SIG_LEN + 1], msg[128];
	ping_signature(T_2024_01_15 - 2 * DAY, NAME, old);
	snprintf(msg, sizeof(msg), "{\"type\":\"ping\",\"signature\":\"%s\"}", old);
	verdict(NAME, msg, PING_INVALID_SIGNATURE);
	/* tomorrow's is not accepted either */
	ping_signature(T_2024_01_15 + DAY, NAME, old);
	snprintf(msg, sizeof(msg), "{\"type\":\"ping\",\"signature\":\"%s\"}", old);
	verdict(NAME, msg, PING_INVALID_SIGNATURE);
}

static void test_check_lenient(void)
{
	verdict(NAME, " \n{ \"signature\" : \"" SIG_2024_01_15 "\" ,\t\"type\" : \"ping\" }\r\n",
	        PING_OK);
	verdict(NAME, "{\"timestamp\":1705314645,\"extra\":{\"type\":\"pong\"},\"type\":\"ping\","
	              "\"list\":[1,2,{}],\"signature\":\"" SIG_2024_01_15 "\"}", PING_OK);
	verdict(NAME, "{\"type\":\"\\u0070ing\",\"signature\":\"23b6e6df4ad3a\\u0039\\u00367\"}",
	        PING_OK);
	verdict(NAME, "{\"type\":\"pong\",\"type\":\"ping\",\"signature\":\"" SIG_2024_01_15 "\"}",
	        PING_OK); /* the last duplicate wins, as in Go and JavaScript */
}

static void test_check_order(void)
{
	verdict(NAME, "", PING_INVALID_FORMAT);
	verdict(NAME, "ping", PING_INVALID_FORMAT);
	verdict(NAME, "{\"type\":\"ping\"", PING_INVALID_FORMAT);
	verdict(NAME, "[{\"type\":\"ping\",\"signature\":\"" SIG_2024_01_15 "\"}]",
	        PING_INVALID_FORMAT);
	verdict(NAME, "null", PING_INVALID_FORMAT);
	verdict(NAME, "\"ping\"", PING_INVALID_FORMAT);
	verdict(NAME, "42", PING_INVALID_FORMAT);
	verdict(NAME, "{\"type\":\"ping\",\"signature\":\"" SIG_2024_01_15 "\"} {}",
	        PING_INVALID_FORMAT);
	verdict(NAME, "{\"type\":\"pong\"}", PING_INVALID_TYPE);
	verdict(NAME, "{\"type\":\"PING\",\"signature\":\"" SIG_2024_01_15 "\"}", PING_INVALID_TYPE);
	verdict(NAME, "{\"type\":\"ping \",\"signature\":\"" SIG_2024_01_15 "\"}", PING_INVALID_TYPE);
	verdict(NAME, "{\"signature\":\"" SIG_2024_01_15 "\"}", PING_INVALID_TYPE);
	verdict(NAME, "{}", PING_INVALID_TYPE);
	verdict(NAME, "{\"type\":1}", PING_INVALID_TYPE);
	verdict(NAME, "{\"type\":null,\"signature\":\"bad\"}", PING_INVALID_TYPE);
	verdict(NAME, "{\"Type\":\"ping\",\"signature\":\"" SIG_2024_01_15 "\"}", PING_INVALID_TYPE);
}

static void test_check_size(void)
{
	static char big[PING_MAX_MESSAGE + 2];
	const char *head = "{\"type\":\"ping\",\"signature\":\"" SIG_2024_01_15 "\",\"pad\":\"";
	size_t n = strlen(head);
	memcpy(big, head, n);
	memset(big + n, 'x', PING_MAX_MESSAGE - n - 2);
	memcpy(big + PING_MAX_MESSAGE - 2, "\"}", 3);
	CHECK_EQ_INT(strlen(big), PING_MAX_MESSAGE);
	verdict(NAME, big, PING_OK);
	memcpy(big + PING_MAX_MESSAGE - 2, "x\"}", 4);
	verdict(NAME, big, PING_INVALID_FORMAT);
}

static void reply_is(enum ping_verdict v, const char *want)
{
	char out[PING_REPLY_MAX];
	struct timespec ts = {.tv_sec = (time_t)INT64_C(1705314645), .tv_nsec = 123456789};
	size_t n = ping_reply(out, sizeof(out), v, &ts);
	CHECK_EQ_INT(n, strlen(want));
	CHECK(strcmp(out, want) == 0);
	if (strcmp(out, want) != 0)
		fprintf(stderr, "  got %s\n", out);
	CHECK_EQ_INT(ping_reply(out, strlen(want), v, &ts), 0); /* no room for the NUL */
	CHECK_EQ_INT(ping_reply(out, strlen(want) + 1, v, &ts), strlen(want));
}

static void test_replies(void)
{
	reply_is(PING_OK, "{\"type\":\"pong\",\"status\":\"ok\",\"timestamp\":\"2024-01-15T10:30:45.123Z\","
	                  "\"server_time\":\"2024-01-15T10:30:45.123Z\"}");
	reply_is(PING_INVALID_FORMAT, "{\"type\":\"error\",\"error\":\"invalid_format\","
	                              "\"timestamp\":\"2024-01-15T10:30:45.123Z\"}");
	reply_is(PING_INVALID_TYPE, "{\"type\":\"error\",\"error\":\"invalid_type\","
	                            "\"timestamp\":\"2024-01-15T10:30:45.123Z\"}");
	reply_is(PING_INVALID_SIGNATURE, "{\"type\":\"error\",\"error\":\"invalid_signature\","
	                                 "\"timestamp\":\"2024-01-15T10:30:45.123Z\"}");
	CHECK(strcmp(ping_verdict_code(PING_OK), "ok") == 0);
}

static void test_request(void)
{
	char out[PING_REQUEST_MAX];
	struct timespec ts = {.tv_sec = (time_t)INT64_C(1705314645), .tv_nsec = 123456789};
	const char *want = "{\"type\":\"ping\",\"signature\":\"" SIG_2024_01_15 "\","
	                   "\"timestamp\":\"2024-01-15T10:30:45.123Z\"}";
	size_t n = ping_request(out, sizeof(out), NAME, &ts);
	CHECK_EQ_INT(n, strlen(want));
	CHECK(strcmp(out, want) == 0);
	CHECK_EQ_INT(ping_check((const uint8_t *)out, n, NAME, INT64_C(1705314645)), PING_OK);
	CHECK_EQ_INT(ping_check((const uint8_t *)out, n, NAME, INT64_C(1705314645) + DAY), PING_OK);
	CHECK_EQ_INT(ping_check((const uint8_t *)out, n, NAME, INT64_C(1705314645) + 2 * DAY),
	             PING_INVALID_SIGNATURE);
	CHECK_EQ_INT(ping_request(out, 10, NAME, &ts), 0);
}

static void answer_is(const char *text, enum ping_answer want, const char *code)
{
	char got[PING_CODE_MAX];
	CHECK_EQ_INT(ping_answer_read((const uint8_t *)text, strlen(text), got), want);
	CHECK(strcmp(got, code) == 0);
	if (strcmp(got, code) != 0)
		fprintf(stderr, "  code %s, want %s\n", got, code);
}

static void test_answers(void)
{
	char reply[PING_REPLY_MAX];
	struct timespec ts = {.tv_sec = 1, .tv_nsec = 0};
	for (int v = PING_OK; v <= PING_INVALID_SIGNATURE; v++) {
		size_t n = ping_reply(reply, sizeof(reply), (enum ping_verdict)v, &ts);
		answer_is(reply, v == PING_OK ? PING_ANSWER_PONG : PING_ANSWER_ERROR,
		          v == PING_OK ? "" : ping_verdict_code((enum ping_verdict)v));
		CHECK(n > 0);
	}
	answer_is("{\"status\":\"ok\",\"type\":\"pong\"}", PING_ANSWER_PONG, "");
	answer_is("{\"type\":\"pong\"}", PING_ANSWER_UNKNOWN, "");
	answer_is("{\"type\":\"error\"}", PING_ANSWER_ERROR, "?");
	answer_is("{\"type\":\"error\",\"error\":7}", PING_ANSWER_ERROR, "?");
	answer_is("{\"type\":\"error\",\"error\":\"a\\u001b[31mb\\u00e9\"}", PING_ANSWER_ERROR,
	          "a?[31mb??");
	answer_is("{\"type\":\"error\",\"error\":\"0123456789012345678901234567890123456789\"}",
	          PING_ANSWER_ERROR, "0123456789012345678901234567890");
	answer_is("not json", PING_ANSWER_UNKNOWN, "");
	answer_is("[\"pong\"]", PING_ANSWER_UNKNOWN, "");
}

int main(void)
{
	TEST_RUN(test_dates);
	TEST_RUN(test_times);
	TEST_RUN(test_signatures);
	TEST_RUN(test_check_signature);
	TEST_RUN(test_check_lenient);
	TEST_RUN(test_check_order);
	TEST_RUN(test_check_size);
	TEST_RUN(test_replies);
	TEST_RUN(test_request);
	TEST_RUN(test_answers);
	return test_summary();
}
