/* proxy.c — HTTP proxy front end helpers (RFC 9110, RFC 9112): targets,
 * forwarded heads, Basic proxy auth, short responses, body framing and a
 * chunked-body skipper. Owns nothing; never allocates, logs or does I/O. */
#include "proto/text.h"
#include "proto/proxy.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h> /* AF_INET6 for inet_pton only */

#include "proto/base64.h"
#include "proto/socks.h"
#include "proto/url.h"

/* ---- small text helpers ---- */

static char ascii_lower(char c)
{
	return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

static bool slices_eq_nocase(struct http_slice a, struct http_slice b)
{
	if (a.len != b.len)
		return false;
	for (size_t i = 0; i < a.len; i++)
		if (ascii_lower(a.p[i]) != ascii_lower(b.p[i]))
			return false;
	return true;
}

static bool starts_with_nocase(struct http_slice s, const char *prefix)
{
	size_t n = strlen(prefix);
	return s.len >= n && http_slice_eq((struct http_slice){ s.p, n }, prefix);
}

static struct http_slice slice_trim(struct http_slice s)
{
	while (s.len > 0 && (s.p[0] == ' ' || s.p[0] == '\t')) {
		s.p++;
		s.len--;
	}
	while (s.len > 0 && (s.p[s.len - 1] == ' ' || s.p[s.len - 1] == '\t'))
		s.len--;
	return s;
}

/* RFC 9110 §5.6.1: does the comma-separated list hold item (a slice, so a
 * header name can be looked up without copying)? Empty elements skipped. */
static bool list_has(struct http_slice list, struct http_slice item)
{
	size_t start = 0;

	while (start < list.len) {
		const char *elem = list.p + start;
		const char *comma = memchr(elem, ',', list.len - start);
		size_t len = comma ? (size_t)(comma - elem) : list.len - start;
		if (slices_eq_nocase(slice_trim((struct http_slice){ elem, len }), item))
			return true;
		start += len + 1;
	}
	return false;
}

/* ---- targets ---- */

static bool host_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '.' || c == '_';
}

/* A bracketed literal must be an IPv6 address (RFC 3986 §3.2.2); zones
 * (RFC 6874) and IPvFuture are refused. */
static bool ipv6_literal_ok(const char *p, size_t n)
{
	char text[INET6_ADDRSTRLEN];
	struct in6_addr addr;

	if (n == 0 || n >= sizeof text)
		return false;
	memcpy(text, p, n);
	text[n] = '\0';
	return inet_pton(AF_INET6, text, &addr) == 1;
}

static enum proxy_rc check_host(const char *p, size_t n, bool v6)
{
	if (n == 0 || n > PROXY_MAX_HOST)
		return PROXY_ERR_HOST;
	if (v6)
		return ipv6_literal_ok(p, n) ? PROXY_OK : PROXY_ERR_HOST;
	for (size_t i = 0; i < n; i++)
		if (!host_char(p[i]))
			return PROXY_ERR_HOST;
	return PROXY_OK;
}

/* "[" v6 "]" [":" port]: the text between the brackets and where the port
 * starts (NULL when absent). */
static enum proxy_rc split_bracketed(const char *p, const char *end, struct http_slice *host,
                                     const char **port)
{
	const char *close = memchr(p, ']', (size_t)(end - p));

	if (close == NULL)
		return PROXY_ERR_HOST;
	if (close + 1 < end && close[1] != ':')
		return PROXY_ERR_HOST;
	*host = (struct http_slice){ p + 1, (size_t)(close - p - 1) };
	*port = close + 1 < end ? close + 2 : NULL;
	return PROXY_OK;
}

/* host [":" port]; a second ':' is an IPv6 literal without its brackets. */
static enum proxy_rc split_plain(const char *p, const char *end, struct http_slice *host,
                                 const char **port)
{
	const char *colon = memchr(p, ':', (size_t)(end - p));

	if (colon && memchr(colon + 1, ':', (size_t)(end - colon - 1)))
		return PROXY_ERR_HOST;
	*host = (struct http_slice){ p, colon ? (size_t)(colon - p) : (size_t)(end - p) };
	*port = colon ? colon + 1 : NULL;
	return PROXY_OK;
}

