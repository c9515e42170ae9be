/* http.c — HTTP/1.1 head parser (RFC 9112) and header helpers.
 * Owns nothing: every result is a slice into the caller's buffer.
 * Never allocates, logs, or does I/O; the caller maps errors to a status. */
#include "proto/http.h"

#include <string.h>

/* A read position that never passes end: every byte test checks it first. */
struct cursor {
	const char *p;
	const char *end;
};

static char ascii_lower(char c)
{
	return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

static bool mem_eq_nocase(const char *a, const char *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (ascii_lower(a[i]) != ascii_lower(b[i]))
			return false;
	return true;
}

static bool is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

/* RFC 9110 §5.6.2: tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" /
 * "-" / "." / "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA */
static bool is_tchar(unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c))
		return true;
	return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* RFC 9112 §3.2: every request-target form is made of VCHARs; the URI
 * grammar itself is the caller's business. */
static bool is_target_char(unsigned char c)
{
	return c > 0x20 && c < 0x7f;
}

/* RFC 9110 §5.5 field-vchar / SP / HTAB, which is also RFC 9112 §4's
 * reason-phrase: everything but CTLs (HTAB excepted) and DEL. */
static bool is_text_char(unsigned char c)
{
	return c == '\t' || (c >= 0x20 && c != 0x7f);
}

static bool is_ows(char c)
{
	return c == ' ' || c == '\t';
}

/* Trim optional whitespace (RFC 9110 §5.6.3) from both ends. */
static struct http_slice slice_trim(struct http_slice s)
{
	while (s.len > 0 && is_ows(s.p[0])) {
		s.p++;
		s.len--;
	}
	while (s.len > 0 && is_ows(s.p[s.len - 1]))
		s.len--;
	return s;
}

static bool cur_take(struct cursor *c, char ch)
{
	if (c->p == c->end || *c->p != ch)
		return false;
	c->p++;
	return true;
}

/* RFC 9112 §2.2: lines end in CRLF; a bare LF or bare CR is an error here. */
static bool cur_take_crlf(struct cursor *c)
{
	return cur_take(c, '\r') && cur_take(c, '\n');
}

static struct http_slice cur_span(struct cursor *c, bool (*accept)(unsigned char))
{
	struct http_slice s = { c->p, 0 };

	while (c->p != c->end && accept((unsigned char)*c->p))
		c->p++;
	s.len = (size_t)(c->p - s.p);
	return s;
}

/* Returns 0 or a negative enum http_rc, as do the take_* functions below. */
static int take_version(struct cursor *c, int *minor)
{
	const char *v = c->p;

	/* RFC 9112 §2.3: HTTP-version = "HTTP/" DIGIT "." DIGIT, case-sensitive. */
	if (c->end - v < 8 || memcmp(v, "HTTP/", 5) != 0 || !is_digit((unsigned char)v[5]) ||
	    v[6] != '.' || !is_digit((unsigned char)v[7]))
		return HTTP_ERR_SYNTAX;
	/* RFC 9110 §2.5: any 1.x is processed as the highest 1.x we know (nginx
	 * does the same); another major version is one we do not speak. */
	if (v[5] != '1')
		return HTTP_ERR_VERSION;
	*minor = v[7] - '0';
	c->p += 8;
	return 0;
}

/* RFC 9112 §3: request-line = method SP request-target SP HTTP-version CRLF,
 * single spaces only (the lenient whitespace of §3 is not taken). */
static int take_request_line(struct cursor *c, struct http_request *req)
{
	req->method = cur_span(c, is_tchar);
	if (req->method.len == 0 || !cur_take(c, ' '))
		return HTTP_ERR_SYNTAX;
	req->target = cur_span(c, is_target_char);
	if (req->target.len == 0 || !cur_take(c, ' '))
		return HTTP_ERR_SYNTAX;
	int rc = take_version(c, &req->minor_version);
	if (rc < 0)
		return rc;
	return cur_take_crlf(c) ? 0 : HTTP_ERR_SYNTAX;
}

/* RFC 9110 §15: status-code = 3DIGIT, valid range 100..599. */
static int take_status(struct cursor *c, int *status)
{
	const char *d = c->p;

	if (c->end - d < 3 || !is_digit((unsigned char)d[0]) || !is_digit((unsigned char)d[1]) ||
	    !is_digit((unsigned char)d[2]))
		return HTTP_ERR_SYNTAX;
	*status = (d[0] - '0') * 100 + (d[1] - '0') * 10 + (d[2] - '0');
	if (*status < 100 || *status > 599)
		return HTTP_ERR_SYNTAX;
	c->p += 3;
	return 0;
}

