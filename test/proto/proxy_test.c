/* proxy_test.c — unit test of proto/proxy.c: CONNECT targets and absolute
 * URIs (good and bad), the forwarded head with every hop-by-hop field,
 * Basic auth, the 407 and error responses, the body-length rules, and the
 * chunked skipper at every split point and against a guard page. */
#include "proto/proxy.h"

#include "test/check.h"

#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static struct http_slice slice(const char *s)
{
	return (struct http_slice){ s, strlen(s) };
}

static bool slice_is(struct http_slice s, const char *want)
{
	return s.len == strlen(want) && memcmp(s.p, want, s.len) == 0;
}

/* ---- targets ---- */

struct target_case {
	const char *in;
	enum proxy_rc rc;
	const char *host;
	unsigned port;
	bool v6;
};

static void test_connect_targets(void)
{
	static const struct target_case cases[] = {
		{ "example.com:443", PROXY_OK, "example.com", 443, false },
		{ "EXAMPLE.com:1", PROXY_OK, "EXAMPLE.com", 1, false },
		{ "127.0.0.1:8080", PROXY_OK, "127.0.0.1", 8080, false },
		{ "my_host-1.lan:00443", PROXY_OK, "my_host-1.lan", 443, false },
		{ "[::1]:443", PROXY_OK, "::1", 443, true },
		{ "[2001:db8::1]:65535", PROXY_OK, "2001:db8::1", 65535, true },
		{ "[::ffff:192.0.2.1]:80", PROXY_OK, "::ffff:192.0.2.1", 80, true },
		{ "example.com", PROXY_ERR_PORT, NULL, 0, false },
		{ "example.com:", PROXY_ERR_PORT, NULL, 0, false },
		{ "example.com:0", PROXY_ERR_PORT, NULL, 0, false },
		{ "example.com:65536", PROXY_ERR_PORT, NULL, 0, false },
		{ "example.com:443x", PROXY_ERR_PORT, NULL, 0, false },
		{ "example.com:+443", PROXY_ERR_PORT, NULL, 0, false },
		{ "example.com:000443", PROXY_ERR_PORT, NULL, 0, false },
		{ "[::1]", PROXY_ERR_PORT, NULL, 0, false },
		{ "[::1]:", PROXY_ERR_PORT, NULL, 0, false },
		{ ":443", PROXY_ERR_HOST, NULL, 0, false },
		{ "::1:443", PROXY_ERR_HOST, NULL, 0, false },
		{ "[::1]443", PROXY_ERR_HOST, NULL, 0, false },
		{ "[::1:443", PROXY_ERR_HOST, NULL, 0, false },
		{ "[]:443", PROXY_ERR_HOST, NULL, 0, false },
		{ "[fe80::1%25eth0]:443", PROXY_ERR_HOST, NULL, 0, false },
		{ "[example.com]:443", PROXY_ERR_HOST, NULL, 0, false },
		{ "[v1.x]:443", PROXY_ERR_HOST, NULL, 0, false },
		{ "exa%6dple.com:443", PROXY_ERR_HOST, NULL, 0, false },
		{ "exa\"mple.com:443", PROXY_ERR_HOST, NULL, 0, false },
		{ "user@example.com:443", PROXY_ERR_TARGET, NULL, 0, false },
		{ "http://example.com:443", PROXY_ERR_TARGET, NULL, 0, false },
		{ "example.com:443/", PROXY_ERR_TARGET, NULL, 0, false },
		{ "/", PROXY_ERR_TARGET, NULL, 0, false },
		{ "", PROXY_ERR_TARGET, NULL, 0, false },
	};

	for (size_t i = 0; i < COUNT(cases); i++) {
		const struct target_case *c = &cases[i];
		struct proxy_target t;
		enum proxy_rc rc = proxy_parse_connect(slice(c->in), &t);
		CHECK_EQ_INT(rc, c->rc);
		if (rc != c->rc)
			fprintf(stderr, "  target \"%s\"\n", c->in);
		if (rc != PROXY_OK || c->rc != PROXY_OK)
			continue;
		CHECK(slice_is(t.host, c->host));
		CHECK(t.host.p >= c->in && t.host.p < c->in + strlen(c->in));
		CHECK_EQ_INT(t.port, c->port);
		CHECK_EQ_INT(t.host_is_v6, c->v6);
	}
}

static void test_host_length(void)
{
	static char s[PROXY_MAX_HOST + 8];
	struct proxy_target t;

	memset(s, 'a', PROXY_MAX_HOST);
	memcpy(s + PROXY_MAX_HOST, ":80", 4);
	CHECK_EQ_INT(proxy_parse_connect(slice(s), &t), PROXY_OK);
	CHECK_EQ_INT(t.host.len, PROXY_MAX_HOST);
	memset(s, 'a', PROXY_MAX_HOST + 1);
	memcpy(s + PROXY_MAX_HOST + 1, ":80", 4);
	CHECK_EQ_INT(proxy_parse_connect(slice(s), &t), PROXY_ERR_HOST);
}

struct uri_case {
	const char *in;
	enum proxy_rc rc;
	const char *host;
	unsigned port;
	bool v6;
	const char *path;
	const char *query;
};

