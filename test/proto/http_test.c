/* http_test.c — unit test of proto/http.c: valid heads, every error class,
 * the size and count limits at and one past their edge, every split point
 * through http_head_end, and every truncated prefix against a guard page. */
#include "proto/http.h"

#include "test/check.h"

#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

#define WS_UPGRADE                                 \
	"GET /chat?room=1 HTTP/1.1\r\n"                \
	"Host: example.com:8080\r\n"                   \
	"Upgrade: websocket\r\n"                       \
	"Connection: keep-alive, Upgrade\r\n"          \
	"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" \
	"Sec-WebSocket-Version: 13\r\n"                \
	"X-Empty:\r\n"                                 \
	"X-Blank: \t \r\n"                             \
	"X-Tabs:\t a\tb \t\r\n"                        \
	"User-Agent: Mozilla/5.0 (X11; Linux x86_64)\r\n" \
	"\r\n"

#define RESP_101                                   \
	"HTTP/1.1 101 Switching Protocols\r\n"         \
	"Upgrade: websocket\r\n"                       \
	"Connection: Upgrade\r\n"                      \
	"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n" \
	"\r\n"

/* Heads fed at every split point and against the guard page: the valid
 * ones and one of every error class. */
static const char *const sample_heads[] = {
	WS_UPGRADE,
	RESP_101,
	"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n",
	"GET http://example.com/x?y=1 HTTP/1.0\r\nProxy-Authorization: Basic Zm9vOmJhcg==\r\n\r\n",
	"OPTIONS * HTTP/1.1\r\n\r\n",
	"HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n",
	"HTTP/1.0 204 \r\n\r\n",
	"GET / HTTP/2.0\r\n\r\n",
	"GET / HTTP/1.1\r\nHost : x\r\n\r\n",
	"GET / HTTP/1.1\r\nA: b\r\n c\r\n\r\n",
	"GET / HTTP/1.1\nHost: x\r\n\r\n",
	"GET / HTTP/1.1\r\nX: a\x01z\r\n\r\n",
	"HTTP/1.1 20 OK\r\n\r\n",
};

static int parse_request_str(const char *s, struct http_request *req)
{
	return http_parse_request(s, strlen(s), req);
}

static int parse_response_str(const char *s, struct http_response *resp)
{
	return http_parse_response(s, strlen(s), resp);
}

static bool header_is(const struct http_header *h, const char *name, const char *value)
{
	return http_slice_eq(h->name, name) && h->value.len == strlen(value) &&
	       memcmp(h->value.p, value, h->value.len) == 0;
}

static void test_request_websocket_upgrade(void)
{
	struct http_request req;
	const char *s = WS_UPGRADE;

	CHECK_EQ_INT(parse_request_str(s, &req), strlen(s));
	CHECK(http_slice_eq(req.method, "GET"));
	CHECK(http_slice_eq(req.target, "/chat?room=1"));
	CHECK(req.method.p == s);
	CHECK_EQ_INT(req.minor_version, 1);
	CHECK_EQ_INT(req.nheaders, 9);
	CHECK(header_is(&req.headers[0], "Host", "example.com:8080"));
	CHECK(header_is(&req.headers[3], "Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="));
	CHECK(header_is(&req.headers[5], "X-Empty", ""));
	CHECK(header_is(&req.headers[6], "X-Blank", ""));
	CHECK(header_is(&req.headers[7], "X-Tabs", "a\tb"));
	CHECK(header_is(&req.headers[8], "User-Agent", "Mozilla/5.0 (X11; Linux x86_64)"));

	const struct http_header *conn = http_find(req.headers, req.nheaders, "connection");
	CHECK(conn == &req.headers[2]);
	CHECK(conn != NULL && http_has_token(conn->value, "upgrade"));
	CHECK(http_find(req.headers, req.nheaders, "Origin") == NULL);
	CHECK(http_find(req.headers, req.nheaders, "Hos") == NULL);
}

