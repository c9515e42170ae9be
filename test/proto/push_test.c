/* push_test.c — proto/push.c: body checks (JSON and text, every refusal),
 * the exact frame text (plain and Socket.IO-wrapped, escapes), ?topic=
 * decoding and refusals, the key check, and every truncated output buffer. */
#include "proto/push.h"

#include <stdio.h>
#include <string.h>

#include "test/check.h"

static enum push_rc parse(const char *body, bool json, struct push_msg *m)
{
	return push_msg_parse(body, strlen(body), json, m);
}

static void test_parse(void)
{
	struct push_msg m;
	CHECK_EQ_INT(parse("{\"message\":\"hi\",\"sender\":\"me\"}", true, &m), PUSH_OK);
	CHECK(m.message_json && m.message_len == 4 && memcmp(m.message, "\"hi\"", 4) == 0);
	CHECK(m.sender_len == 4 && memcmp(m.sender, "\"me\"", 4) == 0);
	CHECK_EQ_INT(parse(" { \"sender\" : null , \"message\" : [1, {\"a\":2}] } ", true, &m), PUSH_OK);
	CHECK(m.sender == NULL && m.message_len == 12);
	CHECK_EQ_INT(parse("plain text", false, &m), PUSH_OK);
	CHECK(!m.message_json && m.message_len == 10);
	CHECK_EQ_INT(parse("{\"message\":\"x\"", true, &m), PUSH_ERR_JSON);
	CHECK_EQ_INT(parse("[\"message\"]", true, &m), PUSH_ERR_JSON);
	CHECK_EQ_INT(parse("", true, &m), PUSH_ERR_JSON);
	CHECK_EQ_INT(parse("{\"sender\":\"x\"}", true, &m), PUSH_ERR_NO_MESSAGE);
	CHECK_EQ_INT(parse("", false, &m), PUSH_ERR_NO_MESSAGE);
	CHECK_EQ_INT(parse("{\"message\":\"\xff\"}", true, &m), PUSH_ERR_UTF8);
	CHECK_EQ_INT(parse("caf\xc3", false, &m), PUSH_ERR_UTF8);
	CHECK_EQ_INT(parse("\xed\xa0\x80", false, &m), PUSH_ERR_UTF8); /* a surrogate */
	CHECK_EQ_INT(parse("{\"message\":1,\"sender\":2}", true, &m), PUSH_ERR_SENDER);
	char big[300];
	snprintf(big, sizeof(big), "{\"message\":1,\"sender\":\"%0200d\"}", 0);
	CHECK_EQ_INT(parse(big, true, &m), PUSH_ERR_SENDER);
	CHECK(strlen(push_strerror(PUSH_ERR_UTF8)) > 0);
}

static void test_frame(void)
{
	struct push_msg m;
	char out[512];
	parse("{\"message\":\"hi\",\"sender\":\"me\"}", true, &m);
	size_t n = push_frame_text(out, sizeof(out), &m, "news", "2024-01-15T10:30:45.123Z", NULL,
	                           NULL);
	const char *want = "{\"type\":\"message\",\"topic\":\"news\",\"sender\":\"me\",\"message\":"
	                   "\"hi\",\"time\":\"2024-01-15T10:30:45.123Z\"}";
	CHECK(n == strlen(want) && memcmp(out, want, n) == 0);
	/* every shorter buffer is refused, never truncated */
	for (size_t cap = 0; cap < n; cap++)
		CHECK_EQ_INT(push_frame_text(out, cap, &m, "news", "2024-01-15T10:30:45.123Z", NULL, NULL),
		             0);
	parse("a\"b\\c\n<d>&\x01", false, &m);
	n = push_frame_text(out, sizeof(out), &m, "", "T", "42[\"message\",", "]");
	want = "42[\"message\",{\"type\":\"message\",\"topic\":null,\"sender\":null,\"message\":"
	       "\"a\\\"b\\\\c\\u000a\\u003cd\\u003e\\u0026\\u0001\",\"time\":\"T\"}]";
	CHECK(n == strlen(want) && memcmp(out, want, n) == 0);
	if (n != strlen(want) || memcmp(out, want, n) != 0)
		fprintf(stderr, "  got %.*s\n", (int)n, out);
}

static int topic(const char *target, char out[PUSH_TOPIC_MAX + 1])
{
	return push_topic(target, strlen(target), out);
}

static void test_topic(void)
{
	char t[PUSH_TOPIC_MAX + 1];
	CHECK_EQ_INT(topic("/push", t), 0);
	CHECK(t[0] == '\0');
	CHECK_EQ_INT(topic("/push?a=1&topic=news&b", t), 4);
	CHECK(strcmp(t, "news") == 0);
	CHECK_EQ_INT(topic("/push?topic=a%2db_c.d~", t), 8);
	CHECK(strcmp(t, "a-b_c.d~") == 0);
	CHECK_EQ_INT(topic("/push?topics=x", t), 0);
	CHECK_EQ_INT(topic("/push?topic=", t), PUSH_ERR_TOPIC);
	CHECK_EQ_INT(topic("/push?topic=a%2Fb", t), PUSH_ERR_TOPIC);
	CHECK_EQ_INT(topic("/push?topic=a%2", t), PUSH_ERR_TOPIC);
	CHECK_EQ_INT(topic("/push?topic=%zz", t), PUSH_ERR_TOPIC);
	CHECK_EQ_INT(topic("/push?topic=a b", t), PUSH_ERR_TOPIC);
	char long_topic[128];
	snprintf(long_topic, sizeof(long_topic), "/?topic=%064d", 0);
	CHECK_EQ_INT(topic(long_topic, t), 64);
	snprintf(long_topic, sizeof(long_topic), "/?topic=%065d", 0);
	CHECK_EQ_INT(topic(long_topic, t), PUSH_ERR_TOPIC);
	size_t vlen = 0;
	const char *v = push_query_param("/socket.io/?EIO=4&transport=websocket", 37, "transport",
	                                 &vlen);
	CHECK(v && vlen == 9 && memcmp(v, "websocket", 9) == 0);
	CHECK(push_query_param("/x?EIO=4", 8, "transport", &vlen) == NULL);
}

static void test_key(void)
{
	uint8_t h[PUSH_KEY_HASH_LEN];
	push_key_hash("s3cret-key-0123456789", 21, h);
	CHECK(push_key_match(h, "s3cret-key-0123456789", 21));
	CHECK(!push_key_match(h, "s3cret-key-012345678", 20));
	CHECK(!push_key_match(h, "s3cret-key-01234567890", 22));
	CHECK(!push_key_match(h, "", 0));
	char q[16];
	CHECK_EQ_INT(push_json_quote(q, sizeof(q), "a\"b", 3), 6);
	CHECK_EQ_INT(push_json_quote(q, 5, "a\"b", 3), 0);
}

int main(void)
{
	TEST_RUN(test_parse);
	TEST_RUN(test_frame);
	TEST_RUN(test_topic);
	TEST_RUN(test_key);
	return test_summary();
}
