/* url_test.c — the URL forms of SPEC.md: schemes, default ports, IPv6,
 * bare HOST:PORT, and every refusal with its hint. */
#include "proto/url.h"

#include <string.h>

#include "test/check.h"

static void ok(const char *s, enum url_scheme scheme, const char *host, unsigned port,
               const char *path)
{
	struct url u;
	const char *why = NULL;
	int rc = url_parse(s, &u, &why);
	CHECK_EQ_INT(rc, 0);
	if (rc != 0) {
		fprintf(stderr, "  %s: %s\n", s, why);
		return;
	}
	CHECK_EQ_INT(u.scheme, scheme);
	CHECK(strcmp(u.host, host) == 0);
	CHECK_EQ_INT(u.port, port);
	CHECK(strcmp(u.path, path) == 0);
}

static void bad(const char *s, const char *hint)
{
	struct url u;
	const char *why = NULL;
	CHECK_EQ_INT(url_parse(s, &u, &why), -1);
	CHECK(why != NULL && strstr(why, hint) != NULL);
	if (why && !strstr(why, hint))
		fprintf(stderr, "  %s: got \"%s\", wanted \"%s\"\n", s, why, hint);
}

static void test_valid(void)
{
	ok("ws://127.0.0.1:8080", URL_WS, "127.0.0.1", 8080, "/");
	ok("ws://example.com", URL_WS, "example.com", 80, "/");
	ok("wss://example.com", URL_WSS, "example.com", 443, "/");
	ok("tls://example.com", URL_TLS, "example.com", 443, "/");
	ok("wss://example.com:8443/tunnel/x", URL_WSS, "example.com", 8443, "/tunnel/x");
	ok("ws://[::1]:9000/p", URL_WS, "::1", 9000, "/p");
	ok("ws://[fe80::1%eth0]", URL_WS, "fe80::1%eth0", 80, "/");
	ok("localhost:1234", URL_WS, "localhost", 1234, "/");
	ok("[::1]:1234", URL_WS, "::1", 1234, "/");
	ok("ws://h:65535", URL_WS, "h", 65535, "/");
}

static void test_invalid(void)
{
	bad("http://example.com", "did you mean ws://");
	bad("https://example.com", "did you mean wss://");
	bad("ftp://x", "unknown scheme");
	bad("example.com", "needs a port");
	bad("ws://", "missing host");
	bad("ws://:80", "missing host");
	bad("ws://h:0", "port");
	bad("ws://h:65536", "port");
	bad("ws://h:80x", "port");
	bad("ws://h:", "port");
	bad("ws://::1:80", "brackets");
	bad("ws://[::1:80", "unclosed");
	bad("ws://[::1]x", "after ]");
	bad("ws://user:pw@h:80", "credentials");
	bad("ws://h:80/a?b", "query");
	bad("ws://h a:80", "invalid character");
	bad("tls://h:443/path", "no path");
}

static void test_port(void)
{
	uint16_t p = 0;
	CHECK_EQ_INT(url_parse_port("1", 1, &p), 0);
	CHECK_EQ_INT(p, 1);
	CHECK_EQ_INT(url_parse_port("065535", 6, &p), -1);
	CHECK_EQ_INT(url_parse_port("", 0, &p), -1);
	CHECK_EQ_INT(url_parse_port("-1", 2, &p), -1);
}

int main(void)
{
	TEST_RUN(test_valid);
	TEST_RUN(test_invalid);
	TEST_RUN(test_port);
	return test_summary();
}