/* port_required: the authority-form of CONNECT (RFC 9112 §3.2.3);
 * otherwise an absent or empty port (RFC 3986 §3.2.3) means
 * PROXY_DEFAULT_PORT. */
static enum proxy_rc split_authority(const char *p, size_t n, bool port_required,
                                     struct proxy_target *t)
{
	const char *port = NULL, *end = p + n;
	struct http_slice host;

	t->host_is_v6 = n > 0 && p[0] == '[';
	enum proxy_rc rc = t->host_is_v6 ? split_bracketed(p, end, &host, &port)
	                                 : split_plain(p, end, &host, &port);
	if (rc == PROXY_OK)
		rc = check_host(host.p, host.len, t->host_is_v6);
	if (rc != PROXY_OK)
		return rc;
	t->host = host;
	t->port = PROXY_DEFAULT_PORT;
	if (port == NULL || port == end)
		return port_required ? PROXY_ERR_PORT : PROXY_OK;
	return url_parse_port(port, (unsigned long)(end - port), &t->port) == 0 ? PROXY_OK
	                                                                        : PROXY_ERR_PORT;
}

enum proxy_rc proxy_parse_connect(struct http_slice target, struct proxy_target *t)
{
	if (target.len == 0 || target.p[0] == '/' || memchr(target.p, '/', target.len) ||
	    memchr(target.p, '@', target.len))
		return PROXY_ERR_TARGET; /* a path or userinfo: not authority-form */
	return split_authority(target.p, target.len, true, t);
}

static bool is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* RFC 3986 §3.1: scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) ":" */
static bool has_scheme(struct http_slice s)
{
	size_t i = 1;

	if (s.len == 0 || !is_alpha(s.p[0]))
		return false;
	while (i < s.len && (is_alpha(s.p[i]) || (s.p[i] >= '0' && s.p[i] <= '9') ||
	                     s.p[i] == '+' || s.p[i] == '-' || s.p[i] == '.'))
		i++;
	return i < s.len && s.p[i] == ':';
}

static enum proxy_rc take_scheme(struct http_slice t, size_t *skip)
{
	if (starts_with_nocase(t, "http://")) {
		*skip = 7;
		return PROXY_OK;
	}
	if (starts_with_nocase(t, "https://"))
		return PROXY_ERR_HTTPS; /* the client tunnels TLS with CONNECT */
	if (starts_with_nocase(t, "http:") || starts_with_nocase(t, "https:"))
		return PROXY_ERR_URI; /* no "//authority" */
	return has_scheme(t) ? PROXY_ERR_SCHEME : PROXY_ERR_NOT_ABSOLUTE;
}

/* Everything after the authority: "" | "/path" ["?q"] | "?q". */
static void split_path(const char *p, size_t n, struct proxy_uri *u)
{
	const char *q = memchr(p, '?', n);
	size_t path_len = q ? (size_t)(q - p) : n;

	u->query = (struct http_slice){ p + path_len, n - path_len };
	/* RFC 9112 §3.2.1: an empty path is sent as "/". */
	u->path = path_len ? (struct http_slice){ p, path_len } : (struct http_slice){ "/", 1 };
}

enum proxy_rc proxy_parse_absolute(struct http_slice target, struct proxy_uri *u)
{
	size_t skip = 0;
	enum proxy_rc rc = take_scheme(target, &skip);
	if (rc != PROXY_OK)
		return rc;