static void test_request_forms(void)
{
	struct http_request req;

	/* RFC 9112 §3.2.3 authority-form, §3.2.2 absolute-form, §3.2.4 asterisk. */
	CHECK(parse_request_str("CONNECT example.com:443 HTTP/1.1\r\n\r\n", &req) > 0);
	CHECK(http_slice_eq(req.target, "example.com:443"));
	CHECK_EQ_INT(req.nheaders, 0);
	CHECK(parse_request_str("GET http://example.com/a?b HTTP/1.0\r\nHost: example.com\r\n\r\n",
	                        &req) > 0);
	CHECK(http_slice_eq(req.target, "http://example.com/a?b"));
	CHECK_EQ_INT(req.minor_version, 0);
	CHECK(parse_request_str("OPTIONS * HTTP/1.1\r\n\r\n", &req) > 0);
	CHECK(http_slice_eq(req.target, "*"));
	/* Any token is a method; case is the caller's business (RFC 9110 §9.1). */
	CHECK(parse_request_str("m-SEARCH! /x HTTP/1.1\r\n\r\n", &req) > 0);
	CHECK(http_slice_eq(req.method, "M-SEARCH!"));
	/* RFC 9110 §2.5: a higher 1.x minor is processed as 1.1 would be. */
	CHECK(parse_request_str("GET / HTTP/1.2\r\n\r\n", &req) > 0);
	CHECK_EQ_INT(req.minor_version, 2);
	/* obs-text is opaque but allowed in values (RFC 9110 §5.5). */
	CHECK(parse_request_str("GET / HTTP/1.1\r\nX: caf\xc3\xa9\r\n\r\n", &req) > 0);
	CHECK(header_is(&req.headers[0], "X", "caf\xc3\xa9"));
	CHECK(parse_request_str("GET / HTTP/1.1\r\nX:no-space\r\nY:  two  words  \r\n\r\n", &req) > 0);
	CHECK(header_is(&req.headers[0], "X", "no-space"));
	CHECK(header_is(&req.headers[1], "Y", "two  words"));
}

