/* decoy.c — nginx 1.22's request-head handling, emulated byte by byte, and
 * its error pages. Owns nothing and keeps no request bytes: every decision
 * nginx takes is taken here from counters and small state machines, ported
 * state for state from ngx_http_parse.c (request line, header line, complex
 * URI, chunked body) and ngx_http_request.c (header checks, buffers). */
#include "proto/decoy.h"

#include <string.h>

#include "proto/http.h"

enum { PH_LINE = 0, PH_HEADERS, PH_DONE };

enum { M_UNKNOWN = 0, M_GET, M_HEAD, M_POST, M_CONNECT, M_TRACE, M_OTHER };

/* ngx_http_parse_request_line's states, same order (sw_start must be 0:
 * ngx_http_alloc_large_header_buffer tests it). */
enum {
	L_START = 0, L_METHOD, L_SPACES_BEFORE_URI, L_SCHEMA, L_SCHEMA_SLASH,
	L_SCHEMA_SLASH_SLASH, L_HOST_START, L_HOST, L_HOST_END, L_HOST_IP_LITERAL,
	L_PORT, L_AFTER_SLASH_IN_URI, L_CHECK_URI, L_URI, L_HTTP_09, L_HTTP_H,
	L_HTTP_HT, L_HTTP_HTT, L_HTTP_HTTP, L_FIRST_MAJOR_DIGIT, L_MAJOR_DIGIT,
	L_FIRST_MINOR_DIGIT, L_MINOR_DIGIT, L_SPACES_AFTER_DIGIT, L_ALMOST_DONE
};

/* ngx_http_parse_header_line's states (sw_ignore_line is upstream-only). */
enum {
	H_START = 0, H_NAME, H_SPACE_BEFORE_VALUE, H_VALUE, H_SPACE_AFTER_VALUE,
	H_ALMOST_DONE, H_HEADER_ALMOST_DONE
};

/* ngx_http_parse_complex_uri's states. */
enum { U_USUAL = 0, U_SLASH, U_DOT, U_DOT_DOT, U_QUOTED, U_QUOTED_SECOND };

/* The request headers nginx acts on (ngx_http_headers_in). The unique ones
 * (a second copy is a 400) come first, one bit each in d->seen. */
enum {
	HDR_OTHER = 0, HDR_CONTENT_LENGTH, HDR_TRANSFER_ENCODING, HDR_IF_MODIFIED_SINCE,
	HDR_IF_UNMODIFIED_SINCE, HDR_IF_MATCH, HDR_IF_NONE_MATCH, HDR_CONTENT_RANGE,
	HDR_IF_RANGE, HDR_EXPECT, HDR_AUTHORIZATION, HDR_UNIQUE_END,
	HDR_HOST = HDR_UNIQUE_END, HDR_CONNECTION, HDR_USER_AGENT
};

static const char *const hdr_names[] = {
	[HDR_CONTENT_LENGTH] = "content-length", [HDR_TRANSFER_ENCODING] = "transfer-encoding",
	[HDR_IF_MODIFIED_SINCE] = "if-modified-since",
	[HDR_IF_UNMODIFIED_SINCE] = "if-unmodified-since", [HDR_IF_MATCH] = "if-match",
	[HDR_IF_NONE_MATCH] = "if-none-match", [HDR_CONTENT_RANGE] = "content-range",
	[HDR_IF_RANGE] = "if-range", [HDR_EXPECT] = "expect",
	[HDR_AUTHORIZATION] = "authorization", [HDR_HOST] = "host",
	[HDR_CONNECTION] = "connection", [HDR_USER_AGENT] = "user-agent",
};

enum { CONN_NONE = 0, CONN_CLOSE, CONN_KEEP_ALIVE };

#define CR '\r'
#define LF '\n'
#define HTTP_10 1000
#define MAX_OFF_T 0x7fffffffffffffffull /* NGX_MAX_OFF_T_VALUE */
#define NONE UINT32_MAX

/* ngx_http_parse.c `usual`: URI bytes that need no second look. */
static const uint32_t usual[] = {
	0x00000000, 0x7fff37d6, 0xffffffff, 0x7fffffff,
	0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff,
};

static bool is_usual(uint8_t ch)
{
	return usual[ch >> 5] & (1u << (ch & 0x1f));
}

static uint8_t lower(uint8_t c)
{
	return (c >= 'A' && c <= 'Z') ? (uint8_t)(c | 0x20) : c;
}

static int hex_value(uint8_t ch)
{
	uint8_t c = (uint8_t)(ch | 0x20);
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	return (c >= 'a' && c <= 'f') ? c - 'a' + 10 : -1;
}

/* nginx answers now. */
static int answer(struct decoy *d, uint16_t status)
{
	d->status = status;
	d->keepalive = false;
	return 1;
}

/* ---------------------------------------------------------------- host */