	const char *auth = target.p + skip, *end = target.p + target.len, *stop = auth;
	while (stop < end && *stop != '/' && *stop != '?' && *stop != '#')
		stop++;
	/* RFC 9110 §4.2.4: userinfo is an error; RFC 9112 §3.2.2: absolute-URI
	 * has no fragment. */
	if (memchr(auth, '@', (size_t)(stop - auth)) || memchr(stop, '#', (size_t)(end - stop)))
		return PROXY_ERR_URI;
	rc = split_authority(auth, (size_t)(stop - auth), false, &u->dest);
	if (rc != PROXY_OK)
		return rc;
	split_path(stop, (size_t)(end - stop), u);
	return PROXY_OK;
}

/* ---- forwarded head ---- */

bool proxy_keep_alive(int minor_version, const struct http_header *h, size_t n)
{
	bool close = false, keep = false;

	for (size_t i = 0; i < n; i++) {
		if (!http_slice_eq(h[i].name, "Connection") &&
		    !http_slice_eq(h[i].name, "Proxy-Connection"))
			continue;
		close |= http_has_token(h[i].value, "close");
		keep |= http_has_token(h[i].value, "keep-alive");
	}
	if (close)
		return false;
	return minor_version >= 1 || keep; /* RFC 9112 §9.3 */
}

/* RFC 9110 §7.6.1 hop-by-hop fields, and Host, which is rewritten. */
static bool is_hop_by_hop(struct http_slice name)
{
	static const char *const names[] = {
		"Connection", "Keep-Alive", "Proxy-Connection", "Proxy-Authorization",
		"Proxy-Authenticate", "TE", "Trailer", "Upgrade", "Host",
	};
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		if (http_slice_eq(name, names[i]))
			return true;
	return false;
}

/* The body is relayed as received, so its framing fields go with it even
 * when a Connection header names them (which §7.6.1 forbids anyway). */
static bool is_framing(struct http_slice name)
{
	return http_slice_eq(name, "Content-Length") || http_slice_eq(name, "Transfer-Encoding");
}

static bool named_by_connection(const struct http_request *req, struct http_slice name)
{
	for (size_t i = 0; i < req->nheaders; i++)
		if (http_slice_eq(req->headers[i].name, "Connection") &&
		    list_has(req->headers[i].value, name))
			return true;
	return false;
}

static bool forward_field(const struct http_request *req, struct http_slice name)
{
	if (is_framing(name))
		return true;
	return !is_hop_by_hop(name) && !named_by_connection(req, name);
}

static void put_slice(struct text_out *o, struct http_slice s)
{
	text_put_bytes(o, s.p, s.len);
}

static void put_host_header(struct text_out *o, const struct proxy_target *t)
{
	text_put_str(o, "Host: ");
	text_put_str(o, t->host_is_v6 ? "[" : "");
	put_slice(o, t->host);
	text_put_str(o, t->host_is_v6 ? "]" : "");
	if (t->port != PROXY_DEFAULT_PORT) {
		text_put_str(o, ":");
		text_put_uint(o, t->port);
	}
	text_put_str(o, "\r\n");
}

size_t proxy_forward_head(char *out, size_t cap, const struct http_request *req,
                          const struct proxy_uri *u, bool keep_alive)
{
	struct text_out o = { out, cap, 0, false };

	put_slice(&o, req->method);
	text_put_str(&o, " ");
	put_slice(&o, u->path);
	put_slice(&o, u->query);
	text_put_str(&o, " HTTP/1.");
	text_put_uint(&o, (unsigned)req->minor_version);
	text_put_str(&o, "\r\n");
	put_host_header(&o, &u->dest); /* RFC 9110 §7.2: Host goes first */
	for (size_t i = 0; i < req->nheaders; i++) {
		const struct http_header *h = &req->headers[i];
		if (!forward_field(req, h->name))
			continue;
		put_slice(&o, h->name);
		text_put_str(&o, ": ");
		put_slice(&o, h->value);
		text_put_str(&o, "\r\n");
	}
	text_put_str(&o, keep_alive ? "Connection: keep-alive\r\n\r\n" : "Connection: close\r\n\r\n");
	return text_result(&o);
}

/* ---- authentication ---- */