static void check_uri(const struct uri_case *c)
{
	struct proxy_uri u;
	enum proxy_rc rc = proxy_parse_absolute(slice(c->in), &u);

	CHECK_EQ_INT(rc, c->rc);
	if (rc != c->rc)
		fprintf(stderr, "  uri \"%s\"\n", c->in);
	if (rc != PROXY_OK || c->rc != PROXY_OK)
		return;
	CHECK(slice_is(u.dest.host, c->host));
	CHECK_EQ_INT(u.dest.port, c->port);
	CHECK_EQ_INT(u.dest.host_is_v6, c->v6);
	CHECK(slice_is(u.path, c->path));
	CHECK(slice_is(u.query, c->query));
	CHECK(u.query.p >= c->in && u.query.p <= c->in + strlen(c->in));
}

static void test_absolute_uris(void)
{
	static const struct uri_case cases[] = {
		{ "http://example.com/x?y=1", PROXY_OK, "example.com", 80, false, "/x", "?y=1" },
		{ "HTTP://Example.COM:8080", PROXY_OK, "Example.COM", 8080, false, "/", "" },
		{ "hTtP://example.com?q", PROXY_OK, "example.com", 80, false, "/", "?q" },
		{ "http://example.com:/a", PROXY_OK, "example.com", 80, false, "/a", "" },
		{ "http://example.com/a/b/?c?d/e", PROXY_OK, "example.com", 80, false, "/a/b/", "?c?d/e" },
		{ "http://example.com/?", PROXY_OK, "example.com", 80, false, "/", "?" },
		{ "http://[::1]:8080/a/b", PROXY_OK, "::1", 8080, true, "/a/b", "" },
		{ "http://[2001:db8::7]/", PROXY_OK, "2001:db8::7", 80, true, "/", "" },
		{ "http://[2001:db8::7]", PROXY_OK, "2001:db8::7", 80, true, "/", "" },
		{ "http://127.0.0.1/%7Euser", PROXY_OK, "127.0.0.1", 80, false, "/%7Euser", "" },
		{ "http://exa_mple.com:65535//x", PROXY_OK, "exa_mple.com", 65535, false, "//x", "" },
		{ "https://example.com/", PROXY_ERR_HTTPS, NULL, 0, false, NULL, NULL },
		{ "HTTPS://example.com:443", PROXY_ERR_HTTPS, NULL, 0, false, NULL, NULL },
		{ "ftp://example.com/", PROXY_ERR_SCHEME, NULL, 0, false, NULL, NULL },
		{ "ws://example.com/", PROXY_ERR_SCHEME, NULL, 0, false, NULL, NULL },
		{ "git+ssh://example.com/", PROXY_ERR_SCHEME, NULL, 0, false, NULL, NULL },
		{ "example.com:80", PROXY_ERR_SCHEME, NULL, 0, false, NULL, NULL },
		{ "/index.html", PROXY_ERR_NOT_ABSOLUTE, NULL, 0, false, NULL, NULL },
		{ "*", PROXY_ERR_NOT_ABSOLUTE, NULL, 0, false, NULL, NULL },
		{ "1http://x/", PROXY_ERR_NOT_ABSOLUTE, NULL, 0, false, NULL, NULL },
		{ "", PROXY_ERR_NOT_ABSOLUTE, NULL, 0, false, NULL, NULL },
		{ "http:example.com", PROXY_ERR_URI, NULL, 0, false, NULL, NULL },
		{ "http:/example.com/", PROXY_ERR_URI, NULL, 0, false, NULL, NULL },
		{ "http://user:pw@example.com/", PROXY_ERR_URI, NULL, 0, false, NULL, NULL },
		{ "http://@example.com/", PROXY_ERR_URI, NULL, 0, false, NULL, NULL },
		{ "http://example.com/#frag", PROXY_ERR_URI, NULL, 0, false, NULL, NULL },
		{ "http://example.com#frag", PROXY_ERR_URI, NULL, 0, false, NULL, NULL },
		{ "http://example.com/?a#b", PROXY_ERR_URI, NULL, 0, false, NULL, NULL },
		{ "http:///path", PROXY_ERR_HOST, NULL, 0, false, NULL, NULL },
		{ "http://", PROXY_ERR_HOST, NULL, 0, false, NULL, NULL },
		{ "http://:80/", PROXY_ERR_HOST, NULL, 0, false, NULL, NULL },
		{ "http://[::1/", PROXY_ERR_HOST, NULL, 0, false, NULL, NULL },
		{ "http://[::1]x/", PROXY_ERR_HOST, NULL, 0, false, NULL, NULL },
		{ "http://[::g]/", PROXY_ERR_HOST, NULL, 0, false, NULL, NULL },
		{ "http://a:b:c/", PROXY_ERR_HOST, NULL, 0, false, NULL, NULL },
		{ "http://exa!mple/", PROXY_ERR_HOST, NULL, 0, false, NULL, NULL },
		{ "http://example.com:99999/", PROXY_ERR_PORT, NULL, 0, false, NULL, NULL },
		{ "http://example.com:0/", PROXY_ERR_PORT, NULL, 0, false, NULL, NULL },
		{ "http://example.com:x/", PROXY_ERR_PORT, NULL, 0, false, NULL, NULL },
	};

	for (size_t i = 0; i < COUNT(cases); i++)
		check_uri(&cases[i]);
}