/* ngx_http_validate_host, one byte at a time. */
static void host_reset(struct decoy *d)
{
	d->hi = 0;
	d->hdot = NONE;
	d->hlen = NONE;
	d->hstate = 0;
	d->hbad = false;
}

static void host_byte(struct decoy *d, uint8_t ch)
{
	uint32_t i = d->hi++;
	switch (ch) {
	case '.':
		if (d->hdot != NONE && d->hdot + 1 == i)
			d->hbad = true;
		d->hdot = i;
		break;
	case ':':
		if (d->hstate == 0) {
			d->hlen = i;
			d->hstate = 2;
		}
		break;
	case '[':
		if (i == 0)
			d->hstate = 1;
		break;
	case ']':
		if (d->hstate == 1) {
			d->hlen = i + 1;
			d->hstate = 2;
		}
		break;
	default:
		if (ch == '/' || ch <= 0x20 || ch == 0x7f)
			d->hbad = true;
	}
}

static bool host_ok(const struct decoy *d)
{
	uint32_t len = d->hlen == NONE ? d->hi : d->hlen;
	if (d->hdot != NONE && d->hdot + 1 == len)
		len--;
	return !d->hbad && len != 0;
}

/* ---------------------------------------------------------------- URI */

/* ngx_http_parse_complex_uri without its output: only whether it fails,
 * which needs the number of '/' written (a "/.." above the root is a 400). */
static void uri_pop(struct decoy *d)
{
	if (d->usegs <= 1)
		d->ubad = true;
	else
		d->usegs--;
}

static void uri_quote(struct decoy *d)
{
	d->uqstate = d->ustate;
	d->ustate = U_QUOTED;
}

static void uri_byte(struct decoy *d, uint8_t ch)
{
	if (d->ustop || d->ubad)
		return;
	for (;;) { /* a %-decoded byte is looked at again in the state it was quoted in */
		switch (d->ustate) {
		case U_USUAL:
			if (is_usual(ch))
				return;
			if (ch == '/') {
				d->ustate = U_SLASH;
				d->usegs++;
			} else if (ch == '%') {
				uri_quote(d);
			} else if (ch == '?' || ch == '#') {
				d->ustop = true;
			}
			return;
		case U_SLASH:
			if (ch == '/')
				return; /* merge_slashes on */
			if (ch == '.' && !is_usual(ch))
				d->ustate = U_DOT;
			else if (ch == '%')
				uri_quote(d);
			else if (ch == '?' || ch == '#')
				d->ustop = true;
			else
				d->ustate = U_USUAL;
			return;
		case U_DOT:
			if (is_usual(ch))
				d->ustate = U_USUAL;
			else if (ch == '/')
				d->ustate = U_SLASH;
			else if (ch == '.')
				d->ustate = U_DOT_DOT;
			else if (ch == '%')
				uri_quote(d);
			else if (ch == '?' || ch == '#')
				d->ustop = true;
			else
				d->ustate = U_USUAL;
			return;
		case U_DOT_DOT:
			if (is_usual(ch)) {
				d->ustate = U_USUAL;
			} else if (ch == '/' || ch == '?' || ch == '#') {
				uri_pop(d);
				if (ch == '/')
					d->ustate = U_SLASH;
				else
					d->ustop = true;
			} else if (ch == '%') {
				uri_quote(d);
			} else {
				d->ustate = U_USUAL;
			}
			return;
		case U_QUOTED: {
			int v = hex_value(ch);
			if (v < 0) {
				d->ubad = true;
				return;
			}
			d->udecoded = (uint8_t)v;
			d->ustate = U_QUOTED_SECOND;
			return;
		}
		case U_QUOTED_SECOND: {
			int v = hex_value(ch);
			if (v < 0) {
				d->ubad = true;
				return;
			}
			ch = (uint8_t)((d->udecoded << 4) + v);
			if (v < 10 ? (ch == '%' || ch == '#') : ch == '?') {
				d->ustate = U_USUAL; /* kept as a literal byte */
				return;
			}
			if (ch == '\0') {
				d->ubad = true;
				return;
			}
			d->ustate = d->uqstate;
			continue;
		}
		}
		return;
	}
}

static void uri_end(struct decoy *d)
{
	if (d->ustop || d->ubad)
		return;
	if (d->ustate == U_QUOTED || d->ustate == U_QUOTED_SECOND)
		d->ubad = true;
	else if (d->ustate == U_DOT_DOT)
		uri_pop(d);
}

/* ---------------------------------------------------------------- request line */

static uint8_t method_id(const struct decoy *d)
{
	static const struct {
		const char *name;
		uint8_t id;
	} known[] = {{"GET", M_GET}, {"HEAD", M_HEAD}, {"POST", M_POST},
	             {"CONNECT", M_CONNECT}, {"TRACE", M_TRACE}};
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (strlen(known[i].name) == d->mlen && memcmp(known[i].name, d->mname, d->mlen) == 0)
			return known[i].id;
	return M_OTHER; /* PUT, OPTIONS, DELETE ... or unknown: all 405 here */
}

