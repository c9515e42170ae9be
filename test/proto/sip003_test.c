/* sip003_test.c — SS_PLUGIN_OPTIONS: options, values, escapes, empty
 * options skipped, every error, and the limits. */
#include "proto/sip003.h"

#include <string.h>

#include "test/check.h"

/* Collects "key=value|key|..." from s, or "ERR<rc>" at the first error. */
static void collect(const char *s, char *out, size_t cap)
{
	struct sip003_opt o;
	size_t pos = 0;
	out[0] = '\0';
	for (int i = 0; i < 64; i++) {
		enum sip003_rc rc = sip003_next(s, strlen(s), &pos, &o);
		size_t n = strlen(out);
		if (rc == SIP003_END)
			return;
		if (rc != SIP003_OPT) {
			snprintf(out + n, cap - n, "ERR%d", (int)rc);
			return;
		}
		snprintf(out + n, cap - n, o.has_value ? "%s=%s|" : "%s|", o.key, o.value);
	}
}

static void expect(const char *in, const char *want)
{
	char got[4096];
	collect(in, got, sizeof(got));
	CHECK(strcmp(got, want) == 0);
	if (strcmp(got, want) != 0)
		fprintf(stderr, "  %s -> %s, want %s\n", in, got, want);
}

static void test_options(void)
{
	expect("", "");
	expect("server", "server|");
	expect("server;tls;host=example.com;path=/ws",
	       "server|tls|host=example.com|path=/ws|");
	expect(";;ws;;path=/a;", "ws|path=/a|");
	expect("path=", "path=|");
	expect("a=b=c", "a=b=c|"); /* only the first '=' splits */
}

static void test_escapes(void)
{
	expect("path=/a\\;b;ws", "path=/a;b|ws|");
	expect("k\\=x=v\\=w", "k=x=v=w|");
	expect("cert=C:\\\\x", "cert=C:\\x|");
	expect("x\\y", "xy|"); /* any escaped character stands for itself */
}

static void test_errors(void)
{
	expect("path=/a\\", "ERR-2");
	expect("ws;=v", "ws|ERR-3");
	char big[SIP003_MAX_VALUE + 16] = "path=";
	memset(big + 5, 'a', SIP003_MAX_VALUE);
	big[5 + SIP003_MAX_VALUE] = '\0';
	char want[SIP003_MAX_VALUE + 32];
	snprintf(want, sizeof(want), "%s|", big);
	expect(big, want);
	strcat(big, "a");
	expect(big, "ERR-1");
	char key[SIP003_MAX_KEY + 8];
	memset(key, 'k', SIP003_MAX_KEY + 1);
	key[SIP003_MAX_KEY + 1] = '\0';
	expect(key, "ERR-1");
	CHECK(sip003_strerror(SIP003_ERR_ESCAPE) != NULL);
	expect("path=/a\nb", "ERR-4");
	struct sip003_opt o;
	size_t pos = 0;
	CHECK_EQ_INT(sip003_next("k\0v", 3, &pos, &o), SIP003_ERR_CONTROL); /* a NUL byte inside */
}

/* The position never runs past the input and END is sticky. */
static void test_end(void)
{
	struct sip003_opt o;
	size_t pos = 0;
	const char *s = "a;b";
	CHECK_EQ_INT(sip003_next(s, 3, &pos, &o), SIP003_OPT);
	CHECK_EQ_INT(pos, 2);
	CHECK_EQ_INT(sip003_next(s, 3, &pos, &o), SIP003_OPT);
	CHECK_EQ_INT(pos, 3);
	CHECK_EQ_INT(sip003_next(s, 3, &pos, &o), SIP003_END);
	CHECK_EQ_INT(sip003_next(s, 3, &pos, &o), SIP003_END);
	CHECK_EQ_INT(pos, 3);
}

int main(void)
{
	TEST_RUN(test_options);
	TEST_RUN(test_escapes);
	TEST_RUN(test_errors);
	TEST_RUN(test_end);
	return test_summary();
}
