/* proxy.h — the HTTP side of the client's -D port (RFC 9110, RFC 9112):
 * CONNECT and absolute-URI targets, the head forwarded to the origin, Basic
 * proxy auth, short responses, where a body ends. Pure: no sockets, no
 * malloc; results are slices into, or bytes written to, the caller's buffers. */
#ifndef WSF_PROTO_PROXY_H
#define WSF_PROTO_PROXY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/http.h"

#define PROXY_MAX_HOST 255          /* RFC 1035 §2.3.4, as SOCKS5 (RFC 1928 §5) */
#define PROXY_DEFAULT_PORT 80       /* RFC 9110 §4.2.1 */
#define PROXY_MAX_CREDENTIALS 511   /* user ":" pass, 255 each as in RFC 1929 */
#define PROXY_MAX_CHUNK_LINE 4096   /* chunk-size [chunk-ext] CRLF, RFC 9112 §7.1 */
#define PROXY_MAX_TRAILERS HTTP_MAX_HEAD /* trailer section, RFC 9112 §7.1.2 */
#define PROXY_REALM "proxy"         /* never the product name */

/* RFC 9110 §9.3.6: the answer to a CONNECT that was dialled. */
#define PROXY_CONNECT_OK "HTTP/1.1 200 Connection established\r\n\r\n"

/* Results. Request-side errors are answered with proxy_rc_status() (400)
 * and proxy_strerror() as the body; the same framing errors in a response
 * from the origin are a 502. */
enum proxy_rc {
	PROXY_OK = 0,
	PROXY_NEED_MORE = 0,          /* chunked skipper: all used, body continues */
	PROXY_DONE = 1,               /* chunked skipper: the body ended */
	PROXY_ERR_TARGET = -1,        /* CONNECT target is not host:port */
	PROXY_ERR_HOST = -2,          /* empty, too long, bad byte, bad [IPv6] */
	PROXY_ERR_PORT = -3,          /* missing where required, or not 1..65535 */
	PROXY_ERR_NOT_ABSOLUTE = -4,  /* origin-form ("/x") sent to a proxy */
	PROXY_ERR_HTTPS = -5,         /* https:// in a plain request: use CONNECT */
	PROXY_ERR_SCHEME = -6,        /* another scheme (ftp:// ...) */
	PROXY_ERR_URI = -7,           /* userinfo or fragment in the URI */
	PROXY_ERR_LENGTH = -8,        /* invalid or repeated Content-Length */
	PROXY_ERR_FRAMING = -9,       /* both lengths; no final chunked; TE in 1.0 */
	PROXY_ERR_TOO_BIG = -10,      /* a length past 2^64, a chunk line or trailers too long */
	PROXY_ERR_CHUNK = -11,        /* malformed chunked coding */
};

/* ---- targets ---- */

struct proxy_target {
	struct http_slice host; /* without brackets; 1..PROXY_MAX_HOST bytes */
	uint16_t port;          /* 1..65535 */
	bool host_is_v6;        /* host was a [bracketed] IPv6 literal */
};

/* RFC 9112 §3.2.3 authority-form, "host:port" or "[v6]:port"; the port is
 * required. Host: letters, digits, '-', '.', '_', or a bracketed IPv6
 * literal (checked, no zone). PROXY_OK or a negative proxy_rc. */
enum proxy_rc proxy_parse_connect(struct http_slice target, struct proxy_target *t);

struct proxy_uri {
	struct proxy_target dest;  /* port PROXY_DEFAULT_PORT when absent or empty */
	struct http_slice path;    /* starts with '/': a slice of the target, or "/" */
	struct http_slice query;   /* "?..." from the target, or empty */
};

/* RFC 9112 §3.2.2 absolute-form "http://host[:port][/path][?query]"; the
 * scheme is case-insensitive. Refuses https:// (PROXY_ERR_HTTPS), other
 * schemes, origin-form, userinfo (RFC 9110 §4.2.4) and fragments. The
 * origin-form to forward is path followed by query. */
enum proxy_rc proxy_parse_absolute(struct http_slice target, struct proxy_uri *u);

/* ---- the head forwarded to the origin ---- */

/* RFC 9112 §9.3: does the sender of this head keep the connection open
 * (1.1 unless "close"; 1.0 only with "keep-alive")? Connection and the
 * non-standard Proxy-Connection are both read. */
bool proxy_keep_alive(int minor_version, const struct http_header *h, size_t n);