static uint16_t version(const struct decoy *d)
{
	return (uint16_t)(d->major * 1000 + d->minor);
}

/* The request line ended (ngx_http_process_request_line). */
static int line_done(struct decoy *d)
{
	bool v09 = version(d) < HTTP_10;
	d->http09 = v09; /* nginx sends HTTP/0.9 answers without a head */
	if (v09 && d->method != M_GET)
		return answer(d, 400); /* NGX_HTTP_PARSE_INVALID_09_METHOD */
	uri_end(d);
	if ((d->complex_uri || d->quoted_uri || d->empty_path) && d->ubad)
		return answer(d, 400);
	if (d->has_line_host && !host_ok(d))
		return answer(d, 400);
	if (v09) { /* straight to the handler: no headers, no keep-alive */
		d->whole_head = true;
		d->status = 404;
		return 1;
	}
	d->phase = PH_HEADERS;
	d->state = H_START;
	return 0;
}

/* The URI's bytes also feed the normaliser. */
static void uri_start(struct decoy *d, uint8_t ch)
{
	if (ch == '?') { /* "http://host?args": nginx puts the '/' back */
		d->empty_path = true;
		d->usegs = 1;
	}
	uri_byte(d, ch);
}

/* A URI byte in the after-slash, check-uri or uri states that ends the URI. */
static int uri_terminator(struct decoy *d, uint8_t ch)
{
	switch (ch) {
	case ' ':
		d->state = L_HTTP_09;
		return 0;
	case CR:
		d->minor = 9;
		d->state = L_ALMOST_DONE;
		return 0;
	default: /* LF */
		d->minor = 9;
		return line_done(d);
	}
}