/* Decoded credentials are a secret: cleared through a volatile pointer so
 * the store is not optimised away (explicit_bzero is not everywhere). */
static void wipe(uint8_t *p, size_t n)
{
	volatile uint8_t *v = p;
	while (n--)
		*v++ = 0;
}

/* RFC 9110 §11.4: credentials = auth-scheme [ 1*SP token68 ]; RFC 7617 §2:
 * token68 is base64(user-id ":" password), user-id without ':'. */
static bool basic_matches(struct http_slice v, const char *user, const char *pass)
{
	uint8_t plain[PROXY_MAX_CREDENTIALS];
	size_t i = 5;

	if (!starts_with_nocase(v, "Basic "))
		return false;
	while (i < v.len && v.p[i] == ' ')
		i++;
	long n = base64_decode(v.p + i, v.len - i, plain, sizeof plain);
	if (n < 0)
		return false;
	const uint8_t *colon = memchr(plain, ':', (size_t)n);
	bool ok = colon != NULL &&
	          socks_auth_match((struct socks_slice){ plain, (size_t)(colon - plain) },
	                           (struct socks_slice){ colon + 1, (size_t)(plain + n - colon - 1) },
	                           user, pass);
	wipe(plain, sizeof plain);
	return ok;
}

bool proxy_auth_ok(const struct http_request *req, const char *user, const char *pass)
{
	const struct http_header *h = http_find(req->headers, req->nheaders, "Proxy-Authorization");

	return h != NULL && basic_matches(h->value, user, pass);
}

/* ---- responses ---- */

static const char *default_why(int status)
{
	switch (status) {
	case 400: return "the proxy could not understand this request";
	case 403: return "the tunnel server does not allow this destination";
	case 405: return "this proxy does not support that method";
	case 407: return "proxy authentication required";
	case 502: return "the destination could not be reached";
	case 504: return "the destination did not answer in time";
	default: return http_reason(status);
	}
}

static size_t write_response(char *out, size_t cap, int status, const char *extra,
                             const char *why)
{
	struct text_out o = { out, cap, 0, false };

	text_put_str(&o, "HTTP/1.1 ");
	text_put_uint(&o, (unsigned)status);
	text_put_str(&o, " ");
	text_put_str(&o, http_reason(status));
	text_put_str(&o, "\r\n");
	text_put_str(&o, extra);
	text_put_str(&o, "Content-Type: text/plain\r\nContent-Length: ");
	text_put_uint(&o, strlen(why) + 1);
	text_put_str(&o, "\r\nConnection: close\r\n\r\n");
	text_put_str(&o, why);
	text_put_str(&o, "\n");
	return text_result(&o);
}

size_t proxy_response_407(char *out, size_t cap)
{
	return write_response(out, cap, 407,
	                      "Proxy-Authenticate: Basic realm=\"" PROXY_REALM "\"\r\n",
	                      default_why(407));
}

size_t proxy_response_error(char *out, size_t cap, int status, const char *why)
{
	return write_response(out, cap, status, "", why ? why : default_why(status));
}

/* ---- body framing, RFC 9112 §6 ---- */

struct framing {
	const struct http_header *length; /* the Content-Length field */
	bool length_repeated;
	bool te;                          /* a Transfer-Encoding field exists */
	bool chunked_last;                /* the final coding is chunked */
	bool chunked_early;               /* chunked before another coding */
};

/* RFC 9112 §6.1: the codings of every Transfer-Encoding field, in order,
 * form one list; chunked must be last and appear once. */
static void scan_codings(struct http_slice v, struct framing *f)
{
	size_t start = 0;

	while (start < v.len) {
		const char *elem = v.p + start;
		const char *comma = memchr(elem, ',', v.len - start);
		size_t len = comma ? (size_t)(comma - elem) : v.len - start;
		struct http_slice coding = slice_trim((struct http_slice){ elem, len });
		if (coding.len > 0) {
			f->chunked_early |= f->chunked_last;
			f->chunked_last = http_slice_eq(coding, "chunked");
		}
		start += len + 1;
	}
}

