/* tunnel.c — the request blob of wsferry's tunnel protocol and the single
 * table that maps dial outcomes to every wire's error (SPEC.md). */
#include "proto/tunnel.h"

#include <errno.h>
#include <stdio.h>
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

static const char *cookie_name(const struct auth_keys *keys)
{
	return keys ? keys->cookie : TUNNEL_COOKIE_NAME;
}

void tunnel_rev_msg(uint8_t out[TUNNEL_REV_MSG_LEN], enum tunnel_rev_msg op, uint64_t id)
{
	out[0] = (uint8_t)op;
	put_be64(out + 1, id);
}

int tunnel_rev_id_parse(const char *s, size_t n, uint64_t *id)
{
	uint64_t v = 0;
	if (n != TUNNEL_REV_ID_HEX)
		return -1;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		unsigned d = c >= '0' && c <= '9'   ? (unsigned)(c - '0')
		             : c >= 'a' && c <= 'f' ? (unsigned)(c - 'a' + 10)
		             : c >= 'A' && c <= 'F' ? (unsigned)(c - 'A' + 10)
		                                    : 16u;
		if (d == 16)
			return -1;
		v = v << 4 | d;
	}
	*id = v;
	return 0;
}

int tunnel_rev_parse(const uint8_t *p, size_t n, uint8_t *op, uint64_t *id)
{
	if (n != TUNNEL_REV_MSG_LEN || p[0] < REV_MSG_CONNECTION || p[0] > REV_MSG_ACCEPTED)
		return -1;
	*op = p[0];
	*id = get_be64(p + 1);
	return 0;
}

size_t tunnel_target_max(uint8_t kind)
{
	return kind == TUNNEL_EXIT_OPEN ? TUNNEL_MAX_WIRE_TARGET : TUNNEL_MAX_TARGET;
}

size_t tunnel_blob_encode(const struct tunnel_req *r, const struct auth_keys *keys,
                          uint8_t blob[TUNNEL_BLOB_MAX])
{
	if (r->target_len > tunnel_target_max(r->kind))
		return 0;
	blob[0] = TUNNEL_VERSION;
	blob[1] = r->kind;
	blob[2] = (uint8_t)(keys ? r->flags | TUNNEL_FLAG_AUTH : r->flags & ~TUNNEL_FLAG_AUTH);
	put_be64(blob + 3, r->timestamp);
	memcpy(blob + 11, r->nonce, TUNNEL_NONCE_LEN);
	blob[27] = (uint8_t)(r->target_len >> 8);
	blob[28] = (uint8_t)r->target_len;
	memcpy(blob + BLOB_HEAD, r->target, r->target_len);
	size_t n = BLOB_HEAD + r->target_len;
	if (keys) {
		auth_crypt(keys, r->nonce, blob + BLOB_HEAD, r->target_len);
		auth_mac(keys, blob, n, blob + n);
		n += AUTH_MAC_LEN;
	}
	return n;
}

size_t tunnel_req_encode(const struct tunnel_req *r, const struct auth_keys *keys, char *out,
                         size_t cap)
{
	uint8_t blob[TUNNEL_BLOB_MAX];
	size_t n = tunnel_blob_encode(r, keys, blob);
	if (n == 0)
		return 0;
	const char *name = cookie_name(keys);
	size_t nl = strlen(name);
	if (cap < nl + 1 + BASE64URL_LEN(n) + 1)
		return 0;
	memcpy(out, name, nl);
	out[nl] = '=';
	return nl + 1 + base64url_encode(blob, n, out + nl + 1);
}

enum tunnel_decode_rc tunnel_req_decode(const char *text, size_t len,
                                        const struct auth_keys *keys, struct tunnel_req *r)
{
	uint8_t blob[TUNNEL_BLOB_MAX];
	long n = base64url_decode(text, len, blob, sizeof(blob));
	return n < 0 ? TUNNEL_NO_COOKIE : tunnel_blob_decode(blob, (size_t)n, keys, r);
}