/* One byte of ngx_http_parse_request_line. Returns 1 once nginx answers. */
static int line_byte(struct decoy *d, uint8_t ch)
{
	uint8_t c;
	switch (d->state) {
	case L_START:
		d->line_start = d->pos;
		if (ch == CR || ch == LF)
			return 0;
		if ((ch < 'A' || ch > 'Z') && ch != '_' && ch != '-')
			return answer(d, 400);
		d->mname[0] = (char)ch;
		d->mlen = 1;
		d->state = L_METHOD;
		return 0;
	case L_METHOD:
		if (ch == ' ') {
			d->method = d->mlen <= sizeof(d->mname) ? method_id(d) : M_OTHER;
			d->state = L_SPACES_BEFORE_URI;
			return 0;
		}
		if ((ch < 'A' || ch > 'Z') && ch != '_' && ch != '-')
			return answer(d, 400);
		if (d->mlen < sizeof(d->mname))
			d->mname[d->mlen] = (char)ch;
		if (d->mlen <= sizeof(d->mname))
			d->mlen++;
		return 0;
	case L_SPACES_BEFORE_URI:
		if (ch == '/') {
			uri_start(d, ch);
			d->state = L_AFTER_SLASH_IN_URI;
			return 0;
		}
		c = (uint8_t)(ch | 0x20);
		if (c >= 'a' && c <= 'z') {
			d->state = L_SCHEMA;
			return 0;
		}
		return ch == ' ' ? 0 : answer(d, 400);
	case L_SCHEMA:
		c = (uint8_t)(ch | 0x20);
		if ((c >= 'a' && c <= 'z') || (ch >= '0' && ch <= '9') || ch == '+' || ch == '-' ||
		    ch == '.')
			return 0;
		if (ch != ':')
			return answer(d, 400);
		d->state = L_SCHEMA_SLASH;
		return 0;
	case L_SCHEMA_SLASH:
	case L_SCHEMA_SLASH_SLASH:
		if (ch != '/')
			return answer(d, 400);
		d->state++;
		return 0;
	case L_HOST_START:
		d->has_line_host = true;
		host_reset(d);
		if (ch == '[') {
			host_byte(d, ch);
			d->state = L_HOST_IP_LITERAL;
			return 0;
		}
		d->state = L_HOST;
		/* fall through */
	case L_HOST:
		c = (uint8_t)(ch | 0x20);
		if ((c >= 'a' && c <= 'z') || (ch >= '0' && ch <= '9') || ch == '.' || ch == '-') {
			host_byte(d, ch);
			return 0;
		}
		/* fall through */
	case L_HOST_END:
		switch (ch) {
		case ':':
			d->state = L_PORT;
			return 0;
		case '/':
			uri_start(d, ch);
			d->state = L_AFTER_SLASH_IN_URI;
			return 0;
		case '?':
			uri_start(d, ch);
			d->state = L_URI;
			return 0;
		case ' ':
			d->state = L_HTTP_09; /* the URI is "/" */
			return 0;
		default:
			return answer(d, 400);
		}
	case L_HOST_IP_LITERAL:
		c = (uint8_t)(ch | 0x20);
		if ((ch >= '0' && ch <= '9') || (c >= 'a' && c <= 'z') || (ch && strchr(":-._~!$&'()*+,;=", ch))) {
			host_byte(d, ch);
			return 0;
		}
		if (ch != ']')
			return answer(d, 400);
		host_byte(d, ch);
		d->state = L_HOST_END;
		return 0;
	case L_PORT:
		if (ch >= '0' && ch <= '9')
			return 0;
		switch (ch) {
		case '/':
			uri_start(d, ch);
			d->state = L_AFTER_SLASH_IN_URI;
			return 0;
		case '?':
			uri_start(d, ch);
			d->state = L_URI;
			return 0;
		case ' ':
			d->state = L_HTTP_09;
			return 0;
		default:
			return answer(d, 400);
		}
	case L_AFTER_SLASH_IN_URI:
		if (is_usual(ch)) {
			uri_byte(d, ch);
			d->state = L_CHECK_URI;
			return 0;
		}
		switch (ch) {
		case ' ':
		case CR:
		case LF:
			return uri_terminator(d, ch);
		case '.':
		case '/':
		case '#':
			d->complex_uri = true;
			d->state = L_URI;
			break;
		case '%':
			d->quoted_uri = true;
			d->state = L_URI;
			break;
		case '?':
			d->state = L_URI;
			break;
		case '+':
			break;
		default:
			if (ch < 0x20 || ch == 0x7f)
				return answer(d, 400);
			d->state = L_CHECK_URI;
		}
		uri_byte(d, ch);
		return 0;
	case L_CHECK_URI:
		if (is_usual(ch)) {
			uri_byte(d, ch);
			return 0;
		}
		switch (ch) {
		case ' ':
		case CR:
		case LF:
			return uri_terminator(d, ch);
		case '/':
			d->state = L_AFTER_SLASH_IN_URI;
			break;
		case '%':
			d->quoted_uri = true;
			d->state = L_URI;
			break;
		case '?':
			d->state = L_URI;
			break;
		case '#':
			d->complex_uri = true;
			d->state = L_URI;
			break;
		case '.':
		case '+':
			break;
		default:
			if (ch < 0x20 || ch == 0x7f)
				return answer(d, 400);
		}
		uri_byte(d, ch);
		return 0;
	case L_URI:
		if (is_usual(ch)) {
			uri_byte(d, ch);
			return 0;
		}
		switch (ch) {
		case ' ':
		case CR:
		case LF:
			return uri_terminator(d, ch);
		case '#':
			d->complex_uri = true;
			break;
		default:
			if (ch < 0x20 || ch == 0x7f)
				return answer(d, 400);
		}
		uri_byte(d, ch);
		return 0;
	case L_HTTP_09:
		switch (ch) {
		case ' ':
			return 0;
		case CR:
			d->minor = 9;
			d->state = L_ALMOST_DONE;
			return 0;
		case LF:
			d->minor = 9;
			return line_done(d);
		case 'H':
			d->state = L_HTTP_H;
			return 0;
		default:
			return answer(d, 400);
		}
	case L_HTTP_H:
	case L_HTTP_HT:
	case L_HTTP_HTT:
	case L_HTTP_HTTP:
		if (ch != "TTP/"[d->state - L_HTTP_H])
			return answer(d, 400);
		d->state++;
		return 0;
	case L_FIRST_MAJOR_DIGIT:
		if (ch < '1' || ch > '9')
			return answer(d, 400);
		d->major = ch - '0';
		if (d->major > 1)
			return answer(d, 505);
		d->state = L_MAJOR_DIGIT;
		return 0;
	case L_MAJOR_DIGIT:
		if (ch == '.') {
			d->state = L_FIRST_MINOR_DIGIT;
			return 0;
		}
		if (ch < '0' || ch > '9')
			return answer(d, 400);
		d->major = (uint16_t)(d->major * 10 + (ch - '0'));
		return d->major > 1 ? answer(d, 505) : 0;
	case L_FIRST_MINOR_DIGIT:
		if (ch < '0' || ch > '9')
			return answer(d, 400);
		d->minor = ch - '0';
		d->state = L_MINOR_DIGIT;
		return 0;
	case L_MINOR_DIGIT:
		if (ch == CR) {
			d->state = L_ALMOST_DONE;
			return 0;
		}
		if (ch == LF)
			return line_done(d);
		if (ch == ' ') {
			d->state = L_SPACES_AFTER_DIGIT;
			return 0;
		}
		if (ch < '0' || ch > '9' || d->minor > 99)
			return answer(d, 400);
		d->minor = (uint16_t)(d->minor * 10 + (ch - '0'));
		return 0;
	case L_SPACES_AFTER_DIGIT:
		switch (ch) {
		case ' ':
			return 0;
		case CR:
			d->state = L_ALMOST_DONE;
			return 0;
		case LF:
			return line_done(d);
		default:
			return answer(d, 400);
		}
	case L_ALMOST_DONE:
		return ch == LF ? line_done(d) : answer(d, 400);
	}
	return answer(d, 400);
}