/* ---- forwarded head ---- */

/* Parses req, rewrites it and compares with want; also checks that every
 * smaller buffer gives 0 without writing past its end. */
static void check_forward(const char *req_text, bool keep_alive, const char *want)
{
	static struct http_request req;
	static char out[2048];
	struct proxy_uri u;
	size_t len = strlen(req_text), want_len = strlen(want);

	CHECK_EQ_INT(http_parse_request(req_text, len, &req), len);
	CHECK_EQ_INT(proxy_parse_absolute(req.target, &u), PROXY_OK);
	size_t n = proxy_forward_head(out, sizeof out, &req, &u, keep_alive);
	CHECK_EQ_INT(n, want_len);
	CHECK(n == want_len && memcmp(out, want, n) == 0);
	if (n != want_len || memcmp(out, want, n) != 0)
		fprintf(stderr, "  got:\n%.*s\n", (int)n, out);

	bool bounded = true;
	for (size_t cap = 0; cap < want_len; cap++) {
		memset(out, '#', sizeof out);
		bounded &= proxy_forward_head(out, cap, &req, &u, keep_alive) == 0;
		bounded &= out[cap] == '#';
	}
	CHECK(bounded);
	CHECK_EQ_INT(proxy_forward_head(out, want_len, &req, &u, keep_alive), want_len);
}

static void test_forward_head(void)
{
	check_forward("GET http://example.com:8080/a?b=1 HTTP/1.1\r\n"
	              "Host: wrong.example\r\n"
	              "User-Agent: t\r\n"
	              "Proxy-Connection: keep-alive\r\n"
	              "Proxy-Authorization: Basic dTpw\r\n"
	              "Connection: X-Secret, keep-alive, Content-Length\r\n"
	              "X-Secret: 1\r\n"
	              "Keep-Alive: timeout=5\r\n"
	              "TE: trailers\r\n"
	              "Trailer: X-Sum\r\n"
	              "Upgrade: h2c\r\n"
	              "Accept: */*\r\n"
	              "Content-Length: 5\r\n"
	              "connection: x-other\r\n"
	              "x-OTHER: 2\r\n"
	              "X-Secret-Not: 3\r\n"
	              "Proxy-Authenticate: Basic\r\n"
	              "HOST: another\r\n"
	              "\r\n",
	              true,
	              "GET /a?b=1 HTTP/1.1\r\n"
	              "Host: example.com:8080\r\n"
	              "User-Agent: t\r\n"
	              "Accept: */*\r\n"
	              "Content-Length: 5\r\n"
	              "X-Secret-Not: 3\r\n"
	              "Connection: keep-alive\r\n"
	              "\r\n");
	/* No Host from a 1.0 client: one is made from the URI; 80 not written. */
	check_forward("GET http://[::1]:80 HTTP/1.0\r\n\r\n", false,
	              "GET / HTTP/1.0\r\nHost: [::1]\r\nConnection: close\r\n\r\n");
	check_forward("HEAD http://h?x HTTP/1.1\r\nX-Empty:\r\n\r\n", false,
	              "HEAD /?x HTTP/1.1\r\nHost: h\r\nX-Empty: \r\nConnection: close\r\n\r\n");
	/* The body's framing travels with it, even when Connection names it. */
	check_forward("POST http://h:81/p HTTP/1.1\r\nTransfer-Encoding: chunked\r\n"
	              "Connection: Transfer-Encoding, Content-Length, close\r\n\r\n",
	              false,
	              "POST /p HTTP/1.1\r\nHost: h:81\r\nTransfer-Encoding: chunked\r\n"
	              "Connection: close\r\n\r\n");
}

static bool keep_alive_of(const char *req_text)
{
	static struct http_request req;

	CHECK_EQ_INT(http_parse_request(req_text, strlen(req_text), &req), strlen(req_text));
	return proxy_keep_alive(req.minor_version, req.headers, req.nheaders);
}

