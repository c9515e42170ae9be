/* tunnel.c — the request blob of wsferry's tunnel protocol and the single
 * table that maps dial outcomes to every wire's error (SPEC.md). */
#include "proto/tunnel.h"

#include <errno.h>
#include <string.h>

#include "proto/base64.h"

/* Blob layout (all integers big-endian):
 *   0  version (1)      1  kind        2  flags
 *   3  timestamp (8)   11  nonce (16)  27  target length (2)  29  target */
#define BLOB_HEAD 29

static void put_be64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

static uint64_t get_be64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

size_t tunnel_req_encode(const struct tunnel_req *r, char *out, size_t cap)
{
	uint8_t blob[TUNNEL_BLOB_MAX];
	if (r->target_len > TUNNEL_MAX_TARGET)
		return 0;
	blob[0] = TUNNEL_VERSION;
	blob[1] = r->kind;
	blob[2] = r->flags;
	put_be64(blob + 3, r->timestamp);
	memcpy(blob + 11, r->nonce, TUNNEL_NONCE_LEN);
	blob[27] = (uint8_t)(r->target_len >> 8);
	blob[28] = (uint8_t)r->target_len;
	memcpy(blob + BLOB_HEAD, r->target, r->target_len);
	size_t n = BLOB_HEAD + r->target_len;
	size_t name = strlen(TUNNEL_COOKIE_NAME);
	if (cap < name + 1 + BASE64URL_LEN(n) + 1)
		return 0;
	memcpy(out, TUNNEL_COOKIE_NAME "=", name + 1);
	return name + 1 + base64url_encode(blob, n, out + name + 1);
}

int tunnel_req_decode(const char *text, size_t len, struct tunnel_req *r)
{
	uint8_t blob[TUNNEL_BLOB_MAX];
	long n = base64url_decode(text, len, blob, sizeof(blob));
	if (n < BLOB_HEAD || blob[0] != TUNNEL_VERSION || blob[1] > TUNNEL_KIND_MAX)
		return -1;
	size_t tlen = (size_t)blob[27] << 8 | blob[28];
	if (tlen == 0 || tlen > TUNNEL_MAX_TARGET || (size_t)n != BLOB_HEAD + tlen)
		return -1;
	if (memchr(blob + BLOB_HEAD, '\0', tlen))
		return -1;
	memset(r, 0, sizeof(*r));
	r->kind = blob[1];
	r->flags = blob[2];
	r->timestamp = get_be64(blob + 3);
	memcpy(r->nonce, blob + 11, TUNNEL_NONCE_LEN);
	r->target_len = tlen;
	memcpy(r->target, blob + BLOB_HEAD, tlen);
	r->target[tlen] = '\0';
	return 0;
}

/* Finds "sid=" among the "; "-separated pairs of one Cookie value. */
static int cookie_value(struct http_slice v, struct http_slice *out)
{
	const size_t name = strlen(TUNNEL_COOKIE_NAME);
	const char *p = v.p, *end = v.p + v.len;
	while (p < end) {
		while (p < end && (*p == ' ' || *p == ';'))
			p++;
		const char *semi = memchr(p, ';', (size_t)(end - p));
		const char *stop = semi ? semi : end;
		if ((size_t)(stop - p) > name && memcmp(p, TUNNEL_COOKIE_NAME, name) == 0 &&
		    p[name] == '=') {
			out->p = p + name + 1;
			out->len = (size_t)(stop - out->p);
			return 0;
		}
		p = stop;
	}
	return -1;
}

int tunnel_req_from_http(const struct http_request *req, struct tunnel_req *r)
{
	struct http_slice v;
	for (size_t i = 0; i < req->nheaders; i++) {
		if (!http_slice_eq(req->headers[i].name, "cookie"))
			continue;
		if (cookie_value(req->headers[i].value, &v) == 0)
			return tunnel_req_decode(v.p, v.len, r);
	}
	return -1;
}