/* ---------------------------------------------------------------- header lines */

/* A case-insensitive substring search fed one byte at a time. Exact for the
 * patterns used here: none has a proper prefix that is also its suffix. */
static void match(uint8_t *k, bool *found, const char *pat, uint8_t ch, bool nocase)
{
	if (*found)
		return;
	if (nocase)
		ch = lower(ch);
	if ((uint8_t)pat[*k] == ch)
		(*k)++;
	else
		*k = (uint8_t)pat[0] == ch;
	if (pat[*k] == '\0')
		*found = true;
}

static void value_begin(struct decoy *d)
{
	d->vlen = 0;
	d->vspaces = 0;
	d->m_close = d->m_keep = d->m_msie = d->m_opera = d->m_gecko = d->m_chrome = d->m_sv1 = 0;
	d->f_close = d->f_keep = d->f_msie = d->f_opera = d->f_gecko = d->f_chrome = d->f_sv1 = false;
	d->te_len = 0;
	d->te_bad = false;
	d->cl = 0;
	d->cl_bad = false;
	d->msie5 = d->msie6 = 0;
	if (d->hid == HDR_HOST)
		host_reset(d);
}

/* One byte of a value that nginx keeps (trailing spaces are not). */
static void value_take(struct decoy *d, uint8_t ch)
{
	uint32_t i = d->vlen++;
	switch (d->hid) {
	case HDR_HOST:
		host_byte(d, ch);
		break;
	case HDR_CONNECTION:
		match(&d->m_close, &d->f_close, "close", ch, true);
		match(&d->m_keep, &d->f_keep, "keep-alive", ch, true);
		break;
	case HDR_USER_AGENT:
		if (d->ua_seen)
			break;
		if (!d->f_msie) {
			match(&d->m_msie, &d->f_msie, "MSIE ", ch, false);
			if (d->f_msie)
				d->msie_at = i - 4;
		} else if (i == d->msie_at + 5) {
			d->msie5 = (char)ch;
		} else if (i == d->msie_at + 6) {
			d->msie6 = (char)ch;
		}
		if (d->f_msie && i >= d->msie_at + 8)
			match(&d->m_sv1, &d->f_sv1, "SV1", ch, false);
		match(&d->m_opera, &d->f_opera, "Opera", ch, false);
		match(&d->m_gecko, &d->f_gecko, "Gecko/", ch, false);
		match(&d->m_chrome, &d->f_chrome, "Chrome/", ch, false);
		break;
	case HDR_CONTENT_LENGTH: /* ngx_atoof */
		if (ch < '0' || ch > '9' ||
		    (d->cl >= MAX_OFF_T / 10 && (d->cl > MAX_OFF_T / 10 || (uint64_t)(ch - '0') > MAX_OFF_T % 10)))
			d->cl_bad = true;
		else
			d->cl = d->cl * 10 + (uint64_t)(ch - '0');
		break;
	case HDR_TRANSFER_ENCODING:
		if (d->te_len >= 7 || lower(ch) != (uint8_t)"chunked"[d->te_len])
			d->te_bad = true;
		if (d->te_len < 255)
			d->te_len++;
		break;
	default:
		break;
	}
}

static void value_byte(struct decoy *d, uint8_t ch)
{
	if (d->hinvalid)
		return;
	if (ch == ' ') {
		d->vspaces++;
		return;
	}
	for (; d->vspaces; d->vspaces--)
		value_take(d, ' ');
	value_take(d, ch);
}

static uint8_t header_id(const struct decoy *d)
{
	if (d->hnlen > sizeof(d->hname))
		return HDR_OTHER;
	for (size_t i = 1; i < sizeof(hdr_names) / sizeof(hdr_names[0]); i++)
		if (strlen(hdr_names[i]) == d->hnlen && memcmp(hdr_names[i], d->hname, d->hnlen) == 0)
			return (uint8_t)i;
	return HDR_OTHER;
}

/* The name ended: from here the value's bytes go where they matter. */
static void name_done(struct decoy *d)
{
	d->hid = d->hinvalid ? HDR_OTHER : header_id(d);
	value_begin(d);
}

/* ngx_http_process_user_agent's verdicts. */
static void user_agent_done(struct decoy *d)
{
	d->ua_seen = true;
	bool msie = d->f_msie && d->vlen > d->msie_at + 7;
	bool ie6 = false;
	if (msie && d->msie6 == '.')
		ie6 = d->msie5 == '4' || d->msie5 == '5' || (d->msie5 == '6' && !d->f_sv1);
	if (d->f_opera)
		msie = ie6 = false;
	d->msie = msie;
	d->ie6 = ie6;
	d->chrome = !msie && !d->f_opera && !d->f_gecko && d->f_chrome;
}

