/* proxy_fuzz.c — libFuzzer target for proto/proxy.c. Byte 0: chunk size for
 * the chunked skipper (low 6 bits, 0 = whole) and the request method (high 2).
 * The rest: a URI and CONNECT target, a request head (rewritten, re-parsed) or
 * response head, then a chunked body. Any broken invariant aborts. */
#include "proto/proxy.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REQUIRE(cond) \
	do {                  \
		if (!(cond))      \
			abort();      \
	} while (0)

static bool within(struct http_slice s, const char *buf, size_t len)
{
	return s.p >= buf && s.len <= len && (size_t)(s.p - buf) <= len - s.len;
}

static void check_target(const struct proxy_target *t, const char *buf, size_t len)
{
	REQUIRE(within(t->host, buf, len));
	REQUIRE(t->host.len >= 1 && t->host.len <= PROXY_MAX_HOST && t->port >= 1);
	REQUIRE(memchr(t->host.p, '/', t->host.len) == NULL);
	REQUIRE(memchr(t->host.p, '@', t->host.len) == NULL);
	REQUIRE(t->host_is_v6 || memchr(t->host.p, ':', t->host.len) == NULL);
}

static void check_targets(const char *s, size_t len)
{
	struct proxy_target t;
	struct proxy_uri u;
	enum proxy_rc rc = proxy_parse_connect((struct http_slice){ s, len }, &t);

	REQUIRE(rc == PROXY_OK || (rc <= PROXY_ERR_TARGET && rc >= PROXY_ERR_PORT));
	if (rc == PROXY_OK)
		check_target(&t, s, len);
	rc = proxy_parse_absolute((struct http_slice){ s, len }, &u);
	REQUIRE(rc == PROXY_OK || (rc <= PROXY_ERR_HOST && rc >= PROXY_ERR_URI));
	REQUIRE(proxy_strerror(rc) != NULL && proxy_rc_status(rc) == 400);
	if (rc != PROXY_OK)
		return;
	check_target(&u.dest, s, len);
	REQUIRE(u.path.len >= 1 && u.path.p[0] == '/');
	REQUIRE(within(u.path, s, len) || (u.path.len == 1 && u.query.p == s + len - u.query.len));
	REQUIRE(within(u.query, s, len) && (u.query.len == 0 || u.query.p[0] == '?'));
	REQUIRE(memchr(u.path.p, '?', u.path.len) == NULL);
	REQUIRE(memchr(s, '#', len) == NULL);
}

static bool is_hop_by_hop(struct http_slice name)
{
	static const char *const names[] = {
		"Connection", "Keep-Alive", "Proxy-Connection", "Proxy-Authorization",
		"Proxy-Authenticate", "TE", "Trailer", "Upgrade",
	};
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		if (http_slice_eq(name, names[i]))
			return true;
	return false;
}

/* The rewritten head parses again; Host is first and alone, the only
 * Connection is ours, no hop-by-hop field survived, framing fields did. */
static void check_forwarded(const struct http_request *req, const char *out, size_t n)
{
	static struct http_request fwd;
	size_t scanned = 0;
	int end = http_head_end(out, n, &scanned);

	if (n > HTTP_MAX_HEAD)
		return; /* longer than a head we would parse: nothing more to see */
	REQUIRE(end == (int)n);
	int rc = http_parse_request(out, n, &fwd);
	REQUIRE(rc == (int)n || rc == HTTP_ERR_TOO_MANY);
	if (rc < 0)
		return;
	REQUIRE(fwd.nheaders >= 2 && http_slice_eq(fwd.headers[0].name, "Host"));
	REQUIRE(http_find(fwd.headers + 1, fwd.nheaders - 1, "Host") == NULL);
	REQUIRE(http_slice_eq(fwd.headers[fwd.nheaders - 1].name, "Connection"));
	for (size_t i = 1; i + 1 < fwd.nheaders; i++)
		REQUIRE(!is_hop_by_hop(fwd.headers[i].name));
	REQUIRE(fwd.minor_version == req->minor_version);
	REQUIRE(fwd.method.len == req->method.len &&
	        memcmp(fwd.method.p, req->method.p, req->method.len) == 0);
	REQUIRE((http_find(fwd.headers, fwd.nheaders, "Content-Length") != NULL) ==
	        (http_find(req->headers, req->nheaders, "Content-Length") != NULL));
	REQUIRE((http_find(fwd.headers, fwd.nheaders, "Transfer-Encoding") != NULL) ==
	        (http_find(req->headers, req->nheaders, "Transfer-Encoding") != NULL));
}

