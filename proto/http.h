/* http.h — HTTP/1.1 request and response head parser (RFC 9112) and header
 * helpers. Pure: no allocation, no I/O; results are slices into the caller's
 * buffer, valid while it is. Strict: CRLF only, bounded size and count. */
#ifndef WSF_PROTO_HTTP_H
#define WSF_PROTO_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HTTP_MAX_HEAD 8192     /* bytes of request/status line + headers */
#define HTTP_MAX_HEADERS 64    /* header fields per message */

enum http_rc {
	HTTP_NEED_MORE = 0,        /* head not complete yet */
	HTTP_ERR_SYNTAX = -1,      /* malformed: answer 400 */
	HTTP_ERR_TOO_BIG = -2,     /* head over HTTP_MAX_HEAD: 431 */
	HTTP_ERR_TOO_MANY = -3,    /* over HTTP_MAX_HEADERS: 431 */
	HTTP_ERR_VERSION = -4,     /* not HTTP/1.x: 505 */
};

struct http_slice {
	const char *p;
	size_t len;
};

struct http_header {
	struct http_slice name;  /* as sent; compare case-insensitively */
	struct http_slice value; /* leading/trailing whitespace trimmed */
};

struct http_request {
	struct http_slice method;
	struct http_slice target;  /* request-target as sent */
	int minor_version;         /* HTTP/1.x */
	size_t nheaders;
	struct http_header headers[HTTP_MAX_HEADERS];
};

struct http_response {
	int minor_version;
	int status;
	struct http_slice reason;
	size_t nheaders;
	struct http_header headers[HTTP_MAX_HEADERS];
};

/* Incremental end-of-head search so a head trickling in byte by byte costs
 * O(n) in total: *scanned carries the position between calls (start at 0).
 * Returns the head length (through the blank line) once complete,
 * HTTP_NEED_MORE, or HTTP_ERR_TOO_BIG once len passes HTTP_MAX_HEAD without an end. */
int http_head_end(const char *buf, size_t len, size_t *scanned);

/* Parse a complete head of head_len bytes (as returned by http_head_end).
 * Returns head_len on success or a negative enum http_rc. */
int http_parse_request(const char *buf, size_t head_len, struct http_request *req);
int http_parse_response(const char *buf, size_t head_len, struct http_response *resp);

/* First header named name (case-insensitive), or NULL. */
const struct http_header *http_find(const struct http_header *h, size_t n, const char *name);
/* True when the comma-separated list value holds token (case-insensitive),
 * e.g. "keep-alive, Upgrade" holds "upgrade". */
bool http_has_token(struct http_slice value, const char *token);
/* Case-insensitive equality of a slice and a NUL-terminated string. */
bool http_slice_eq(struct http_slice s, const char *str);

/* IMF-fixdate, "Sun, 06 Nov 1994 08:49:37 GMT" (RFC 9110 §5.6.7): writes
 * exactly HTTP_DATE_LEN characters (no NUL) for unix_s seconds since 1970,
 * with integer arithmetic only (no strftime, no time zone files). */
#define HTTP_DATE_LEN 29
void http_date(uint64_t unix_s, char *out);

/* HTTP status for a parse error (400, 431, 505); reason phrase for a status. */
int http_rc_status(enum http_rc rc);
const char *http_reason(int status);
const char *http_strerror(enum http_rc rc);

#endif