/* A whole header line (ngx_http_process_request_headers). */
static int header_line_done(struct decoy *d)
{
	d->state = H_START;
	if (d->hinvalid) /* ignore_invalid_headers on: skipped */
		return 0;
	if (d->hid != HDR_OTHER && d->hid < HDR_UNIQUE_END) {
		if (d->seen & (1u << d->hid))
			return answer(d, 400);
		d->seen |= (uint16_t)(1u << d->hid);
	}
	switch (d->hid) {
	case HDR_HOST:
		if (d->has_host || !host_ok(d))
			return answer(d, 400);
		d->has_host = true;
		break;
	case HDR_CONNECTION:
		if (d->f_close)
			d->conn = CONN_CLOSE;
		else if (d->f_keep)
			d->conn = CONN_KEEP_ALIVE;
		break;
	case HDR_USER_AGENT:
		if (!d->ua_seen)
			user_agent_done(d);
		break;
	case HDR_CONTENT_LENGTH:
		d->has_cl = true;
		d->cl_invalid = d->cl_bad || d->vlen == 0;
		d->body_len = d->cl;
		break;
	case HDR_TRANSFER_ENCODING:
		d->has_te = true;
		d->te_chunked = !d->te_bad && d->te_len == 7;
		break;
	default:
		break;
	}
	return 0;
}

/* The empty line: ngx_http_process_request_header, then what the handler
 * of an empty root says (ngx_http_handler, the find-config phase, the
 * static and index modules). */
static int head_done(struct decoy *d)
{
	uint16_t v = version(d);
	d->whole_head = true;
	if ((!d->has_host && v > HTTP_10) || (d->has_cl && d->cl_invalid)) {
		d->body_len = 0; /* not parsed yet: nginx will not wait for a body */
		return answer(d, 400);
	}
	if (d->has_te) {
		if (v < HTTP_10 + 1 || (d->te_chunked && d->has_cl))
			return answer(d, 400);
		if (!d->te_chunked)
			return answer(d, 501);
		d->chunked = true;
	}
	if (d->method == M_CONNECT || d->method == M_TRACE)
		return answer(d, 405); /* before keep-alive is decided: closes */
	d->keepalive = d->conn == CONN_NONE ? v > HTTP_10 : d->conn == CONN_KEEP_ALIVE;
	if (d->ie6 && d->method == M_POST)
		d->keepalive = false; /* keepalive_disable msie6 */
	if (d->has_cl && d->cl > DECOY_MAX_BODY) {
		d->status = 413;
		d->keepalive = false;
		return 1;
	}
	d->status = (d->method == M_GET || d->method == M_HEAD || d->method == M_POST) ? 404 : 405;
	return 1;
}

/* One byte of ngx_http_parse_header_line. Returns 1 once nginx answers. */
static int header_byte(struct decoy *d, uint8_t ch)
{
	uint8_t c = (uint8_t)(lower(ch));
	bool name_char = (c >= 'a' && c <= 'z') || (ch >= '0' && ch <= '9') || ch == '-';
	switch (d->state) {
	case H_START:
		d->line_start = d->pos;
		d->hinvalid = false;
		d->hnlen = 0;
		if (ch == CR) {
			d->state = H_HEADER_ALMOST_DONE;
			return 0;
		}
		if (ch == LF)
			return head_done(d);
		if (!name_char && ch != '_' && (ch <= 0x20 || ch == 0x7f || ch == ':'))
			return answer(d, 400);
		d->state = H_NAME;
		/* fall through */
	case H_NAME:
		if (name_char) {
			if (d->hnlen < sizeof(d->hname))
				d->hname[d->hnlen] = c;
			if (d->hnlen <= sizeof(d->hname))
				d->hnlen++;
			return 0;
		}
		if (ch == ':') {
			name_done(d);
			d->state = H_SPACE_BEFORE_VALUE;
			return 0;
		}
		if (ch == CR || ch == LF) { /* a name without a value */
			name_done(d);
			if (ch == LF)
				return header_line_done(d);
			d->state = H_ALMOST_DONE;
			return 0;
		}
		if (ch != '_' && (ch <= 0x20 || ch == 0x7f))
			return answer(d, 400);
		d->hinvalid = true; /* underscores_in_headers off, or not a token */
		return 0;
	case H_SPACE_BEFORE_VALUE:
		switch (ch) {
		case ' ':
			return 0;
		case CR:
			d->state = H_ALMOST_DONE;
			return 0;
		case LF:
			return header_line_done(d);
		case '\0':
			return answer(d, 400);
		default:
			value_byte(d, ch);
			d->state = H_VALUE;
			return 0;
		}
	case H_VALUE:
	case H_SPACE_AFTER_VALUE:
		switch (ch) {
		case CR:
			d->state = H_ALMOST_DONE;
			return 0;
		case LF:
			return header_line_done(d);
		case '\0':
			return answer(d, 400);
		default:
			value_byte(d, ch);
			d->state = ch == ' ' ? H_SPACE_AFTER_VALUE : H_VALUE;
			return 0;
		}
	case H_ALMOST_DONE:
		if (ch == LF)
			return header_line_done(d);
		return ch == CR ? 0 : answer(d, 400);
	case H_HEADER_ALMOST_DONE:
		return ch == LF ? head_done(d) : answer(d, 400);
	}
	return answer(d, 400);
}