/* RFC 9112 §4: status-line = HTTP-version SP status-code SP [reason] CRLF.
 * The SP before an empty reason is required, but servers drop it often
 * enough that its absence alone is accepted. */
static int take_status_line(struct cursor *c, struct http_response *resp)
{
	int rc = take_version(c, &resp->minor_version);
	if (rc < 0)
		return rc;
	if (!cur_take(c, ' '))
		return HTTP_ERR_SYNTAX;
	rc = take_status(c, &resp->status);
	if (rc < 0)
		return rc;
	resp->reason = (struct http_slice){ c->p, 0 };
	if (cur_take_crlf(c))
		return 0;
	if (!cur_take(c, ' '))
		return HTTP_ERR_SYNTAX;
	resp->reason = cur_span(c, is_text_char);
	return cur_take_crlf(c) ? 0 : HTTP_ERR_SYNTAX;
}

/* RFC 9112 §5: field-line = field-name ":" OWS field-value OWS CRLF.
 * Whitespace before the colon is rejected (§5.1) and so is obs-fold (§5.2):
 * both leave the name empty or stop it short of the colon. */
static int take_field(struct cursor *c, struct http_header *h)
{
	h->name = cur_span(c, is_tchar);
	if (h->name.len == 0 || !cur_take(c, ':'))
		return HTTP_ERR_SYNTAX;
	h->value = slice_trim(cur_span(c, is_text_char));
	return cur_take_crlf(c) ? 0 : HTTP_ERR_SYNTAX;
}

/* Field lines up to the empty line, which must be the last bytes given. */
static int take_fields(struct cursor *c, struct http_header *h, size_t *n)
{
	for (;;) {
		if (c->p == c->end)
			return HTTP_ERR_SYNTAX;
		if (*c->p == '\r')
			break;
		if (*n == HTTP_MAX_HEADERS)
			return HTTP_ERR_TOO_MANY;
		int rc = take_field(c, &h[*n]);
		if (rc < 0)
			return rc;
		(*n)++;
	}
	if (!cur_take_crlf(c) || c->p != c->end)
		return HTTP_ERR_SYNTAX;
	return 0;
}

/* Finds "\r\n\r\n" by jumping from LF to LF (memchr is vectorised) and
 * looking back at the three bytes before; bytes below *scanned were already
 * searched and stay in buf, so a terminator split across calls is found. */
int http_head_end(const char *buf, size_t len, size_t *scanned)
{
	size_t limit = len < HTTP_MAX_HEAD ? len : HTTP_MAX_HEAD;
	size_t i = *scanned;

	while (i < limit) {
		const char *lf = memchr(buf + i, '\n', limit - i);
		if (lf == NULL) {
			i = limit;
			break;
		}
		i = (size_t)(lf - buf) + 1;
		if (i >= 4 && memcmp(lf - 3, "\r\n\r", 3) == 0) {
			*scanned = i;
			return (int)i;
		}
	}
	*scanned = i;
	/* At HTTP_MAX_HEAD bytes without an end the head cannot fit any more:
	 * say so now rather than one byte later, so that a caller whose buffer
	 * is exactly HTTP_MAX_HEAD bytes is not left waiting on a full buffer. */
	return len >= HTTP_MAX_HEAD ? HTTP_ERR_TOO_BIG : HTTP_NEED_MORE;
}

int http_parse_request(const char *buf, size_t head_len, struct http_request *req)
{
	req->nheaders = 0;
	if (head_len > HTTP_MAX_HEAD)
		return HTTP_ERR_TOO_BIG;
	if (head_len == 0)
		return HTTP_ERR_SYNTAX;

	struct cursor c = { buf, buf + head_len };
	int rc = take_request_line(&c, req);
	if (rc == 0)
		rc = take_fields(&c, req->headers, &req->nheaders);
	return rc < 0 ? rc : (int)head_len;
}

int http_parse_response(const char *buf, size_t head_len, struct http_response *resp)
{
	resp->nheaders = 0;
	if (head_len > HTTP_MAX_HEAD)
		return HTTP_ERR_TOO_BIG;
	if (head_len == 0)
		return HTTP_ERR_SYNTAX;

	struct cursor c = { buf, buf + head_len };
	int rc = take_status_line(&c, resp);
	if (rc == 0)
		rc = take_fields(&c, resp->headers, &resp->nheaders);
	return rc < 0 ? rc : (int)head_len;
}