static void check_body(enum proxy_rc rc, const struct proxy_body *b)
{
	REQUIRE(rc == PROXY_OK || rc == PROXY_ERR_LENGTH || rc == PROXY_ERR_FRAMING ||
	        rc == PROXY_ERR_TOO_BIG);
	REQUIRE(b->kind >= PROXY_BODY_NONE && b->kind <= PROXY_BODY_CLOSE);
}

static void check_request(const char *head, size_t len)
{
	static struct http_request req;
	static char out[HTTP_MAX_HEAD * 2];
	struct proxy_body b;
	struct proxy_uri u;

	if (http_parse_request(head, len, &req) <= 0)
		return;
	enum proxy_rc rc = proxy_request_body(&req, &b);
	check_body(rc, &b);
	REQUIRE(b.kind != PROXY_BODY_CLOSE);
	(void)proxy_keep_alive(req.minor_version, req.headers, req.nheaders);
	(void)proxy_auth_ok(&req, "user", "pass");
	if (proxy_parse_absolute(req.target, &u) != PROXY_OK)
		return;
	size_t n = proxy_forward_head(out, sizeof out, &req, &u, len & 1);
	REQUIRE(n > 0);
	REQUIRE(proxy_forward_head(out, n - 1, &req, &u, len & 1) == 0);
	REQUIRE(proxy_forward_head(out, n, &req, &u, len & 1) == n);
	check_forwarded(&req, out, n);
}

static void check_response(const char *head, size_t len, unsigned method)
{
	static const char *const methods[] = { "GET", "HEAD", "CONNECT", "POST" };
	static struct http_response resp;
	struct proxy_body b;

	if (http_parse_response(head, len, &resp) <= 0)
		return;
	enum proxy_rc rc = proxy_response_body((struct http_slice){ methods[method],
	                                                            strlen(methods[method]) },
	                                       &resp, &b);
	check_body(rc, &b);
}

/* Result of skipping a chunked body in steps: rc and bytes taken. */
static int skip_chunked(const uint8_t *in, size_t len, size_t step, size_t *taken)
{
	struct proxy_chunked c = { 0 };
	int rc = PROXY_NEED_MORE;
	size_t at = 0;

	while (at < len && rc == PROXY_NEED_MORE) {
		size_t n = step == 0 || step > len - at ? len - at : step;
		uint8_t *exact = malloc(n); /* ASan sees reads past the chunk */
		size_t used = 12345;
		memcpy(exact, in + at, n);
		rc = proxy_chunked_feed(&c, exact, n, &used);
		free(exact);
		REQUIRE(rc == PROXY_DONE || rc == PROXY_NEED_MORE || rc == PROXY_ERR_CHUNK ||
		        rc == PROXY_ERR_TOO_BIG);
		REQUIRE(rc == PROXY_DONE ? used <= n : rc == PROXY_NEED_MORE ? used == n : used == 0);
		REQUIRE(c.line <= PROXY_MAX_CHUNK_LINE && c.trailers <= PROXY_MAX_TRAILERS);
		at += used;
	}
	*taken = at;
	return rc;
}

static void check_chunked(const uint8_t *in, size_t len, size_t step)
{
	size_t whole_taken, split_taken;
	int whole = skip_chunked(in, len, 0, &whole_taken);
	int split = skip_chunked(in, len, step, &split_taken);

	REQUIRE(whole == split);
	if (whole == PROXY_DONE)
		REQUIRE(whole_taken == split_taken && whole_taken >= 5); /* "0\r\n\r\n" */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	const char *msg = (const char *)data + 1;
	size_t len = size - 1, scanned = 0;

	check_targets(msg, len);
	int end = http_head_end(msg, len, &scanned);
	size_t head_len = end > 0 ? (size_t)end : 0;
	if (head_len) {
		check_request(msg, head_len);
		check_response(msg, head_len, data[0] >> 6);
	}
	check_chunked(data + 1 + head_len, len - head_len, data[0] & 0x3f);
	return 0;
}