static void test_response_valid(void)
{
	struct http_response resp;
	const char *s = RESP_101;

	CHECK_EQ_INT(parse_response_str(s, &resp), strlen(s));
	CHECK_EQ_INT(resp.status, 101);
	CHECK_EQ_INT(resp.minor_version, 1);
	CHECK(http_slice_eq(resp.reason, "Switching Protocols"));
	CHECK_EQ_INT(resp.nheaders, 3);
	CHECK(header_is(&resp.headers[2], "Sec-WebSocket-Accept", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="));

	CHECK(parse_response_str("HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\n", &resp) > 0);
	CHECK_EQ_INT(resp.status, 200);
	CHECK_EQ_INT(resp.minor_version, 0);
	/* The strict empty reason, and the lenient missing one. */
	CHECK(parse_response_str("HTTP/1.1 204 \r\n\r\n", &resp) > 0);
	CHECK_EQ_INT(resp.reason.len, 0);
	CHECK(parse_response_str("HTTP/1.1 200\r\n\r\n", &resp) > 0);
	CHECK_EQ_INT(resp.reason.len, 0);
	CHECK_EQ_INT(resp.status, 200);
	CHECK(parse_response_str("HTTP/1.1 599 a\tb  c \r\n\r\n", &resp) > 0);
	CHECK(http_slice_eq(resp.reason, "a\tb  c "));
	CHECK(parse_response_str("HTTP/1.1 100 Continue\r\n\r\n", &resp) > 0);
	CHECK_EQ_INT(resp.status, 100);
}

struct bad_head {
	const char *head;
	int rc;
};

static const struct bad_head bad_requests[] = {
	{ "\r\nGET / HTTP/1.1\r\n\r\n", HTTP_ERR_SYNTAX },       /* leading empty line */
	{ " GET / HTTP/1.1\r\n\r\n", HTTP_ERR_SYNTAX },
	{ "GET  / HTTP/1.1\r\n\r\n", HTTP_ERR_SYNTAX },          /* double SP */
	{ "GET /  HTTP/1.1\r\n\r\n", HTTP_ERR_SYNTAX },
	{ "GET\t/ HTTP/1.1\r\n\r\n", HTTP_ERR_SYNTAX },          /* HTAB separator */
	{ "GET HTTP/1.1\r\n\r\n", HTTP_ERR_SYNTAX },             /* no target */
	{ "GET /a b HTTP/1.1\r\n\r\n", HTTP_ERR_SYNTAX },
	{ "GET /caf\xc3\xa9 HTTP/1.1\r\n\r\n", HTTP_ERR_SYNTAX }, /* non-ASCII target */
	{ "GET /\x7f HTTP/1.1\r\n\r\n", HTTP_ERR_SYNTAX },
	{ "G(T / HTTP/1.1\r\n\r\n", HTTP_ERR_SYNTAX },           /* not a token */
	{ "GET / HTTP/1.1 \r\n\r\n", HTTP_ERR_SYNTAX },
	{ "GET / http/1.1\r\n\r\n", HTTP_ERR_SYNTAX },           /* case-sensitive */
	{ "GET / HTTP/1.10\r\n\r\n", HTTP_ERR_SYNTAX },
	{ "GET / HTTP/1\r\n\r\n", HTTP_ERR_SYNTAX },
	{ "GET / HTTP/11\r\n\r\n", HTTP_ERR_SYNTAX },
	{ "GET / HTTP/1.x\r\n\r\n", HTTP_ERR_SYNTAX },
	{ "GET / HTTP/2\r\n\r\n", HTTP_ERR_SYNTAX },
	{ "GET /\r\n\r\n", HTTP_ERR_SYNTAX },                    /* HTTP/0.9 form */
	{ "GET / HTTP/2.0\r\n\r\n", HTTP_ERR_VERSION },
	{ "GET / HTTP/0.9\r\n\r\n", HTTP_ERR_VERSION },
	{ "GET / HTTP/3.0\r\n\r\n", HTTP_ERR_VERSION },
	{ "PRI * HTTP/2.0\r\n\r\n", HTTP_ERR_VERSION },         /* h2 preface */
	{ "GET / HTTP/1.1\nHost: x\r\n\r\n", HTTP_ERR_SYNTAX },  /* bare LF */
	{ "GET / HTTP/1.1\r\nHost: x\n\r\n", HTTP_ERR_SYNTAX },
	{ "GET / HTTP/1.1\r\nHost: x\r\n\n", HTTP_ERR_SYNTAX },
	{ "GET / HTTP/1.1\r\r\n\r\n", HTTP_ERR_SYNTAX },         /* bare CR */
	{ "GET / HTTP/1.1\r\nX: a\rb\r\n\r\n", HTTP_ERR_SYNTAX },
	{ "GET / HTTP/1.1\r\nHost : x\r\n\r\n", HTTP_ERR_SYNTAX }, /* RFC 9112 §5.1 */
	{ "GET / HTTP/1.1\r\nHost\t: x\r\n\r\n", HTTP_ERR_SYNTAX },
	{ "GET / HTTP/1.1\r\nA: b\r\n c\r\n\r\n", HTTP_ERR_SYNTAX },  /* obs-fold */
	{ "GET / HTTP/1.1\r\nA: b\r\n\tc\r\n\r\n", HTTP_ERR_SYNTAX },
	{ "GET / HTTP/1.1\r\n Host: x\r\n\r\n", HTTP_ERR_SYNTAX },    /* RFC 9112 §2.2 */
	{ "GET / HTTP/1.1\r\n: x\r\n\r\n", HTTP_ERR_SYNTAX },         /* empty name */
	{ "GET / HTTP/1.1\r\nHost x\r\n\r\n", HTTP_ERR_SYNTAX },      /* no colon */
	{ "GET / HTTP/1.1\r\nX@Y: x\r\n\r\n", HTTP_ERR_SYNTAX },
	{ "GET / HTTP/1.1\r\nX: a\x01z\r\n\r\n", HTTP_ERR_SYNTAX },   /* CTL */
	{ "GET / HTTP/1.1\r\nX: a\x7fz\r\n\r\n", HTTP_ERR_SYNTAX },   /* DEL */
	{ "GET / HTTP/1.1\r\nX: \x1b[0m\r\n\r\n", HTTP_ERR_SYNTAX },
	{ "GET / HTTP/1.1\r\nHost: x\r\n", HTTP_ERR_SYNTAX },         /* no empty line */
	{ "GET / HTTP/1.1\r\n\r\nX", HTTP_ERR_SYNTAX },               /* bytes past it */
	{ "GET / HTTP/1.1\r\n\r\n\r\n", HTTP_ERR_SYNTAX },
	{ "GET / HTTP/1.1", HTTP_ERR_SYNTAX },
	{ "G", HTTP_ERR_SYNTAX },
};

static const struct bad_head bad_responses[] = {
	{ "HTTP/1.1 20 OK\r\n\r\n", HTTP_ERR_SYNTAX },
	{ "HTTP/1.1 2000 OK\r\n\r\n", HTTP_ERR_SYNTAX },
	{ "HTTP/1.1 2x0 OK\r\n\r\n", HTTP_ERR_SYNTAX },
	{ "HTTP/1.1 099 Low\r\n\r\n", HTTP_ERR_SYNTAX },   /* RFC 9110 §15 range */
	{ "HTTP/1.1 600 High\r\n\r\n", HTTP_ERR_SYNTAX },
	{ "HTTP/1.1  200 OK\r\n\r\n", HTTP_ERR_SYNTAX },
	{ "HTTP/1.1 200\tOK\r\n\r\n", HTTP_ERR_SYNTAX },
	{ "HTTP/1.1\r\n\r\n", HTTP_ERR_SYNTAX },
	{ "HTTP/1.1 200 O\x01K\r\n\r\n", HTTP_ERR_SYNTAX },
	{ "HTTP/1.1 200 OK\n\r\n", HTTP_ERR_SYNTAX },
	{ "HTTP/1.1 200 OK\r\nX : y\r\n\r\n", HTTP_ERR_SYNTAX },
	{ "HTTP/1.1 200 OK\r\nX: y\r\n z\r\n\r\n", HTTP_ERR_SYNTAX },
	{ "HTTP/1.1 200 OK\r\nX: \0\r\n\r\n", HTTP_ERR_SYNTAX }, /* cut by strlen */
	{ "ICY 200 OK\r\n\r\n", HTTP_ERR_SYNTAX },
	{ "HTTP/2 200\r\n\r\n", HTTP_ERR_SYNTAX },
	{ "HTTP/2.0 200 OK\r\n\r\n", HTTP_ERR_VERSION },
	{ "HTTP/0.9 200 OK\r\n\r\n", HTTP_ERR_VERSION },
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static void test_request_errors(void)
{
	struct http_request req;

	for (size_t i = 0; i < COUNT(bad_requests); i++) {
		int rc = parse_request_str(bad_requests[i].head, &req);
		if (rc != bad_requests[i].rc)
			fprintf(stderr, "bad_requests[%zu]\n", i);
		CHECK_EQ_INT(rc, bad_requests[i].rc);
	}
	/* A NUL is a CTL: strlen would hide it, so give the length. */
	static const char nul[] = "GET / HTTP/1.1\r\nX: a\0b\r\n\r\n";
	CHECK_EQ_INT(http_parse_request(nul, sizeof nul - 1, &req), HTTP_ERR_SYNTAX);
	CHECK_EQ_INT(http_parse_request("", 0, &req), HTTP_ERR_SYNTAX);
	CHECK_EQ_INT(http_parse_request(NULL, 0, &req), HTTP_ERR_SYNTAX);
}

static void test_response_errors(void)
{
	struct http_response resp;

	for (size_t i = 0; i < COUNT(bad_responses); i++) {
		int rc = parse_response_str(bad_responses[i].head, &resp);
		if (rc != bad_responses[i].rc)
			fprintf(stderr, "bad_responses[%zu]\n", i);
		CHECK_EQ_INT(rc, bad_responses[i].rc);
	}
	/* A request is not a response, nor the reverse. */
	CHECK_EQ_INT(parse_response_str(WS_UPGRADE, &resp), HTTP_ERR_SYNTAX);
	struct http_request req;
	CHECK_EQ_INT(parse_request_str(RESP_101, &req), HTTP_ERR_SYNTAX);
}

/* "GET / HTTP/1.1\r\n" then n fields "Xnn: v\r\n", then the empty line. */
static size_t build_fields_head(char *buf, size_t cap, size_t n)
{
	size_t len = (size_t)snprintf(buf, cap, "GET / HTTP/1.1\r\n");
	for (size_t i = 0; i < n; i++)
		len += (size_t)snprintf(buf + len, cap - len, "X%zu: v\r\n", i);
	len += (size_t)snprintf(buf + len, cap - len, "\r\n");
	return len;
}

static void test_header_count_limit(void)
{
	static char buf[4096];
	struct http_request req;
	struct http_response resp;

	size_t len = build_fields_head(buf, sizeof buf, HTTP_MAX_HEADERS);
	CHECK_EQ_INT(http_parse_request(buf, len, &req), len);
	CHECK_EQ_INT(req.nheaders, HTTP_MAX_HEADERS);
	CHECK(http_slice_eq(req.headers[HTTP_MAX_HEADERS - 1].name, "X63"));

	len = build_fields_head(buf, sizeof buf, HTTP_MAX_HEADERS + 1);
	CHECK_EQ_INT(http_parse_request(buf, len, &req), HTTP_ERR_TOO_MANY);
	CHECK(req.nheaders <= HTTP_MAX_HEADERS);

	/* The same fields behind a status line as long as that request line. */
	len = build_fields_head(buf, sizeof buf, HTTP_MAX_HEADERS + 1);
	memcpy(buf, "HTTP/1.1 200 K", 14);
	CHECK_EQ_INT(http_parse_response(buf, len, &resp), HTTP_ERR_TOO_MANY);
	len = build_fields_head(buf, sizeof buf, HTTP_MAX_HEADERS);
	memcpy(buf, "HTTP/1.1 200 K", 14);
	CHECK_EQ_INT(http_parse_response(buf, len, &resp), len);
	CHECK_EQ_INT(resp.nheaders, HTTP_MAX_HEADERS);
}

/* A request of exactly size bytes, padded by one long header value. */
static void build_sized_head(char *buf, size_t size)
{
	static const char start[] = "GET / HTTP/1.1\r\nX-Pad: ";
	memcpy(buf, start, sizeof start - 1);
	memset(buf + sizeof start - 1, 'p', size - (sizeof start - 1) - 4);
	memcpy(buf + size - 4, "\r\n\r\n", 4);
}

static void test_head_size_limit(void)
{
	static char buf[HTTP_MAX_HEAD + 64];
	struct http_request req;
	size_t scanned = 0;

	build_sized_head(buf, HTTP_MAX_HEAD);
	CHECK_EQ_INT(http_head_end(buf, HTTP_MAX_HEAD, &scanned), HTTP_MAX_HEAD);
	scanned = 0;
	CHECK_EQ_INT(http_head_end(buf, sizeof buf, &scanned), HTTP_MAX_HEAD);
	CHECK_EQ_INT(http_parse_request(buf, HTTP_MAX_HEAD, &req), HTTP_MAX_HEAD);
	CHECK_EQ_INT(req.headers[0].value.len, HTTP_MAX_HEAD - 27);

	build_sized_head(buf, HTTP_MAX_HEAD + 1);
	scanned = 0;
	CHECK_EQ_INT(http_head_end(buf, HTTP_MAX_HEAD - 1, &scanned), HTTP_NEED_MORE);
	CHECK_EQ_INT(http_head_end(buf, HTTP_MAX_HEAD, &scanned), HTTP_ERR_TOO_BIG);
	CHECK_EQ_INT(http_head_end(buf, HTTP_MAX_HEAD + 1, &scanned), HTTP_ERR_TOO_BIG);
	CHECK_EQ_INT(http_parse_request(buf, HTTP_MAX_HEAD + 1, &req), HTTP_ERR_TOO_BIG);
	struct http_response resp;
	CHECK_EQ_INT(http_parse_response(buf, HTTP_MAX_HEAD + 1, &resp), HTTP_ERR_TOO_BIG);
}

static void test_head_end(void)
{
	size_t scanned = 0;
	const char *s = "GET / HTTP/1.1\r\nHost: x\r\n\r\nbody";

	CHECK_EQ_INT(http_head_end(s, 0, &scanned), HTTP_NEED_MORE);
	CHECK_EQ_INT(http_head_end(s, 16, &scanned), HTTP_NEED_MORE);
	CHECK_EQ_INT(scanned, 16);
	CHECK_EQ_INT(http_head_end(s, 26, &scanned), HTTP_NEED_MORE); /* "\r\n\r" so far */
	CHECK_EQ_INT(scanned, 26);
	CHECK_EQ_INT(http_head_end(s, 27, &scanned), 27);
	scanned = 0;
	CHECK_EQ_INT(http_head_end(s, strlen(s), &scanned), 27); /* the body is not head */
	scanned = 0;
	CHECK_EQ_INT(http_head_end("\r\n\r\n", 4, &scanned), 4);
	const char *no_crlfcrlf = "a\n\n\r\n\n\r\r\n\r\r\n\n";
	scanned = 0;
	CHECK_EQ_INT(http_head_end(no_crlfcrlf, strlen(no_crlfcrlf), &scanned), HTTP_NEED_MORE);
	CHECK_EQ_INT(scanned, strlen(no_crlfcrlf));
	scanned = 0;
	CHECK_EQ_INT(http_head_end(NULL, 0, &scanned), HTTP_NEED_MORE);
}

static bool has(const char *list, const char *token)
{
	return http_has_token((struct http_slice){ list, strlen(list) }, token);
}

static void test_has_token(void)
{
	CHECK(has("keep-alive, Upgrade", "upgrade"));
	CHECK(has("keep-alive, Upgrade", "KEEP-ALIVE"));
	CHECK(has(" upgrade ", "upgrade"));
	CHECK(has("\tupgrade\t", "Upgrade"));
	CHECK(has("Upgrade", "upgrade"));
	CHECK(has(",,upgrade,,", "upgrade"));
	CHECK(has("a ,upgrade", "upgrade"));
	CHECK(!has("upgrades", "upgrade"));
	CHECK(!has("upgrade2, xupgrade", "upgrade"));
	CHECK(!has("up grade", "upgrade"));
	CHECK(!has("upgrad", "upgrade"));
	CHECK(!has("", "upgrade"));
	CHECK(!has(", ,", "upgrade"));
	CHECK(has(", ,", ""));
	CHECK(!http_has_token((struct http_slice){ NULL, 0 }, "upgrade"));
	/* The slice ends where it says, not at a NUL. */
	CHECK(!http_has_token((struct http_slice){ "upgrade", 6 }, "upgrade"));
	CHECK(http_has_token((struct http_slice){ "upgradeX", 7 }, "upgrade"));
}

static void test_slice_eq(void)
{
	CHECK(http_slice_eq((struct http_slice){ "Host", 4 }, "host"));
	CHECK(http_slice_eq((struct http_slice){ "HOSTX", 4 }, "host"));
	CHECK(!http_slice_eq((struct http_slice){ "Host", 4 }, "hosts"));
	CHECK(!http_slice_eq((struct http_slice){ "Host", 3 }, "host"));
	CHECK(http_slice_eq((struct http_slice){ NULL, 0 }, ""));
	/* Only ASCII letters fold: '@' and '`' sit next to 'A' and 'a'. */
	CHECK(!http_slice_eq((struct http_slice){ "@", 1 }, "`"));
	CHECK(!http_slice_eq((struct http_slice){ "[", 1 }, "{"));
}

static void test_status_and_strings(void)
{
	CHECK_EQ_INT(http_rc_status(HTTP_ERR_SYNTAX), 400);
	CHECK_EQ_INT(http_rc_status(HTTP_ERR_TOO_BIG), 431);
	CHECK_EQ_INT(http_rc_status(HTTP_ERR_TOO_MANY), 431);
	CHECK_EQ_INT(http_rc_status(HTTP_ERR_VERSION), 505);

	static const int known[] = { 101, 200, 204, 301, 302, 304, 400, 401, 403, 404, 405, 407, 408,
	                             411, 413, 414, 426, 429, 431, 500, 501, 502, 503, 504, 505 };
	for (size_t i = 0; i < COUNT(known); i++)
		CHECK(strcmp(http_reason(known[i]), "Unknown") != 0);
	CHECK(strcmp(http_reason(101), "Switching Protocols") == 0);
	CHECK(strcmp(http_reason(431), "Request Header Fields Too Large") == 0);
	CHECK(strcmp(http_reason(599), "Unknown") == 0);
	CHECK(strcmp(http_reason(-1), "Unknown") == 0);

	const enum http_rc rcs[] = { HTTP_NEED_MORE, HTTP_ERR_SYNTAX, HTTP_ERR_TOO_BIG,
	                             HTTP_ERR_TOO_MANY, HTTP_ERR_VERSION };
	for (size_t i = 0; i < COUNT(rcs); i++)
		for (size_t j = 0; j < i; j++)
			CHECK(strcmp(http_strerror(rcs[i]), http_strerror(rcs[j])) != 0);
	CHECK(strcmp(http_strerror((enum http_rc)-99), "unknown HTTP error") == 0);
	CHECK(strcmp(http_strerror((enum http_rc)7), "unknown HTTP error") == 0);
}

/* What one head yields: the head_end result, then both parses of it. */
struct outcome {
	int end;
	int req_rc, resp_rc;
	struct http_request req;
	struct http_response resp;
};

static void outcome_parse(const char *buf, struct outcome *o)
{
	o->req_rc = o->resp_rc = HTTP_NEED_MORE;
	if (o->end > 0) {
		o->req_rc = http_parse_request(buf, (size_t)o->end, &o->req);
		o->resp_rc = http_parse_response(buf, (size_t)o->end, &o->resp);
	}
}

static bool slices_same(struct http_slice a, struct http_slice b)
{
	return a.p == b.p && a.len == b.len;
}

static bool headers_same(const struct http_header *a, const struct http_header *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!slices_same(a[i].name, b[i].name) || !slices_same(a[i].value, b[i].value))
			return false;
	return true;
}

static bool outcome_same(const struct outcome *a, const struct outcome *b)
{
	if (a->end != b->end || a->req_rc != b->req_rc || a->resp_rc != b->resp_rc)
		return false;
	if (a->req_rc > 0 &&
	    (!slices_same(a->req.method, b->req.method) || !slices_same(a->req.target, b->req.target) ||
	     a->req.minor_version != b->req.minor_version || a->req.nheaders != b->req.nheaders ||
	     !headers_same(a->req.headers, b->req.headers, a->req.nheaders)))
		return false;
	if (a->resp_rc > 0 &&
	    (a->resp.status != b->resp.status || !slices_same(a->resp.reason, b->resp.reason) ||
	     a->resp.nheaders != b->resp.nheaders ||
	     !headers_same(a->resp.headers, b->resp.headers, a->resp.nheaders)))
		return false;
	return true;
}

/* Grows the visible length by step until head_end answers or all is seen. */
static int head_end_in_steps(const char *buf, size_t len, size_t step)
{
	size_t scanned = 0, seen = 0;
	int rc = HTTP_NEED_MORE;

	while (rc == HTTP_NEED_MORE && seen < len) {
		seen = seen + step < len ? seen + step : len;
		rc = http_head_end(buf, seen, &scanned);
		if (scanned > seen)
			return -100; /* scanned past what it was shown */
	}
	return rc;
}

static void check_split_points(const char *buf, size_t len)
{
	static struct outcome whole, split;
	size_t scanned = 0;

	whole.end = http_head_end(buf, len, &scanned);
	outcome_parse(buf, &whole);

	for (size_t at = 0; at <= len; at++) {
		scanned = 0;
		split.end = http_head_end(buf, at, &scanned);
		if (split.end == HTTP_NEED_MORE)
			split.end = http_head_end(buf, len, &scanned);
		outcome_parse(buf, &split);
		CHECK(outcome_same(&whole, &split));
	}
	for (size_t step = 1; step <= 7; step++) {
		split.end = head_end_in_steps(buf, len, step);
		outcome_parse(buf, &split);
		CHECK(outcome_same(&whole, &split));
	}
}

static void test_split_points(void)
{
	static char big[HTTP_MAX_HEAD + 16];
	static const char piped[] = "GET / HTTP/1.1\r\nA: b\r\n\r\nGET / HTTP/1.1\r\n\r\n";

	for (size_t i = 0; i < COUNT(sample_heads); i++)
		check_split_points(sample_heads[i], strlen(sample_heads[i]));
	for (size_t i = 0; i < COUNT(bad_requests); i++)
		check_split_points(bad_requests[i].head, strlen(bad_requests[i].head));
	check_split_points(piped, sizeof piped - 1);

	/* The byte-wise feed at the size limit, both sides of it. */
	build_sized_head(big, HTTP_MAX_HEAD);
	CHECK_EQ_INT(head_end_in_steps(big, HTTP_MAX_HEAD, 1), HTTP_MAX_HEAD);
	build_sized_head(big, HTTP_MAX_HEAD + 1);
	CHECK_EQ_INT(head_end_in_steps(big, HTTP_MAX_HEAD + 1, 1), HTTP_ERR_TOO_BIG);
	CHECK_EQ_INT(head_end_in_steps(big, HTTP_MAX_HEAD + 1, 3), HTTP_ERR_TOO_BIG);
}

/* True when the head's only empty line is its end, so no prefix is whole. */
static bool ends_at_first_empty_line(const char *head)
{
	const char *blank = strstr(head, "\r\n\r\n");
	return blank != NULL && blank[4] == '\0';
}

/* Every prefix of head, placed so its last byte is the last readable one:
 * a read past the given length faults on the PROT_NONE page. */
static void check_against_guard(char *page_end, const char *head)
{
	static struct http_request req;
	static struct http_response resp;
	size_t len = strlen(head);

	for (size_t n = 0; n <= len; n++) {
		char *at = page_end - n;
		memcpy(at, head, n);
		size_t scanned = 0;
		int end = http_head_end(at, n, &scanned);
		CHECK(end == HTTP_NEED_MORE || end == (int)n);
		int rq = http_parse_request(at, n, &req);
		int rs = http_parse_response(at, n, &resp);
		CHECK(rq < 0 || rq == (int)n);
		CHECK(rs < 0 || rs == (int)n);
		if (n < len)
			CHECK(end == HTTP_NEED_MORE && rq < 0 && rs < 0);
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
	for (size_t i = 0; i < COUNT(sample_heads); i++)
		if (ends_at_first_empty_line(sample_heads[i]))
			check_against_guard(map + page, sample_heads[i]);
	for (size_t i = 0; i < COUNT(bad_requests); i++)
		if (ends_at_first_empty_line(bad_requests[i].head))
			check_against_guard(map + page, bad_requests[i].head);
	for (size_t i = 0; i < COUNT(bad_responses); i++)
		if (ends_at_first_empty_line(bad_responses[i].head))
			check_against_guard(map + page, bad_responses[i].head);
	munmap(map, (size_t)page * 2);
}

int main(void)
{
	TEST_RUN(test_request_websocket_upgrade);
	TEST_RUN(test_request_forms);
	TEST_RUN(test_response_valid);
	TEST_RUN(test_request_errors);
	TEST_RUN(test_response_errors);
	TEST_RUN(test_header_count_limit);
	TEST_RUN(test_head_size_limit);
	TEST_RUN(test_head_end);
	TEST_RUN(test_has_token);
	TEST_RUN(test_slice_eq);
	TEST_RUN(test_status_and_strings);
	TEST_RUN(test_split_points);
	TEST_RUN(test_guard_page);
	return test_summary();
}