static void scan_framing(const struct http_header *h, size_t n, struct framing *f)
{
	memset(f, 0, sizeof *f);
	for (size_t i = 0; i < n; i++) {
		if (http_slice_eq(h[i].name, "Transfer-Encoding")) {
			f->te = true;
			scan_codings(h[i].value, f);
		} else if (http_slice_eq(h[i].name, "Content-Length")) {
			f->length_repeated |= f->length != NULL;
			f->length = &h[i];
		}
	}
}

/* RFC 9110 §8.6: Content-Length = 1*DIGIT. A list ("5, 5") is refused
 * rather than merged, as is a repeated field. */
static enum proxy_rc parse_length(const struct framing *f, uint64_t *len)
{
	struct http_slice v = f->length->value;
	uint64_t n = 0;

	if (f->length_repeated || v.len == 0)
		return PROXY_ERR_LENGTH;
	for (size_t i = 0; i < v.len; i++) {
		if (v.p[i] < '0' || v.p[i] > '9')
			return PROXY_ERR_LENGTH;
		unsigned d = (unsigned)(v.p[i] - '0');
		if (n > (UINT64_MAX - d) / 10)
			return PROXY_ERR_TOO_BIG;
		n = n * 10 + d;
	}
	*len = n;
	return PROXY_OK;
}

/* Shared by both directions once the cases without a body are out:
 * Transfer-Encoding wins the analysis, then Content-Length. */
static enum proxy_rc body_from_fields(const struct framing *f, int minor_version, bool request,
                                      struct proxy_body *b)
{
	if (f->te) {
		/* §6.1: TE in 1.0 is faulty framing; §6.3 item 3: with a length, a
		 * smuggling attempt; chunked twice is never valid. */
		if (minor_version == 0 || f->length || f->chunked_early)
			return PROXY_ERR_FRAMING;
		if (f->chunked_last)
			b->kind = PROXY_BODY_CHUNKED;
		else if (request)
			return PROXY_ERR_FRAMING; /* §6.3 item 4: a request MUST end in chunked */
		else
			b->kind = PROXY_BODY_CLOSE;
		return PROXY_OK;
	}
	if (f->length) {
		b->kind = PROXY_BODY_LENGTH;
		return parse_length(f, &b->length);
	}
	b->kind = request ? PROXY_BODY_NONE : PROXY_BODY_CLOSE; /* §6.3 items 6-7 */
	return PROXY_OK;
}

enum proxy_rc proxy_request_body(const struct http_request *req, struct proxy_body *b)
{
	struct framing f;

	b->kind = PROXY_BODY_NONE;
	b->length = 0;
	if (http_slice_eq(req->method, "CONNECT"))
		return PROXY_OK; /* RFC 9110 §9.3.6: what follows is the tunnel */
	scan_framing(req->headers, req->nheaders, &f);
	return body_from_fields(&f, req->minor_version, true, b);
}

enum proxy_rc proxy_response_body(struct http_slice method, const struct http_response *resp,
                                  struct proxy_body *b)
{
	struct framing f;
	int s = resp->status;

	b->kind = PROXY_BODY_NONE;
	b->length = 0;
	/* §6.3 item 2: after these the connection is a tunnel, not HTTP. */
	if (s == 101 || (s / 100 == 2 && http_slice_eq(method, "CONNECT"))) {
		b->kind = PROXY_BODY_CLOSE;
		return PROXY_OK;
	}
	/* §6.3 item 1. */
	if (http_slice_eq(method, "HEAD") || s / 100 == 1 || s == 204 || s == 304)
		return PROXY_OK;
	scan_framing(resp->headers, resp->nheaders, &f);
	return body_from_fields(&f, resp->minor_version, false, b);
}

/* ---- chunked skipper, RFC 9112 §7.1 ---- */