const struct http_header *http_find(const struct http_header *h, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (http_slice_eq(h[i].name, name))
			return &h[i];
	return NULL;
}

/* RFC 9110 §5.6.1: #rule lists are comma-separated, elements may be empty. */
bool http_has_token(struct http_slice value, const char *token)
{
	size_t start = 0;

	while (start < value.len) {
		const char *item = value.p + start;
		const char *comma = memchr(item, ',', value.len - start);
		size_t len = comma ? (size_t)(comma - item) : value.len - start;
		if (http_slice_eq(slice_trim((struct http_slice){ item, len }), token))
			return true;
		start += len + 1;
	}
	return false;
}

bool http_slice_eq(struct http_slice s, const char *str)
{
	size_t n = strlen(str);
	return s.len == n && mem_eq_nocase(s.p, str, n);
}

int http_rc_status(enum http_rc rc)
{
	switch (rc) {
	case HTTP_ERR_TOO_BIG:
	case HTTP_ERR_TOO_MANY:
		return 431; /* RFC 6585 §5 */
	case HTTP_ERR_VERSION:
		return 505; /* RFC 9110 §15.6.6 */
	default:
		return 400; /* a syntax error, or a peer that stopped mid-head */
	}
}

/* RFC 9110 §15 phrases (RFC 6585 for 429 and 431). */
const char *http_reason(int status)
{
	switch (status) {
	case 101: return "Switching Protocols";
	case 200: return "OK";
	case 204: return "No Content";
	case 301: return "Moved Permanently";
	case 302: return "Found";
	case 304: return "Not Modified";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 407: return "Proxy Authentication Required";
	case 408: return "Request Timeout";
	case 409: return "Conflict";
	case 410: return "Gone";
	case 411: return "Length Required";
	case 412: return "Precondition Failed";
	case 413: return "Content Too Large";
	case 414: return "URI Too Long";
	case 426: return "Upgrade Required";
	case 429: return "Too Many Requests";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	case 505: return "HTTP Version Not Supported";
	default: return "Unknown";
	}
}

/* Indexed by -rc. */
static const char *const http_errors[] = {
	[-HTTP_NEED_MORE] = "HTTP head incomplete",
	[-HTTP_ERR_SYNTAX] = "malformed HTTP head",
	[-HTTP_ERR_TOO_BIG] = "HTTP head too large",
	[-HTTP_ERR_TOO_MANY] = "too many HTTP header fields",
	[-HTTP_ERR_VERSION] = "HTTP version not supported",
};

const char *http_strerror(enum http_rc rc)
{
	int i = -(int)rc;

	if (i < 0 || (size_t)i >= sizeof http_errors / sizeof http_errors[0])
		return "unknown HTTP error";
	return http_errors[i];
}

static void put2(char *p, unsigned v)
{
	p[0] = (char)('0' + v / 10 % 10);
	p[1] = (char)('0' + v % 10);
}

/* Days since 1970-01-01 to a proleptic Gregorian date: H. Hinnant's
 * civil_from_days (eras of 400 years, March-based years). */
void http_date(uint64_t unix_s, char *out)
{
	static const char wday[] = "ThuFriSatSunMonTueWed";
	static const char month[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
	uint64_t days = unix_s / 86400;
	unsigned secs = (unsigned)(unix_s % 86400);
	uint64_t z = days + 719468;
	uint64_t era = z / 146097;
	unsigned doe = (unsigned)(z - era * 146097);
	unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	unsigned mp = (5 * doy + 2) / 153;
	unsigned mday = doy - (153 * mp + 2) / 5 + 1;
	unsigned mon = mp < 10 ? mp + 3 : mp - 9;
	uint64_t year = yoe + era * 400 + (mon <= 2);

	memcpy(out, wday + days % 7 * 3, 3);
	memcpy(out + 3, ", ", 2);
	put2(out + 5, mday);
	out[7] = ' ';
	memcpy(out + 8, month + (mon - 1) * 3, 3);
	out[11] = ' ';
	put2(out + 12, (unsigned)(year / 100 % 100));
	put2(out + 14, (unsigned)(year % 100));
	out[16] = ' ';
	put2(out + 17, secs / 3600);
	out[19] = ':';
	put2(out + 20, secs / 60 % 60);
	out[22] = ':';
	put2(out + 23, secs % 60);
	memcpy(out + 25, " GMT", 4);
}