enum tunnel_decode_rc tunnel_blob_decode(const uint8_t *p, size_t n, const struct auth_keys *keys,
                                         struct tunnel_req *r)
{
	uint8_t blob[TUNNEL_BLOB_MAX];
	if (n > sizeof(blob))
		return TUNNEL_NO_COOKIE;
	memcpy(blob, p, n);
	if (n < BLOB_HEAD || blob[0] != TUNNEL_VERSION || blob[1] > TUNNEL_KIND_MAX)
		return TUNNEL_NO_COOKIE;
	bool authed = blob[2] & TUNNEL_FLAG_AUTH;
	size_t tlen = (size_t)blob[27] << 8 | blob[28];
	size_t mac_len = authed ? AUTH_MAC_LEN : 0;
	/* An empty target (connect only) asks for the server's --to destination;
	 * a pooled upgrade or a mux carrier names none (its requests follow). */
	bool may_be_empty = blob[1] == TUNNEL_CONNECT || blob[1] == TUNNEL_POOLED ||
	                    blob[1] == TUNNEL_MUX;
	if ((tlen == 0 && !may_be_empty) || tlen > tunnel_target_max(blob[1]) ||
	    n != BLOB_HEAD + tlen + mac_len)
		return TUNNEL_NO_COOKIE;
	if (!keys != !authed)
		return keys ? TUNNEL_BAD_MAC : TUNNEL_NO_COOKIE;
	if (keys) {
		uint8_t mac[AUTH_MAC_LEN];
		auth_mac(keys, blob, BLOB_HEAD + tlen, mac);
		if (!auth_equal(mac, blob + BLOB_HEAD + tlen, AUTH_MAC_LEN))
			return TUNNEL_BAD_MAC;
		auth_crypt(keys, blob + 11, blob + BLOB_HEAD, tlen);
	}
	if (memchr(blob + BLOB_HEAD, '\0', tlen))
		return TUNNEL_NO_COOKIE;
	memset(r, 0, sizeof(*r));
	r->kind = blob[1];
	r->flags = blob[2];
	r->timestamp = get_be64(blob + 3);
	memcpy(r->nonce, blob + 11, TUNNEL_NONCE_LEN);
	r->target_len = tlen;
	memcpy(r->target, blob + BLOB_HEAD, tlen);
	r->target[tlen] = '\0';
	return TUNNEL_DECODED;
}

/* Finds "NAME=" among the "; "-separated pairs of one Cookie value. */
static int cookie_value(struct http_slice v, const char *name, struct http_slice *out)
{
	const size_t nl = strlen(name);
	const char *p = v.p, *end = v.p + v.len;
	while (p < end) {
		while (p < end && (*p == ' ' || *p == ';'))
			p++;
		const char *semi = memchr(p, ';', (size_t)(end - p));
		const char *stop = semi ? semi : end;
		if ((size_t)(stop - p) > nl && memcmp(p, name, nl) == 0 && p[nl] == '=') {
			out->p = p + nl + 1;
			out->len = (size_t)(stop - out->p);
			return 0;
		}
		p = stop;
	}
	return -1;
}

enum tunnel_decode_rc tunnel_req_from_http(const struct http_request *req,
                                           const struct auth_keys *keys, struct tunnel_req *r)
{
	struct http_slice v;
	for (size_t i = 0; i < req->nheaders; i++) {
		if (!http_slice_eq(req->headers[i].name, "cookie"))
			continue;
		if (cookie_value(req->headers[i].value, cookie_name(keys), &v) == 0)
			return tunnel_req_decode(v.p, v.len, keys, r);
	}
	return TUNNEL_NO_COOKIE;
}

size_t tunnel_proof_header(const struct auth_keys *keys, const uint8_t nonce[16], int status,
                           char *out, size_t cap)
{
	uint8_t proof[AUTH_PROOF_LEN];
	char text[BASE64URL_LEN(AUTH_PROOF_LEN) + 1];
	if (!keys) {
		if (cap)
			out[0] = '\0';
		return 0;
	}
	auth_proof(keys, nonce, status, proof);
	base64url_encode(proof, sizeof(proof), text);
	int n = snprintf(out, cap, "Set-Cookie: %s=%s; Path=/; HttpOnly\r\n", keys->cookie, text);
	return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}

static bool proof_matches(struct http_slice v, const struct tunnel_expect *e,
                          const uint8_t want[AUTH_PROOF_LEN])
{
	struct http_slice val;
	uint8_t got[AUTH_PROOF_LEN + 2];
	if (cookie_value(v, e->keys->cookie, &val) < 0)
		return false;
	const char *semi = memchr(val.p, ';', val.len);
	size_t len = semi ? (size_t)(semi - val.p) : val.len;
	return base64url_decode(val.p, len, got, sizeof(got)) == AUTH_PROOF_LEN &&
	       auth_equal(got, want, AUTH_PROOF_LEN);
}

/* With keys: the answer carries the proof for its own status. */
static bool proven(const struct http_response *resp, const struct tunnel_expect *e)
{
	uint8_t want[AUTH_PROOF_LEN];
	if (!e->keys)
		return true;
	auth_proof(e->keys, e->nonce, resp->status, want);
	for (size_t i = 0; i < resp->nheaders; i++)
		if (http_slice_eq(resp->headers[i].name, "set-cookie") &&
		    proof_matches(resp->headers[i].value, e, want))
			return true;
	return false;
}