static void test_keep_alive(void)
{
	CHECK(keep_alive_of("GET / HTTP/1.1\r\n\r\n"));
	CHECK(keep_alive_of("GET / HTTP/1.1\r\nConnection: Upgrade\r\n\r\n"));
	CHECK(!keep_alive_of("GET / HTTP/1.1\r\nConnection: close\r\n\r\n"));
	CHECK(!keep_alive_of("GET / HTTP/1.1\r\nConnection: Keep-Alive, Close\r\n\r\n"));
	CHECK(!keep_alive_of("GET / HTTP/1.1\r\nProxy-Connection: close\r\n\r\n"));
	CHECK(!keep_alive_of("GET / HTTP/1.0\r\n\r\n"));
	CHECK(keep_alive_of("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
	CHECK(keep_alive_of("GET / HTTP/1.0\r\nProxy-Connection: Keep-Alive\r\n\r\n"));
	CHECK(!keep_alive_of("GET / HTTP/1.0\r\nKeep-Alive: timeout=5\r\n\r\n"));
}

/* ---- authentication ---- */

static bool auth_of(const char *value, const char *user, const char *pass)
{
	static struct http_request req;
	static char text[1024];

	snprintf(text, sizeof text, "GET http://h/ HTTP/1.1\r\nProxy-Authorization: %s\r\n\r\n", value);
	CHECK_EQ_INT(http_parse_request(text, strlen(text), &req), strlen(text));
	return proxy_auth_ok(&req, user, pass);
}

static void test_basic_auth(void)
{
	static struct http_request req;
	static char long_token[800];
	const char *no_auth = "GET http://h/ HTTP/1.1\r\nAuthorization: Basic dXNlcjpwYXNz\r\n\r\n";

	CHECK(auth_of("Basic dXNlcjpwYXNz", "user", "pass"));
	CHECK(auth_of("basic  dXNlcjpwYXNz", "user", "pass"));
	CHECK(auth_of("BASIC dXNlcjpwYTpzcw==", "user", "pa:ss")); /* ':' in the password */
	CHECK(auth_of("Basic OnBhc3M=", "", "pass"));
	CHECK(auth_of("Basic dXNlcjo=", "user", ""));
	CHECK(!auth_of("Basic dXNlcjp3cm9uZw==", "user", "pass"));
	CHECK(!auth_of("Basic dXNlcjpwYXNz", "user", "pas"));
	CHECK(!auth_of("Basic dXNlcjpwYXNz", "use", "pass"));
	CHECK(!auth_of("Basic dXNlcnBhc3M=", "user", "pass"));  /* no ':' at all */
	CHECK(!auth_of("Basic dXNlcjpwYXNz!", "user", "pass")); /* not base64 */
	CHECK(!auth_of("Basic dXNlcjpwYXN", "user", "pass"));   /* truncated */
	CHECK(!auth_of("Basic", "user", "pass"));
	CHECK(!auth_of("Basic ", "user", "pass"));
	CHECK(!auth_of("Basicx dXNlcjpwYXNz", "user", "pass"));
	CHECK(!auth_of("Basic\tdXNlcjpwYXNz", "user", "pass"));
	CHECK(!auth_of("Bearer dXNlcjpwYXNz", "user", "pass"));
	CHECK(!auth_of("Digest username=\"user\"", "user", "pass"));

	/* Longer than any user:pass we accept: refused without overflow. */
	memcpy(long_token, "Basic ", 6);
	memset(long_token + 6, 'A', 700);
	long_token[706] = '\0';
	CHECK(!auth_of(long_token, "user", "pass"));

	CHECK_EQ_INT(http_parse_request(no_auth, strlen(no_auth), &req), strlen(no_auth));
	CHECK(!proxy_auth_ok(&req, "user", "pass")); /* Authorization is the origin's */
}

/* ---- responses ---- */

/* A response must parse as one, with a Content-Length equal to its body. */
static void check_response_shape(const char *out, size_t n, int status)
{
	static struct http_response resp;
	size_t scanned = 0;
	int end = http_head_end(out, n, &scanned);

	CHECK(end > 0);
	if (end <= 0)
		return;
	CHECK_EQ_INT(http_parse_response(out, (size_t)end, &resp), end);
	CHECK_EQ_INT(resp.status, status);
	const struct http_header *cl = http_find(resp.headers, resp.nheaders, "Content-Length");
	CHECK(cl != NULL);
	if (cl) {
		char digits[16];
		snprintf(digits, sizeof digits, "%zu", n - (size_t)end);
		CHECK(slice_is(cl->value, digits));
	}
	const struct http_header *conn = http_find(resp.headers, resp.nheaders, "Connection");
	CHECK(conn && slice_is(conn->value, "close"));
	CHECK(memmem(out, n, "wsferry", 7) == NULL);
}

static void test_responses(void)
{
	static char out[512];
	static const int statuses[] = { 400, 403, 405, 502, 504 };
	const char *want407 = "HTTP/1.1 407 Proxy Authentication Required\r\n"
	                      "Proxy-Authenticate: Basic realm=\"proxy\"\r\n"
	                      "Content-Type: text/plain\r\n"
	                      "Content-Length: 30\r\n"
	                      "Connection: close\r\n"
	                      "\r\n"
	                      "proxy authentication required\n";
	size_t n = proxy_response_407(out, sizeof out);

	CHECK_EQ_INT(n, strlen(want407));
	CHECK(n == strlen(want407) && memcmp(out, want407, n) == 0);
	check_response_shape(out, n, 407);
	for (size_t cap = 0; cap < strlen(want407); cap++)
		CHECK_EQ_INT(proxy_response_407(out, cap), 0);

	n = proxy_response_error(out, sizeof out, 502, "connection refused by the destination");
	const char *want502 = "HTTP/1.1 502 Bad Gateway\r\n"
	                      "Content-Type: text/plain\r\n"
	                      "Content-Length: 38\r\n"
	                      "Connection: close\r\n"
	                      "\r\n"
	                      "connection refused by the destination\n";
	CHECK_EQ_INT(n, strlen(want502));
	CHECK(n == strlen(want502) && memcmp(out, want502, n) == 0);
	for (size_t i = 0; i < COUNT(statuses); i++) {
		n = proxy_response_error(out, sizeof out, statuses[i], NULL);
		CHECK(n > 0 && n < 256);
		check_response_shape(out, n, statuses[i]);
		n = proxy_response_error(out, 256, statuses[i], proxy_strerror(PROXY_ERR_HTTPS));
		CHECK(n > 0);
		check_response_shape(out, n, statuses[i]);
	}
	CHECK_EQ_INT(proxy_response_error(out, 20, 400, NULL), 0);
	CHECK(strcmp(PROXY_CONNECT_OK, "HTTP/1.1 200 Connection established\r\n\r\n") == 0);
}

/* ---- body rules ---- */

struct body_case {
	const char *head;
	enum proxy_rc rc;
	enum proxy_body_kind kind;
	uint64_t length;
};

static void test_request_body_rules(void)
{
	static const struct body_case cases[] = {
		{ "GET / HTTP/1.1\r\n\r\n", PROXY_OK, PROXY_BODY_NONE, 0 },
		{ "POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\n", PROXY_OK, PROXY_BODY_LENGTH, 10 },
		{ "POST / HTTP/1.0\r\nContent-Length: 0\r\n\r\n", PROXY_OK, PROXY_BODY_LENGTH, 0 },
		{ "POST / HTTP/1.1\r\nContent-Length: 007\r\n\r\n", PROXY_OK, PROXY_BODY_LENGTH, 7 },
		{ "POST / HTTP/1.1\r\nContent-Length: 18446744073709551615\r\n\r\n", PROXY_OK,
		  PROXY_BODY_LENGTH, UINT64_MAX },
		{ "POST / HTTP/1.1\r\nContent-Length: 18446744073709551616\r\n\r\n", PROXY_ERR_TOO_BIG, 0,
		  0 },
		{ "POST / HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n", PROXY_ERR_TOO_BIG,
		  0, 0 },
		{ "POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", PROXY_ERR_LENGTH, 0, 0 },
		{ "POST / HTTP/1.1\r\nContent-Length: +5\r\n\r\n", PROXY_ERR_LENGTH, 0, 0 },
		{ "POST / HTTP/1.1\r\nContent-Length: 0x5\r\n\r\n", PROXY_ERR_LENGTH, 0, 0 },
		{ "POST / HTTP/1.1\r\nContent-Length: 1 2\r\n\r\n", PROXY_ERR_LENGTH, 0, 0 },
		{ "POST / HTTP/1.1\r\nContent-Length: 5, 5\r\n\r\n", PROXY_ERR_LENGTH, 0, 0 },
		{ "POST / HTTP/1.1\r\nContent-Length:\r\n\r\n", PROXY_ERR_LENGTH, 0, 0 },
		{ "POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n", PROXY_ERR_LENGTH, 0,
		  0 },
		{ "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", PROXY_OK, PROXY_BODY_CHUNKED, 0 },
		{ "POST / HTTP/1.1\r\nTransfer-Encoding: Chunked\r\n\r\n", PROXY_OK, PROXY_BODY_CHUNKED, 0 },
		{ "POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", PROXY_OK,
		  PROXY_BODY_CHUNKED, 0 },
		{ "POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n",
		  PROXY_OK, PROXY_BODY_CHUNKED, 0 },
		{ "POST / HTTP/1.1\r\nTransfer-Encoding: , chunked ,\r\n\r\n", PROXY_OK,
		  PROXY_BODY_CHUNKED, 0 },
		{ "POST / HTTP/1.1\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", PROXY_ERR_FRAMING, 0, 0 },
		{ "POST / HTTP/1.1\r\nTransfer-Encoding: chunked, chunked\r\n\r\n", PROXY_ERR_FRAMING, 0,
		  0 },
		{ "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
		  PROXY_ERR_FRAMING, 0, 0 },
		{ "POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", PROXY_ERR_FRAMING, 0, 0 },
		{ "POST / HTTP/1.1\r\nTransfer-Encoding: chunked;x=1\r\n\r\n", PROXY_ERR_FRAMING, 0, 0 },
		{ "POST / HTTP/1.1\r\nTransfer-Encoding:\r\n\r\n", PROXY_ERR_FRAMING, 0, 0 },
		{ "POST / HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
		  PROXY_ERR_FRAMING, 0, 0 },
		{ "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: x\r\n\r\n",
		  PROXY_ERR_FRAMING, 0, 0 },
		{ "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", PROXY_ERR_FRAMING, 0, 0 },
		{ "CONNECT h:443 HTTP/1.1\r\nContent-Length: 5\r\n\r\n", PROXY_OK, PROXY_BODY_NONE, 0 },
	};
	static struct http_request req;

	for (size_t i = 0; i < COUNT(cases); i++) {
		const struct body_case *c = &cases[i];
		struct proxy_body b = { PROXY_BODY_CLOSE, 99 };
		CHECK_EQ_INT(http_parse_request(c->head, strlen(c->head), &req), strlen(c->head));
		enum proxy_rc rc = proxy_request_body(&req, &b);
		CHECK_EQ_INT(rc, c->rc);
		if (rc != c->rc)
			fprintf(stderr, "  request %zu: %s", i, c->head);
		if (rc == PROXY_OK) {
			CHECK_EQ_INT(b.kind, c->kind);
			CHECK(b.length == c->length);
		}
	}
}

struct response_case {
	const char *method;
	const char *head;
	enum proxy_rc rc;
	enum proxy_body_kind kind;
	uint64_t length;
};

static void test_response_body_rules(void)
{
	static const struct response_case cases[] = {
		{ "HEAD", "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n", PROXY_OK, PROXY_BODY_NONE, 0 },
		{ "HEAD", "HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n", PROXY_OK, PROXY_BODY_NONE, 0 },
		{ "GET", "HTTP/1.1 204 No Content\r\n\r\n", PROXY_OK, PROXY_BODY_NONE, 0 },
		{ "GET", "HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n", PROXY_OK,
		  PROXY_BODY_NONE, 0 },
		{ "POST", "HTTP/1.1 100 Continue\r\n\r\n", PROXY_OK, PROXY_BODY_NONE, 0 },
		{ "GET", "HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n", PROXY_OK, PROXY_BODY_NONE, 0 },
		{ "GET", "HTTP/1.1 101 Switching Protocols\r\n\r\n", PROXY_OK, PROXY_BODY_CLOSE, 0 },
		{ "CONNECT", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", PROXY_OK, PROXY_BODY_CLOSE,
		  0 },
		{ "CONNECT", "HTTP/1.1 407 No\r\nContent-Length: 5\r\n\r\n", PROXY_OK, PROXY_BODY_LENGTH,
		  5 },
		{ "GET", "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n", PROXY_OK, PROXY_BODY_LENGTH, 10 },
		{ "GET", "HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", PROXY_OK, PROXY_BODY_LENGTH, 0 },
		{ "GET", "HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n", PROXY_OK,
		  PROXY_BODY_CHUNKED, 0 },
		{ "GET", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", PROXY_OK, PROXY_BODY_CLOSE,
		  0 },
		{ "GET", "HTTP/1.1 200 OK\r\n\r\n", PROXY_OK, PROXY_BODY_CLOSE, 0 },
		{ "GET", "HTTP/1.0 200 OK\r\n\r\n", PROXY_OK, PROXY_BODY_CLOSE, 0 },
		{ "GET", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
		  PROXY_ERR_FRAMING, 0, 0 },
		{ "GET", "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", PROXY_ERR_FRAMING, 0, 0 },
		{ "GET", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, chunked\r\n\r\n",
		  PROXY_ERR_FRAMING, 0, 0 },
		{ "GET", "HTTP/1.1 200 OK\r\nContent-Length: 1,1\r\n\r\n", PROXY_ERR_LENGTH, 0, 0 },
		{ "GET", "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
		  PROXY_ERR_LENGTH, 0, 0 },
	};
	static struct http_response resp;

	for (size_t i = 0; i < COUNT(cases); i++) {
		const struct response_case *c = &cases[i];
		struct proxy_body b = { PROXY_BODY_NONE, 99 };
		CHECK_EQ_INT(http_parse_response(c->head, strlen(c->head), &resp), strlen(c->head));
		enum proxy_rc rc = proxy_response_body(slice(c->method), &resp, &b);
		CHECK_EQ_INT(rc, c->rc);
		if (rc != c->rc)
			fprintf(stderr, "  response %zu: %s", i, c->head);
		if (rc == PROXY_OK) {
			CHECK_EQ_INT(b.kind, c->kind);
			CHECK(b.length == c->length);
		}
	}
}

/* ---- chunked skipper ---- */

/* Feeds body as a first piece of `first` bytes, then pieces of `step`;
 * returns the final rc and how many bytes the body took. */
static int chunked_run(const char *body, size_t len, size_t first, size_t step, size_t *taken)
{
	struct proxy_chunked c = { 0 };
	size_t at = 0;
	int rc = PROXY_NEED_MORE;

	*taken = 0;
	while (at < len && rc == PROXY_NEED_MORE) {
		size_t n = at == 0 ? first : step;
		n = n < len - at ? n : len - at;
		size_t used = 99;
		rc = proxy_chunked_feed(&c, (const uint8_t *)body + at, n, &used);
		if (rc == PROXY_NEED_MORE && used != n)
			return -100; /* a body byte was not taken */
		if (rc < 0 && used != 0)
			return -101;
		at += used;
	}
	*taken = at;
	/* Done and failed are both final. */
	size_t used = 99;
	int again = proxy_chunked_feed(&c, (const uint8_t *)body, len, &used);
	if (rc != PROXY_NEED_MORE && (again != rc || used != 0))
		return -102;
	return rc;
}

/* Whole, at every split point and with every small step: same answer. */
static void check_chunked(const char *body, size_t len, int want_rc, size_t want_taken)
{
	size_t taken;
	bool same = true;

	CHECK_EQ_INT(chunked_run(body, len, len, len, &taken), want_rc);
	if (want_rc == PROXY_DONE)
		CHECK_EQ_INT(taken, want_taken);
	for (size_t first = 1; first <= len; first++) {
		same &= chunked_run(body, len, first, len, &taken) == want_rc;
		same &= want_rc != PROXY_DONE || taken == want_taken;
		if (first <= 8) {
			same &= chunked_run(body, len, first, first, &taken) == want_rc;
			same &= want_rc != PROXY_DONE || taken == want_taken;
		}
	}
	CHECK(same);
	if (!same)
		fprintf(stderr, "  chunked body \"%.*s\"\n", (int)len, body);
}

#define NEXT_REQ "GET / HTTP/1.1\r\n\r\n"

static void test_chunked_good(void)
{
	static const char *const bodies[] = {
		"0\r\n\r\n",
		"000\r\n\r\n",
		"5\r\nhello\r\n0\r\n\r\n",
		"5\r\n\r\n\r\n\n\r\n0\r\n\r\n", /* data that looks like line ends */
		"A;ext=1;q=\"x y\"\r\n0123456789\r\n000\r\nTrailer: v\r\nX: y\r\n\r\n",
		"1 ;a\r\nx\r\n0\t; b = c\r\n\r\n",
		"00000000000000000000001\r\nx\r\n0\r\n\r\n",
		"1\r\nx\r\n1\r\ny\r\nf\r\n0123456789abcde\r\n0\r\n\r\n",
		"1\r\n\x80\r\n0\r\nX: \xc3\xa9\r\n\r\n",
	};
	static char buf[256];

	for (size_t i = 0; i < COUNT(bodies); i++) {
		size_t n = strlen(bodies[i]);
		memcpy(buf, bodies[i], n);
		memcpy(buf + n, NEXT_REQ, sizeof NEXT_REQ);
		check_chunked(buf, n + sizeof NEXT_REQ - 1, PROXY_DONE, n);
		check_chunked(buf, n, PROXY_DONE, n);
		if (n > 0)
			check_chunked(buf, n - 1, PROXY_NEED_MORE, 0);
	}
}

static void test_chunked_bad(void)
{
	static const struct {
		const char *body;
		int rc;
	} cases[] = {
		{ "x\r\n", PROXY_ERR_CHUNK },
		{ "\r\n", PROXY_ERR_CHUNK },
		{ "-1\r\n", PROXY_ERR_CHUNK },
		{ "0x5\r\nhello\r\n0\r\n\r\n", PROXY_ERR_CHUNK },
		{ "+5\r\n", PROXY_ERR_CHUNK },
		{ " 5\r\n", PROXY_ERR_CHUNK },
		{ "5 \r\nhello", PROXY_ERR_CHUNK },
		{ "5 x\r\n", PROXY_ERR_CHUNK },
		{ "5\nhello\r\n0\r\n\r\n", PROXY_ERR_CHUNK },
		{ "5\rhello", PROXY_ERR_CHUNK },
		{ "5\r\nhello\n0\r\n\r\n", PROXY_ERR_CHUNK },
		{ "5\r\nhelloX\r\n", PROXY_ERR_CHUNK },
		{ "5\r\nhello\rX", PROXY_ERR_CHUNK },
		{ "5;\x01\r\n", PROXY_ERR_CHUNK },
		{ "5;a\nb\r\n", PROXY_ERR_CHUNK },
		{ "0\r\n\n", PROXY_ERR_CHUNK },
		{ "0\r\n\rX", PROXY_ERR_CHUNK },
		{ "0\r\nX: y\n\r\n", PROXY_ERR_CHUNK },
		{ "0\r\nX: y\rZ", PROXY_ERR_CHUNK },
		{ "0\r\nX: \x01\r\n\r\n", PROXY_ERR_CHUNK },
		{ "0\r\n y\r\n\r\n", PROXY_ERR_CHUNK },
		{ "0\r\n\ty\r\n\r\n", PROXY_ERR_CHUNK },
		{ "0\r\n\x7f\r\n\r\n", PROXY_ERR_CHUNK },
		{ "10000000000000000\r\n", PROXY_ERR_TOO_BIG },
		{ "fffffffffffffffff\r\n", PROXY_ERR_TOO_BIG },
	};

	for (size_t i = 0; i < COUNT(cases); i++)
		check_chunked(cases[i].body, strlen(cases[i].body), cases[i].rc, 0);
}

static void test_chunked_limits(void)
{
	static char buf[PROXY_MAX_TRAILERS + 64];
	struct proxy_chunked c = { 0 };
	size_t used;

	/* The biggest chunk size there is: announced, then skipped in part. */
	CHECK_EQ_INT(proxy_chunked_feed(&c, (const uint8_t *)"ffffffffffffffff\r\nab", 20, &used),
	             PROXY_NEED_MORE);
	CHECK_EQ_INT(used, 20);
	CHECK(c.left == UINT64_MAX - 2);

	/* A chunk line of exactly PROXY_MAX_CHUNK_LINE bytes, and one more. */
	memset(buf, 'a', PROXY_MAX_CHUNK_LINE);
	memcpy(buf, "0;", 2);
	memcpy(buf + PROXY_MAX_CHUNK_LINE - 2, "\r\n\r\n", 4);
	check_chunked(buf, PROXY_MAX_CHUNK_LINE + 2, PROXY_DONE, PROXY_MAX_CHUNK_LINE + 2);
	memset(buf, 'a', PROXY_MAX_CHUNK_LINE + 1);
	memcpy(buf, "0;", 2);
	memcpy(buf + PROXY_MAX_CHUNK_LINE - 1, "\r\n\r\n", 4);
	check_chunked(buf, PROXY_MAX_CHUNK_LINE + 3, PROXY_ERR_TOO_BIG, 0);

	/* A trailer section of exactly PROXY_MAX_TRAILERS bytes, and one more. */
	memset(buf, 'x', sizeof buf);
	memcpy(buf, "0\r\nX:", 5);
	memcpy(buf + 3 + PROXY_MAX_TRAILERS - 4, "\r\n\r\n", 4);
	check_chunked(buf, 3 + PROXY_MAX_TRAILERS, PROXY_DONE, 3 + PROXY_MAX_TRAILERS);
	memset(buf, 'x', sizeof buf);
	memcpy(buf, "0\r\nX:", 5);
	memcpy(buf + 3 + PROXY_MAX_TRAILERS - 3, "\r\n\r\n", 4);
	check_chunked(buf, 4 + PROXY_MAX_TRAILERS, PROXY_ERR_TOO_BIG, 0);

	/* Many small chunks: no limit on their number. */
	struct proxy_chunked many = { 0 };
	for (int i = 0; i < 10000; i++)
		CHECK_EQ_INT(proxy_chunked_feed(&many, (const uint8_t *)"1\r\nx\r\n", 6, &used),
		             PROXY_NEED_MORE);
	CHECK_EQ_INT(proxy_chunked_feed(&many, (const uint8_t *)"0\r\n\r\n", 5, &used), PROXY_DONE);
}

/* ---- codes, sizes ---- */

static void test_strings(void)
{
	static const enum proxy_rc rcs[] = {
		PROXY_ERR_TARGET, PROXY_ERR_HOST, PROXY_ERR_PORT, PROXY_ERR_NOT_ABSOLUTE,
		PROXY_ERR_HTTPS, PROXY_ERR_SCHEME, PROXY_ERR_URI, PROXY_ERR_LENGTH,
		PROXY_ERR_FRAMING, PROXY_ERR_TOO_BIG, PROXY_ERR_CHUNK,
	};

	for (size_t i = 0; i < COUNT(rcs); i++) {
		CHECK_EQ_INT(proxy_rc_status(rcs[i]), 400);
		CHECK(strstr(proxy_strerror(rcs[i]), "unknown") == NULL);
		CHECK(strlen(proxy_strerror(rcs[i])) <= 100);
		for (size_t j = 0; j < i; j++)
			CHECK(strcmp(proxy_strerror(rcs[i]), proxy_strerror(rcs[j])) != 0);
	}
	CHECK(strstr(proxy_strerror(PROXY_ERR_HTTPS), "CONNECT") != NULL);
	CHECK(strcmp(proxy_strerror((enum proxy_rc)-99), "unknown proxy error") == 0);
	CHECK(strcmp(proxy_strerror(PROXY_DONE), "body complete") == 0);
}

static void test_sizes(void)
{
	CHECK(sizeof(struct proxy_chunked) <= 16);
	CHECK(sizeof(struct proxy_body) <= 16);
	CHECK(sizeof(struct proxy_uri) <= 64);
	printf("sizeof struct proxy_chunked %zu, struct proxy_uri %zu\n",
	       sizeof(struct proxy_chunked), sizeof(struct proxy_uri));
}

/* ---- guard page: no read past the length given ---- */

static void guard_targets(char *page_end, const char *s)
{
	size_t len = strlen(s);

	for (size_t n = 0; n <= len; n++) {
		struct proxy_target t;
		struct proxy_uri u;
		char *at = page_end - n;
		memcpy(at, s, n);
		(void)proxy_parse_connect((struct http_slice){ at, n }, &t);
		(void)proxy_parse_absolute((struct http_slice){ at, n }, &u);
	}
}

static void guard_chunked(char *page_end, const char *s)
{
	size_t len = strlen(s);

	for (size_t n = 0; n <= len; n++) {
		struct proxy_chunked c = { 0 };
		size_t used;
		char *at = page_end - n;
		memcpy(at, s, n);
		int rc = proxy_chunked_feed(&c, (const uint8_t *)at, n, &used);
		CHECK(rc == (n == len ? PROXY_DONE : PROXY_NEED_MORE));
	}
}

static void test_guard_page(void)
{
	long page = sysconf(_SC_PAGESIZE);
	char *map = mmap(NULL, (size_t)page * 2, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
	                 -1, 0);

	CHECK(map != MAP_FAILED);
	if (map == MAP_FAILED)
		return;
	CHECK_EQ_INT(mprotect(map + page, (size_t)page, PROT_NONE), 0);
	guard_targets(map + page, "http://[2001:db8::1]:8080/a/b?c#d");
	guard_targets(map + page, "http://user@example.com:80/");
	guard_targets(map + page, "HTTPS://example.com/");
	guard_targets(map + page, "[::1]:443");
	guard_targets(map + page, "example.com:443");
	guard_chunked(map + page, "5;e=\"v\"\r\nhello\r\n0\r\nX: y\r\n\r\n");
	munmap(map, (size_t)page * 2);
}

int main(void)
{
	TEST_RUN(test_connect_targets);
	TEST_RUN(test_host_length);
	TEST_RUN(test_absolute_uris);
	TEST_RUN(test_forward_head);
	TEST_RUN(test_keep_alive);
	TEST_RUN(test_basic_auth);
	TEST_RUN(test_responses);
	TEST_RUN(test_request_body_rules);
	TEST_RUN(test_response_body_rules);
	TEST_RUN(test_chunked_good);
	TEST_RUN(test_chunked_bad);
	TEST_RUN(test_chunked_limits);
	TEST_RUN(test_strings);
	TEST_RUN(test_sizes);
	TEST_RUN(test_guard_page);
	return test_summary();
}