/* ---------------------------------------------------------------- buffers */

/* The header buffer is full and nginx still reads the head:
 * ngx_http_alloc_large_header_buffer. Returns 1 when it answers instead. */
static int grow(struct decoy *d)
{
	bool line = d->phase == PH_LINE;
	if (line && d->state == L_START) { /* only empty lines so far: reuse it */
		d->buf_end = d->pos + (d->large ? DECOY_LARGE_BUF : DECOY_HEADER_BUF);
		return 0;
	}
	if ((d->state != 0 && d->pos - d->line_start >= DECOY_LARGE_BUF) ||
	    d->nbusy >= DECOY_LARGE_BUFS)
		return answer(d, line ? 414 : 494);
	d->nbusy++;
	d->large = true;
	d->buf_end = (d->state == 0 ? d->pos : d->line_start) + DECOY_LARGE_BUF;
	return 0;
}

enum decoy_rc decoy_feed(struct decoy *d, const uint8_t *in, size_t len, size_t *used)
{
	*used = 0;
	if (d->phase == PH_DONE)
		return DECOY_DONE;
	if (d->buf_end == 0)
		d->buf_end = DECOY_HEADER_BUF;
	for (size_t i = 0; i < len;) {
		uint8_t ch = in[i++];
		int rc = d->phase == PH_LINE ? line_byte(d, ch) : header_byte(d, ch);
		d->pos++;
		if (rc == 0 && d->pos == d->buf_end)
			rc = grow(d);
		if (rc) {
			d->head_only = d->method == M_HEAD && !d->http09;
			d->padding = (d->msie || d->chrome) && !d->http09;
			d->phase = PH_DONE;
			*used = i;
			return DECOY_DONE;
		}
	}
	*used = len;
	return DECOY_NEED_MORE;
}

bool decoy_idle(const struct decoy *d)
{
	return d->phase == PH_LINE && d->state == L_START;
}

void decoy_next(struct decoy *d, bool pipelined)
{
	uint32_t left = d->buf_end > d->pos ? d->buf_end - d->pos : 0;
	bool large = d->large;
	memset(d, 0, sizeof(*d));
	if (pipelined && left) { /* ngx_http_set_keepalive: the same buffer goes on */
		d->buf_end = left;
		d->large = large;
		d->nbusy = large;
	}
}

/* ---------------------------------------------------------------- chunked body */

enum {
	C_START = 0, C_SIZE, C_EXT, C_EXT_ALMOST_DONE, C_DATA, C_AFTER_DATA,
	C_AFTER_DATA_ALMOST_DONE, C_LAST_EXT, C_LAST_EXT_ALMOST_DONE, C_TRAILER,
	C_TRAILER_ALMOST_DONE, C_TRAILER_HEADER, C_TRAILER_HEADER_ALMOST_DONE
};