enum chunk_state {
	CH_SIZE_FIRST = 0, /* first HEXDIG of chunk-size */
	CH_SIZE,           /* further HEXDIGs */
	CH_SIZE_BWS,       /* BWS after the size: only ";" may follow */
	CH_EXT,            /* chunk-ext up to CR */
	CH_SIZE_LF,
	CH_DATA,
	CH_DATA_CR,
	CH_DATA_LF,
	CH_TRAILER_START,  /* start of a trailer field line or of the final CRLF */
	CH_TRAILER,
	CH_TRAILER_LF,
	CH_END_LF,
	CH_DONE,
};

static enum proxy_rc chunk_fail(struct proxy_chunked *c, enum proxy_rc rc)
{
	c->err = (int8_t)rc;
	return rc;
}

static int hex_value(uint8_t ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	ch = (uint8_t)(ch | 0x20);
	return ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : -1;
}

/* RFC 9110 §5.5 field-vchar / SP / HTAB: also what a chunk-ext and a
 * trailer line may hold (quoted-string included). */
static bool is_line_char(uint8_t ch)
{
	return ch == '\t' || (ch >= 0x20 && ch != 0x7f);
}

static enum proxy_rc step_size_digit(struct proxy_chunked *c, uint8_t ch)
{
	int v = hex_value(ch);

	if (v >= 0) {
		if (c->left > (UINT64_MAX >> 4))
			return PROXY_ERR_TOO_BIG;
		c->left = c->left << 4 | (unsigned)v;
		c->state = CH_SIZE;
	} else if (c->state == CH_SIZE_FIRST) {
		return PROXY_ERR_CHUNK; /* 1*HEXDIG: no sign, no "0x", no space */
	} else if (ch == ';') {
		c->state = CH_EXT;
	} else if (ch == ' ' || ch == '\t') {
		c->state = CH_SIZE_BWS;
	} else if (ch == '\r') {
		c->state = CH_SIZE_LF;
	} else {
		return PROXY_ERR_CHUNK;
	}
	return PROXY_OK;
}

/* chunk-size [ chunk-ext ] CRLF, counted against PROXY_MAX_CHUNK_LINE. */
static enum proxy_rc step_size_line(struct proxy_chunked *c, uint8_t ch)
{
	if (++c->line > PROXY_MAX_CHUNK_LINE)
		return PROXY_ERR_TOO_BIG;
	switch (c->state) {
	case CH_SIZE_FIRST:
	case CH_SIZE:
		return step_size_digit(c, ch);
	case CH_SIZE_BWS:
		if (ch == ';')
			c->state = CH_EXT;
		else if (ch != ' ' && ch != '\t')
			return PROXY_ERR_CHUNK;
		return PROXY_OK;
	case CH_EXT:
		if (ch == '\r')
			c->state = CH_SIZE_LF;
		else if (!is_line_char(ch))
			return PROXY_ERR_CHUNK;
		return PROXY_OK;
	default: /* CH_SIZE_LF */
		if (ch != '\n')
			return PROXY_ERR_CHUNK;
		c->line = 0;
		c->state = c->left ? CH_DATA : CH_TRAILER_START; /* last-chunk */
		return PROXY_OK;
	}
}

/* trailer-section CRLF, counted against PROXY_MAX_TRAILERS. Field lines
 * are checked for bytes and line ends only: they are not forwarded apart. */
static enum proxy_rc step_trailer(struct proxy_chunked *c, uint8_t ch)
{
	if (++c->trailers > PROXY_MAX_TRAILERS)
		return PROXY_ERR_TOO_BIG;
	switch (c->state) {
	case CH_TRAILER_START:
		if (ch == '\r')
			c->state = CH_END_LF;
		else if (ch == ' ' || ch == '\t' || !is_line_char(ch))
			return PROXY_ERR_CHUNK; /* obs-fold or a control byte */
		else
			c->state = CH_TRAILER;
		return PROXY_OK;
	case CH_TRAILER:
		if (ch == '\r')
			c->state = CH_TRAILER_LF;
		else if (!is_line_char(ch))
			return PROXY_ERR_CHUNK;
		return PROXY_OK;
	case CH_TRAILER_LF:
		if (ch != '\n')
			return PROXY_ERR_CHUNK;
		c->state = CH_TRAILER_START;
		return PROXY_OK;
	default: /* CH_END_LF */
		if (ch != '\n')
			return PROXY_ERR_CHUNK;
		c->state = CH_DONE;
		return PROXY_OK;
	}
}

