/* pushbus_test.c — unit test of proto/pushbus.c: a header written and read
 * back with the body behind it, the default channel as "*", every field out
 * of its alphabet or bounds refused on both sides, truncations refused. */
#include "proto/pushbus.h"

#include "test/check.h"

#include <stdlib.h>

static struct pushbus_msg sample(void)
{
	struct pushbus_msg m = {.local = true, .json = true};
	strcpy(m.tag, "0123456789abcdef-4242");
	strcpy(m.time, "2024-01-15T10:30:45.123Z");
	strcpy(m.ip, "2001:db8::1");
	strcpy(m.topic, "news.eu");
	return m;
}

static void test_round_trip(void)
{
	char out[512];
	struct pushbus_msg m = sample(), r;
	size_t n = pushbus_head(out, sizeof(out), &m);
	static const char want[] =
		"wsferry-push/1 0123456789abcdef-4242 LJ 2024-01-15T10:30:45.123Z 2001:db8::1 news.eu\n";
	CHECK_EQ_INT(n, sizeof(want) - 1);
	CHECK_MEM(out, want, n);
	memcpy(out + n, "{\"message\":1}", 13);
	char *exact = malloc(n + 13); /* heap: ASan sees over-reads */
	memcpy(exact, out, n + 13);
	CHECK_EQ_INT(pushbus_parse(exact, n + 13, &r), PUSH_OK);
	CHECK(strcmp(r.tag, m.tag) == 0 && r.local && r.json && strcmp(r.time, m.time) == 0 &&
	      strcmp(r.ip, m.ip) == 0 && strcmp(r.topic, "news.eu") == 0);
	CHECK(r.body == exact + n && r.body_len == 13);
	free(exact);
	/* the default channel, a text body, published for the bus to deliver */
	m.topic[0] = '\0';
	m.local = m.json = false;
	n = pushbus_head(out, sizeof(out), &m);
	CHECK(n > 3 && memcmp(out + n - 3, " *\n", 3) == 0);
	out[n] = '\0';
	CHECK(strstr(out, "-4242 BT 2024-") != NULL);
	CHECK_EQ_INT(pushbus_parse(out, n, &r), PUSH_OK);
	CHECK(r.topic[0] == '\0' && !r.local && !r.json && r.body_len == 0);
	CHECK_EQ_INT(pushbus_head(out, 20, &m), 0);
}

static void test_head_refusals(void)
{
	char out[512];
	struct pushbus_msg m = sample();
	strcpy(m.tag, "Upper");
	CHECK_EQ_INT(pushbus_head(out, sizeof(out), &m), 0);
	m = sample();
	strcpy(m.ip, "1.2.3.4 x");
	CHECK_EQ_INT(pushbus_head(out, sizeof(out), &m), 0);
	m = sample();
	strcpy(m.topic, "a b");
	CHECK_EQ_INT(pushbus_head(out, sizeof(out), &m), 0);
	m = sample();
	m.time[0] = '\0';
	CHECK_EQ_INT(pushbus_head(out, sizeof(out), &m), 0);
}

static void test_parse_refusals(void)
{
	static const char *const bad[] = {
		"",
		"wsferry-push/1",
		"wsferry-push/2 t LJ 2024 1.2.3.4 *\n",
		"wsferry-push/1 t LJ 2024 1.2.3.4 *",           /* no LF */
		"wsferry-push/1 t XJ 2024 1.2.3.4 *\n",         /* flags */
		"wsferry-push/1 t LJJ 2024 1.2.3.4 *\n",
		"wsferry-push/1 T LJ 2024 1.2.3.4 *\n",         /* tag alphabet */
		"wsferry-push/1 t LJ 2024 1.2.3.4 *\n\n",       /* fine: body "\n" */
		"wsferry-push/1 t LJ 2024 1.2.3.4\n",           /* five fields */
		"wsferry-push/1 t LJ 2024 1.2.3.4 * x\n",       /* seven */
		"wsferry-push/1 t LJ 2024 1.2.3.4 a*b\n",       /* topic alphabet */
		"wsferry-push/1 t LJ 2024 1.2.3.4 \n",          /* empty topic */
		"wsferry-push/1 t LJ 2024  1.2.3.4 *\n",        /* double space */
		"wsferry-push/1 t LJ 2024 host *\n",            /* ip alphabet */
		"wsferry-push/1 t LJ 2024 1.2.3.4 *\r\n",
		"wsferry-push/1 t LJ 2024 1.2.3.4 * \n",       /* trailing space */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct pushbus_msg r;
		size_t len = strlen(bad[i]);
		char *exact = malloc(len ? len : 1);
		memcpy(exact, bad[i], len);
		CHECK_EQ_INT(pushbus_parse(exact, len, &r), i == 7 ? PUSH_OK : PUSH_ERR_BUS);
		free(exact);
	}
	/* a header past PUSHBUS_HEAD_MAX is refused even with its LF */
	char big[PUSHBUS_HEAD_MAX + 40];
	memset(big, 'a', sizeof(big));
	memcpy(big, "wsferry-push/1 ", 15);
	big[sizeof(big) - 1] = '\n';
	struct pushbus_msg r;
	CHECK_EQ_INT(pushbus_parse(big, sizeof(big), &r), PUSH_ERR_BUS);
	CHECK(strcmp(push_strerror(PUSH_ERR_BUS), "unknown error") != 0);
}

int main(void)
{
	TEST_RUN(test_round_trip);
	TEST_RUN(test_head_refusals);
	TEST_RUN(test_parse_refusals);
	return test_summary();
}