/* ngx_http_parse_chunked, state for state; the data is skipped. */
int decoy_chunked_feed(struct decoy *d, const uint8_t *in, size_t len, size_t *used)
{
	size_t i = 0;
	*used = 0;
	while (i < len) {
		if (d->cstate == C_DATA) {
			uint64_t n = len - i < d->csize ? len - i : d->csize;
			i += (size_t)n;
			d->csize -= n;
			if (d->csize == 0)
				d->cstate = C_AFTER_DATA;
			continue;
		}
		uint8_t ch = in[i++];
		int v = hex_value(ch);
		switch (d->cstate) {
		case C_START:
			if (v < 0)
				return -1;
			d->csize = (uint64_t)v;
			d->cstate = C_SIZE;
			break;
		case C_SIZE:
			if (d->csize > MAX_OFF_T / 16)
				return -1;
			if (v >= 0) {
				d->csize = d->csize * 16 + (uint64_t)v;
				break;
			}
			if (ch == CR)
				d->cstate = d->csize ? C_EXT_ALMOST_DONE : C_LAST_EXT_ALMOST_DONE;
			else if (ch == LF)
				d->cstate = d->csize ? C_DATA : C_TRAILER;
			else if (ch == ';' || ch == ' ' || ch == '\t')
				d->cstate = d->csize ? C_EXT : C_LAST_EXT;
			else
				return -1;
			if (d->csize > MAX_OFF_T - 5)
				return -1;
			break;
		case C_EXT:
		case C_LAST_EXT:
			if (ch == CR)
				d->cstate++;
			else if (ch == LF)
				d->cstate = d->cstate == C_EXT ? C_DATA : C_TRAILER;
			break;
		case C_EXT_ALMOST_DONE:
		case C_LAST_EXT_ALMOST_DONE:
			if (ch != LF)
				return -1;
			d->cstate = d->cstate == C_EXT_ALMOST_DONE ? C_DATA : C_TRAILER;
			break;
		case C_AFTER_DATA:
			if (ch == CR)
				d->cstate = C_AFTER_DATA_ALMOST_DONE;
			else if (ch == LF)
				d->cstate = C_START;
			else
				return -1;
			break;
		case C_AFTER_DATA_ALMOST_DONE:
			if (ch != LF)
				return -1;
			d->cstate = C_START;
			break;
		case C_TRAILER:
			if (ch == LF) {
				*used = i;
				return 1;
			}
			d->cstate = ch == CR ? C_TRAILER_ALMOST_DONE : C_TRAILER_HEADER;
			break;
		case C_TRAILER_ALMOST_DONE:
			if (ch != LF)
				return -1;
			*used = i;
			return 1;
		case C_TRAILER_HEADER:
			if (ch == CR)
				d->cstate = C_TRAILER_HEADER_ALMOST_DONE;
			else if (ch == LF)
				d->cstate = C_TRAILER;
			break;
		case C_TRAILER_HEADER_ALMOST_DONE:
			if (ch != LF)
				return -1;
			d->cstate = C_TRAILER;
			break;
		}
	}
	*used = len;
	return 0;
}

/* ---------------------------------------------------------------- the pages */

#define PAGE(title, h1) \
	"<html>\r\n<head><title>" title "</title></head>\r\n<body>\r\n<center><h1>" h1 "</h1></center>\r\n"
#define PAGE1(t) PAGE(t, t)

static const char page_tail[] = "<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n";

/* ngx_http_msie_padding: sent to MSIE and Chrome after 4xx/5xx pages. */
#define PAD_LINE "<!-- a padding to disable MSIE and Chrome friendly error page -->\r\n"
static const char page_padding[] = PAD_LINE PAD_LINE PAD_LINE PAD_LINE PAD_LINE PAD_LINE;

static const struct {
	uint16_t status;
	const char *line; /* ngx_http_status_lines */
	const char *page; /* ngx_http_error_pages */
} pages[] = {
	{400, "400 Bad Request", PAGE1("400 Bad Request")},
	{404, "404 Not Found", PAGE1("404 Not Found")},
	{405, "405 Not Allowed", PAGE1("405 Not Allowed")},
	{413, "413 Request Entity Too Large", PAGE1("413 Request Entity Too Large")},
	{414, "414 Request-URI Too Large", PAGE1("414 Request-URI Too Large")},
	{494, "400 Bad Request",
	 PAGE("400 Request Header Or Cookie Too Large", "400 Bad Request")
	 "<center>Request Header Or Cookie Too Large</center>\r\n"},
	{501, "501 Not Implemented", PAGE1("501 Not Implemented")},
	{505, "505 HTTP Version Not Supported", PAGE1("505 HTTP Version Not Supported")},
};

static char *put(char *p, const char *s)
{
	size_t n = strlen(s);
	memcpy(p, s, n);
	return p + n;
}

static char *put_uint(char *p, size_t v)
{
	char tmp[20];
	size_t n = 0;
	do
		tmp[n++] = (char)('0' + v % 10);
	while ((v /= 10) != 0);
	while (n)
		*p++ = tmp[--n];
	return p;
}

size_t decoy_answer(const struct decoy *d, bool keepalive, const char *date, char *out)
{
	size_t k = 0;
	while (k + 1 < sizeof(pages) / sizeof(pages[0]) && pages[k].status != d->status)
		k++;
	char *p = out;
	size_t body = strlen(pages[k].page) + sizeof(page_tail) - 1 +
	              (d->padding ? sizeof(page_padding) - 1 : 0);
	if (!d->http09) { /* ngx_http_header_filter: HTTP/0.9 gets no head */
		p = put(p, "HTTP/1.1 ");
		p = put(p, pages[k].line);
		p = put(p, "\r\nServer: nginx\r\nDate: ");
		memcpy(p, date, HTTP_DATE_LEN);
		p += HTTP_DATE_LEN;
		p = put(p, "\r\nContent-Type: text/html\r\nContent-Length: ");
		p = put_uint(p, body);
		p = put(p, keepalive ? "\r\nConnection: keep-alive\r\n\r\n" : "\r\nConnection: close\r\n\r\n");
		if (d->head_only)
			return (size_t)(p - out);
	}
	p = put(p, pages[k].page);
	p = put(p, page_tail);
	if (d->padding)
		p = put(p, page_padding);
	return (size_t)(p - out);
}