enum tunnel_101_rc tunnel_check_101(const struct http_response *resp,
                                    const struct tunnel_expect *e)
{
	if (ws_check_response(resp, e->key) < 0)
		return TUNNEL_101_BAD_WS;
	return proven(resp, e) ? TUNNEL_101_OK : TUNNEL_101_NO_PROOF;
}

enum tunnel_err tunnel_101_err(enum tunnel_101_rc rc)
{
	return rc == TUNNEL_101_OK         ? TUNNEL_OK
	       : rc == TUNNEL_101_NO_PROOF ? TUNNEL_ERR_SERVER_FAKE
	                                   : TUNNEL_ERR_GENERAL;
}

enum tunnel_err tunnel_response_err(const struct http_response *resp,
                                    const struct tunnel_expect *e)
{
	if (resp->status == 101)
		return tunnel_101_err(tunnel_check_101(resp, e));
	char want[WS_ACCEPT_LEN + 1];
	ws_accept_key(e->key, strlen(e->key), want);
	const struct http_header *h = http_find(resp->headers, resp->nheaders,
	                                        "Sec-WebSocket-Accept");
	if (!h || !http_slice_eq(h->value, want) || h->value.len != WS_ACCEPT_LEN)
		return TUNNEL_ERR_NOT_WSFERRY;
	if (!proven(resp, e))
		return TUNNEL_ERR_SERVER_FAKE; /* a refusal anyone on the path could forge */
	enum tunnel_err err = tunnel_status_err(resp->status);
	return err == TUNNEL_OK ? TUNNEL_ERR_GENERAL : err;
}

size_t tunnel_refusal(enum tunnel_err err, const char *ws_key, size_t ws_key_len,
                      const struct auth_keys *keys, const uint8_t nonce[16], char *out,
                      size_t cap)
{
	char accept[WS_ACCEPT_LEN + 1], proof[128];
	int status = tunnel_err_status(err);
	ws_accept_key(ws_key, ws_key_len, accept);
	tunnel_proof_header(keys, nonce, status, proof, sizeof(proof));
	int n = snprintf(out, cap,
	                 "HTTP/1.1 %d %s\r\nSec-WebSocket-Accept: %s\r\n%sContent-Length: 0\r\n"
	                 "Connection: close\r\n\r\n",
	                 status, http_reason(status), accept, proof);
	return n > 0 && (size_t)n < cap ? (size_t)n : 0;
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
	[TUNNEL_ERR_ENCRYPT] = {412, 0x02, 502,
	                        "payload encryption (--encrypt) must be on at both ends, over "
	                        "ws:// only"},
	[TUNNEL_ERR_NO_EXIT] = {410, 0x03, 502,
	                        "no such exit, a wrong password, or the exit client is offline"},
	[TUNNEL_ERR_SERVER_DOWN] = {0, 0x01, 502, "cannot reach the wsferry server"},
	[TUNNEL_ERR_NOT_WSFERRY] = {0, 0x01, 502,
	                            "a web server answered, but no wsferry tunnel is at this "
	                            "URL path (wrong path, or a proxy in front rewrote it?)"},
	[TUNNEL_ERR_TLS] = {0, 0x01, 502, "TLS with the wsferry server failed (see the line before)"},
	[TUNNEL_ERR_SERVER_FAKE] = {0, 0x01, 502,
	                            "the server could not prove it holds the key: refused"},
	[TUNNEL_ERR_SERVER_SILENT] = {0, 0x01, 502,
	                              "the wsferry server closed without answering (wrong URL "
	                              "path or key, this clock off from the server's by more "
	                              "than its --max-skew (default 120 s), or TLS on one side "
	                              "only?)"},
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

static bool channel_name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '.' || c == '_' || c == '-';
}

int tunnel_channel_split(const char *target, size_t n, char name[TUNNEL_CHANNEL_NAME_MAX + 1],
                         char pass[TUNNEL_CHANNEL_PASS_MAX + 1])
{
	const char *colon = memchr(target, ':', n);
	size_t nl = colon ? (size_t)(colon - target) : n;
	size_t pl = colon ? n - nl - 1 : 0;
	if (nl == 0 || nl > TUNNEL_CHANNEL_NAME_MAX || pl > TUNNEL_CHANNEL_PASS_MAX)
		return -1;
	for (size_t i = 0; i < nl; i++)
		if (!channel_name_char(target[i]))
			return -1;
	for (size_t i = 0; i < pl; i++)
		if (colon[1 + i] <= ' ' || colon[1 + i] > '~')
			return -1;
	memcpy(name, target, nl);
	name[nl] = '\0';
	if (pl)
		memcpy(pass, colon + 1, pl);
	pass[pl] = '\0';
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