/* The CRLF that closes chunk-data. */
static enum proxy_rc step_data_end(struct proxy_chunked *c, uint8_t ch)
{
	if (c->state == CH_DATA_CR) {
		if (ch != '\r')
			return PROXY_ERR_CHUNK;
		c->state = CH_DATA_LF;
		return PROXY_OK;
	}
	if (ch != '\n')
		return PROXY_ERR_CHUNK;
	c->state = CH_SIZE_FIRST;
	return PROXY_OK;
}

static enum proxy_rc chunk_step(struct proxy_chunked *c, uint8_t ch)
{
	if (c->state <= CH_SIZE_LF)
		return step_size_line(c, ch);
	if (c->state == CH_DATA_CR || c->state == CH_DATA_LF)
		return step_data_end(c, ch);
	return step_trailer(c, ch);
}

enum proxy_rc proxy_chunked_feed(struct proxy_chunked *c, const uint8_t *in, size_t len,
                                 size_t *used)
{
	size_t i = 0;

	*used = 0;
	if (c->err)
		return (enum proxy_rc)c->err;
	while (i < len && c->state != CH_DONE) {
		if (c->state == CH_DATA) {
			/* Data is skipped whole, not walked byte by byte. */
			uint64_t n = c->left < len - i ? c->left : len - i;
			i += (size_t)n;
			c->left -= n;
			c->state = c->left ? CH_DATA : CH_DATA_CR;
			continue;
		}
		enum proxy_rc rc = chunk_step(c, in[i++]);
		if (rc != PROXY_OK)
			return chunk_fail(c, rc);
	}
	*used = i;
	return c->state == CH_DONE ? PROXY_DONE : PROXY_NEED_MORE;
}

/* ---- codes ---- */

int proxy_rc_status(enum proxy_rc rc)
{
	(void)rc;
	return 400; /* every request-side error is the client's (RFC 9110 §15.5.1) */
}

/* Indexed by -rc; the sentences double as 400 bodies. */
static const char *const proxy_errors[] = {
	[-PROXY_OK] = "ok",
	[-PROXY_ERR_TARGET] = "CONNECT needs a host:port target",
	[-PROXY_ERR_HOST] = "the host name or address is not valid",
	[-PROXY_ERR_PORT] = "the port is missing or not a number from 1 to 65535",
	[-PROXY_ERR_NOT_ABSOLUTE] = "a proxy request needs an absolute http:// URL",
	[-PROXY_ERR_HTTPS] = "https:// URLs go through CONNECT, not a plain proxy request",
	[-PROXY_ERR_SCHEME] = "only http:// URLs can be proxied (https:// through CONNECT)",
	[-PROXY_ERR_URI] = "the URL holds user info or a fragment, or has no //host",
	[-PROXY_ERR_LENGTH] = "the Content-Length is not valid",
	[-PROXY_ERR_FRAMING] = "the message framing is ambiguous (Transfer-Encoding)",
	[-PROXY_ERR_TOO_BIG] = "a length, chunk line or trailer section is too large",
	[-PROXY_ERR_CHUNK] = "the chunked body is malformed",
};

const char *proxy_strerror(enum proxy_rc rc)
{
	int i = -(int)rc;

	if (rc == PROXY_DONE)
		return "body complete";
	if (i < 0 || (size_t)i >= sizeof proxy_errors / sizeof proxy_errors[0])
		return "unknown proxy error";
	return proxy_errors[i];
}