static const struct {
	int status;
	uint8_t socks_rep;
	int proxy_status;
	const char *text;
} err_table[] = {
	[TUNNEL_OK] = {101, 0x00, 200, "connected"},
	[TUNNEL_ERR_GENERAL] = {500, 0x01, 502, "the tunnel server failed"},
	[TUNNEL_ERR_FORBIDDEN] = {403, 0x02, 403, "destination not allowed by the server"},
	[TUNNEL_ERR_UNREACHABLE] = {503, 0x04, 502, "destination unreachable"},
	[TUNNEL_ERR_NOT_FOUND] = {404, 0x04, 502, "destination host name not found"},
	[TUNNEL_ERR_REFUSED] = {502, 0x05, 502, "connection refused by the destination"},
	[TUNNEL_ERR_TIMEOUT] = {504, 0x06, 504, "destination did not answer in time"},
	[TUNNEL_ERR_BAD_TARGET] = {400, 0x01, 400, "invalid destination"},
	[TUNNEL_ERR_IN_USE] = {409, 0x01, 502, "port already in use on the server"},
	[TUNNEL_ERR_SERVER_DOWN] = {0, 0x01, 502, "cannot reach the wsferry server"},
	[TUNNEL_ERR_SERVER_SILENT] = {0, 0x01, 502,
	                              "the wsferry server closed without answering (wrong URL "
	                              "path or key, or TLS on one side only?)"},
};
#define ERR_COUNT (sizeof(err_table) / sizeof(err_table[0]))

static enum tunnel_err clamp(enum tunnel_err e)
{
	return (size_t)e < ERR_COUNT ? e : TUNNEL_ERR_GENERAL;
}

int tunnel_err_status(enum tunnel_err e) { return err_table[clamp(e)].status; }
uint8_t tunnel_err_socks_rep(enum tunnel_err e) { return err_table[clamp(e)].socks_rep; }
int tunnel_err_proxy_status(enum tunnel_err e) { return err_table[clamp(e)].proxy_status; }
const char *tunnel_err_text(enum tunnel_err e) { return err_table[clamp(e)].text; }

enum tunnel_err tunnel_status_err(int status)
{
	for (size_t i = 0; i < ERR_COUNT; i++)
		if (status > 0 && err_table[i].status == status)
			return (enum tunnel_err)i;
	return TUNNEL_ERR_GENERAL;
}

enum tunnel_err tunnel_err_from_errno(int err)
{
	switch (err) {
	case ECONNREFUSED: return TUNNEL_ERR_REFUSED;
	case ETIMEDOUT: return TUNNEL_ERR_TIMEOUT;
	case ENETUNREACH:
	case EHOSTUNREACH:
	case EADDRNOTAVAIL:
	case ENETDOWN:
	case EHOSTDOWN: return TUNNEL_ERR_UNREACHABLE;
	case EACCES:
	case EPERM: return TUNNEL_ERR_FORBIDDEN;
	default: return TUNNEL_ERR_GENERAL;
	}
}

static int parse_port(const char *s, size_t n, uint16_t *port)
{
	unsigned v = 0;
	if (n == 0 || n > 5)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	if (v == 0 || v > 65535)
		return -1;
	*port = (uint16_t)v;
	return 0;
}

int tunnel_target_split(const char *s, size_t n, char *host, size_t host_cap, uint16_t *port)
{
	const char *colon;
	const char *h = s;
	size_t hlen;
	if (n && s[0] == '[') {
		const char *close = memchr(s, ']', n);
		if (!close || close + 1 >= s + n || close[1] != ':')
			return -1;
		h = s + 1;
		hlen = (size_t)(close - h);
		colon = close + 1;
	} else {
		colon = memchr(s, ':', n);
		if (!colon || memchr(colon + 1, ':', (size_t)(s + n - colon - 1)))
			return -1;
		hlen = (size_t)(colon - s);
	}
	if (hlen == 0 || hlen + 1 > host_cap)
		return -1;
	for (size_t i = 0; i < hlen; i++)
		if ((unsigned char)h[i] <= 0x20 || (unsigned char)h[i] >= 0x7f || h[i] == '/')
			return -1;
	if (parse_port(colon + 1, (size_t)(s + n - colon - 1), port) < 0)
		return -1;
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	return 0;
}