/* Writes the head of a plain-proxy request for the origin into out:
 *  - request line: the method, the origin-form target (path + query) and the
 *    client's own HTTP/1.x, since the response is relayed unchanged and must
 *    use framing the client understands;
 *  - Host first, from the URI (RFC 9112 §3.2.2: a proxy MUST replace the
 *    received Host), ":port" only when not 80;
 *  - every other header in order except the hop-by-hop ones (RFC 9110
 *    §7.6.1): Connection, Keep-Alive, Proxy-Connection, Proxy-Authorization,
 *    Proxy-Authenticate, TE, Trailer, Upgrade, and every field named in a
 *    Connection header — but Content-Length and Transfer-Encoding are always
 *    kept: the body is relayed as it came, so its framing must reach the
 *    origin exactly as the client sent it (we never de-chunk);
 *  - "Connection: keep-alive" or "Connection: close" as keep_alive says;
 *  - no Via: the destination is not told a proxy is in the path.
 * Returns the head's length, or 0 when it does not fit in cap. */
size_t proxy_forward_head(char *out, size_t cap, const struct http_request *req,
                          const struct proxy_uri *u, bool keep_alive);

/* ---- authentication and responses ---- */

/* True when the first Proxy-Authorization is "Basic <base64(user:pass)>"
 * (RFC 7617, scheme case-insensitive) matching user and pass, compared in
 * constant time (socks_auth_match). Anything else, including absence, is
 * false: answer with proxy_response_407(). */
bool proxy_auth_ok(const struct http_request *req, const char *user, const char *pass);

/* The responses below are complete (head and body), carry Content-Length
 * and Connection: close, and return their length or 0 if cap is too small.
 * 256 bytes hold any of them with a why of up to 100 bytes. */

/* 407 with Proxy-Authenticate: Basic realm="proxy" (RFC 9110 §11.7.1). */
size_t proxy_response_407(char *out, size_t cap);

/* status (400, 403, 405, 502, 504, ...) with why as a text/plain body, e.g.
 * "connection refused by the destination"; why NULL gives a default. */
size_t proxy_response_error(char *out, size_t cap, int status, const char *why);

/* ---- where a body ends (RFC 9112 §6.3) ---- */

enum proxy_body_kind {
	PROXY_BODY_NONE = 0, /* no body: the next message starts after the head */
	PROXY_BODY_LENGTH,   /* exactly length bytes */
	PROXY_BODY_CHUNKED,  /* feed a zero-filled struct proxy_chunked */
	PROXY_BODY_CLOSE,    /* responses only: until the origin closes */
};

struct proxy_body {
	enum proxy_body_kind kind;
	uint64_t length; /* PROXY_BODY_LENGTH only */
};

/* A request's body: chunked when Transfer-Encoding ends in chunked,
 * Content-Length bytes, else none. Errors (RFC 9112 §6.1, §6.3 items 3-5,
 * §8.6): both fields, a Transfer-Encoding without chunked last or with
 * chunked twice, Transfer-Encoding in HTTP/1.0, a Content-Length that is
 * not one run of digits or is repeated. A CONNECT has no body: after its
 * head the bytes are tunnel data, whatever the fields say. */
enum proxy_rc proxy_request_body(const struct http_request *req, struct proxy_body *b);

/* A response's body, given the request method (RFC 9112 §6.3 items 1-2):
 * none for HEAD, 1xx (a final response follows; 101 excepted), 204, 304;
 * CLOSE for 101 and 2xx to CONNECT (the connection is no longer HTTP);
 * chunked; a Transfer-Encoding without chunked last is CLOSE; Content-Length;
 * else CLOSE. Both fields, Transfer-Encoding in HTTP/1.0, or a bad
 * Content-Length are errors (answer 502). */
enum proxy_rc proxy_response_body(struct http_slice method, const struct http_response *resp,
                                  struct proxy_body *b);

/* Skips a chunked body (RFC 9112 §7.1) without copying it: chunk-size
 * (at most 16 significant hex digits), extensions and trailer fields are
 * scanned, CRLF only, lines bounded. A zero-filled struct starts a body.
 * Errors are sticky. */
struct proxy_chunked {
	uint64_t left;     /* chunk-data bytes still to skip, or the size being read */
	uint16_t line;     /* bytes of the current chunk-size or trailer line */
	uint16_t trailers; /* bytes of the trailer section so far */
	uint8_t state;     /* private */
	int8_t err;        /* sticky enum proxy_rc error, 0 if none */
};

/* Returns PROXY_NEED_MORE with *used == len (every byte belongs to the
 * body), PROXY_DONE with *used the bytes through the final CRLF (the rest
 * is the next message; later calls return PROXY_DONE using nothing), or
 * PROXY_ERR_CHUNK / PROXY_ERR_TOO_BIG. */
enum proxy_rc proxy_chunked_feed(struct proxy_chunked *c, const uint8_t *in, size_t len,
                                 size_t *used);

/* HTTP status answering a request-side error (400), and one sentence. */
int proxy_rc_status(enum proxy_rc rc);
const char *proxy_strerror(enum proxy_rc rc);

#endif
