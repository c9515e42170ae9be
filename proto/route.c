/* route.c — route rules, request matching and the forwarded head. */
#include "proto/route.h"

#include <string.h>

#include "proto/text.h"

static bool path_byte_ok(char c)
{
	return c > ' ' && c <= '~' && c != '?' && c != '#';
}

/* "/a/b" from "a/b/", "/a/b", "/": leading '/', no trailing one ("" for "/"). */
static int norm_path(const char *p, size_t n, char *out, size_t cap)
{
	size_t o = 0;
	while (n && p[n - 1] == '/')
		n--;
	if (n && p[0] == '/') {
		p++;
		n--;
	}
	if (n == 0) {
		out[0] = '\0';
		return 0;
	}
	if (n + 2 > cap)
		return -1;
	out[o++] = '/';
	for (size_t i = 0; i < n; i++) {
		if (!path_byte_ok(p[i]) || (p[i] == '.' && i + 1 < n && p[i + 1] == '.'))
			return -1;
		out[o++] = p[i];
	}
	out[o] = '\0';
	return 0;
}

static int norm_host(const char *p, size_t n, char *out, size_t cap)
{
	if (n == 0 || n >= cap)
		return -1;
	for (size_t i = 0; i < n; i++) {
		char c = p[i];
		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.'))
			return -1;
		out[i] = c;
	}
	out[n] = '\0';
	return 0;
}

int route_rule_parse(const char *s, size_t n, struct route_rule *r)
{
	const char *part[3];
	size_t len[3];
	int k = 0;
	memset(r, 0, sizeof(*r));
	for (size_t i = 0;;) {
		size_t j = i;
		while (j < n && s[j] != ' ')
			j++;
		if (j == i || k == 3)
			return -1;
		part[k] = s + i;
		len[k++] = j - i;
		if (j == n)
			break;
		i = j + 1;
	}
	if (k < 2)
		return -1;
	if (len[0] == 4 && memcmp(part[0], "path", 4) == 0)
		r->mode = ROUTE_PATH;
	else if (len[0] == 6 && memcmp(part[0], "domain", 6) == 0)
		r->mode = ROUTE_DOMAIN;
	else if (len[0] == 2 && memcmp(part[0], "ws", 2) == 0)
		r->mode = ROUTE_PATH, r->ws = true;
	else
		return -1;
	if (r->ws && k == 3)
		return -1;
	if (r->mode == ROUTE_DOMAIN ? norm_host(part[1], len[1], r->value, sizeof(r->value))
	                            : norm_path(part[1], len[1], r->value, sizeof(r->value)))
		return -1;
	if (k == 3 && norm_path(part[2], len[2], r->base, sizeof(r->base)) < 0)
		return -1;
	return 0;
}

size_t route_rule_format(const struct route_rule *r, char *out, size_t cap)
{
	struct text_out o = {out, cap, 0, false};
	text_put_str(&o, r->ws ? "ws " : r->mode == ROUTE_DOMAIN ? "domain " : "path ");
	text_put_str(&o, r->mode == ROUTE_PATH && !r->value[0] ? "/" : r->value);
	if (r->base[0]) {
		text_put_str(&o, " ");
		text_put_str(&o, r->base);
	}
	text_put_bytes(&o, "", 1);
	size_t n = text_result(&o);
	return n ? n - 1 : 0;
}

/* The Host value without ":port" (and without brackets' port for IPv6). */
static struct http_slice host_only(struct http_slice h)
{
	if (h.len && h.p[0] == '[') {
		const char *e = memchr(h.p, ']', h.len);
		if (e)
			h.len = (size_t)(e - h.p) + 1;
		return h;
	}
	const char *c = memchr(h.p, ':', h.len);
	if (c)
		h.len = (size_t)(c - h.p);
	while (h.len && h.p[h.len - 1] == '.') /* "example.com." is example.com */
		h.len--;
	return h;
}

bool route_matches(const struct route_rule *r, const struct http_request *req,
                   struct http_slice path)
{
	if (path.len == 0 || path.p[0] != '/')
		return false;
	if (r->mode == ROUTE_DOMAIN) {
		const struct http_header *h = http_find(req->headers, req->nheaders, "Host");
		return h && http_slice_eq(host_only(h->value), r->value);
	}
	size_t n = strlen(r->value);
	return path.len >= n && memcmp(path.p, r->value, n) == 0 &&
	       (path.len == n || path.p[n] == '/');
}

static void put_slice(struct text_out *o, struct http_slice s)
{
	text_put_bytes(o, s.p, s.len);
}

static bool is_forwarded(struct http_slice name)
{
	return http_slice_eq(name, "X-Forwarded-For") || http_slice_eq(name, "X-Forwarded-Host") ||
	       http_slice_eq(name, "X-Forwarded-Proto");
}

size_t route_forward_head(char *out, size_t cap, const struct route_rule *r,
                          const struct http_request *req, const char *client_ip, bool https)
{
	struct text_out o = {out, cap, 0, false};
	const char *q = memchr(req->target.p, '?', req->target.len);
	struct http_slice path = {req->target.p, q ? (size_t)(q - req->target.p) : req->target.len};
	struct http_slice query = {path.p + path.len, req->target.len - path.len};
	if (r->mode == ROUTE_PATH) {
		size_t n = strlen(r->value);
		path.p += n;
		path.len -= n;
	}
	put_slice(&o, req->method);
	text_put_str(&o, " ");
	text_put_str(&o, r->base);
	if (path.len)
		put_slice(&o, path);
	else if (!r->base[0])
		text_put_str(&o, "/");
	put_slice(&o, query);
	text_put_str(&o, " HTTP/1.");
	text_put_uint(&o, (unsigned)req->minor_version);
	text_put_str(&o, "\r\n");
	const struct http_header *xff = NULL, *host = NULL;
	for (size_t i = 0; i < req->nheaders; i++) {
		const struct http_header *h = &req->headers[i];
		if (http_slice_eq(h->name, "X-Forwarded-For") && !xff)
			xff = h;
		if (http_slice_eq(h->name, "Host") && !host)
			host = h;
		if (is_forwarded(h->name))
			continue;
		put_slice(&o, h->name);
		text_put_str(&o, ": ");
		put_slice(&o, h->value);
		text_put_str(&o, "\r\n");
	}
	text_put_str(&o, "X-Forwarded-For: ");
	if (xff && xff->value.len) {
		put_slice(&o, xff->value);
		text_put_str(&o, ", ");
	}
	text_put_str(&o, client_ip);
	if (host) {
		text_put_str(&o, "\r\nX-Forwarded-Host: ");
		put_slice(&o, host->value);
	}
	text_put_str(&o, https ? "\r\nX-Forwarded-Proto: https\r\n\r\n"
	                       : "\r\nX-Forwarded-Proto: http\r\n\r\n");
	return text_result(&o);
}
