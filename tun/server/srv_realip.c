/* srv_realip.c — the PROXY protocol phase on a raw socket (peek, feed, take
 * exactly the header) and X-Forwarded-For / X-Real-IP behind trusted HTTP
 * proxies. Owns nothing; the head phase (server.c) decides what to trust. */
#include "tun/server/srv_realip.h"

#include <errno.h>
#include <netinet/in.h>
#include <string.h>

bool srv_realip_cidr_any(const struct net_cidr *c, size_t n, const struct net_addr *a)
{
	for (size_t i = 0; i < n; i++)
		if (net_cidr_match(&c[i], a))
			return true;
	return false;
}

static void addr_set(struct net_addr *out, const struct proxyhdr_addr *a)
{
	memset(out, 0, sizeof(*out));
	if (a->kind == PROXYHDR_TCP4) {
		struct sockaddr_in *v4 = (struct sockaddr_in *)&out->ss;
		v4->sin_family = AF_INET;
		v4->sin_port = htons(a->src_port);
		memcpy(&v4->sin_addr, a->src, 4);
		out->len = sizeof(*v4);
	} else {
		struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&out->ss;
		v6->sin6_family = AF_INET6;
		v6->sin6_port = htons(a->src_port);
		memcpy(&v6->sin6_addr, a->src, 16);
		out->len = sizeof(*v6);
	}
}

/* Peeks, feeds the parser, then reads exactly what it used: the parser never
 * uses a byte past the header, so TLS or HTTP finds the socket as the client
 * sent it. A partial header is used up whole, so level-triggered readiness
 * does not spin on peeked bytes. */
int srv_realip_header_read(int fd, struct proxyhdr *ph, struct net_addr *addr)
{
	uint8_t peek[256];
	for (int round = 0; round < 64; round++) { /* 64 x 256 B covers 16 KiB of TLVs per wake */
		long n = net_peek(fd, peek, sizeof(peek));
		if (n <= 0)
			return n == 0 ? 0 : (int)n;
		size_t used = 0;
		struct proxyhdr_addr a;
		enum proxyhdr_rc rc = proxyhdr_feed(ph, peek, (size_t)n, &used, &a);
		if (rc < 0)
			return (int)rc - 1000;
		if (used > 0 && net_read(fd, peek, used) != (long)used)
			return -EIO; /* peeked bytes are there: only a broken socket gets here */
		if (rc == PROXYHDR_DONE) {
			if (a.kind != PROXYHDR_UNKNOWN)
				addr_set(addr, &a);
			return 1;
		}
		if ((size_t)n < sizeof(peek))
			return -EAGAIN;
	}
	return -EAGAIN;
}

/* One list entry as an address: "192.0.2.1", "192.0.2.1:5678", "2001:db8::1",
 * "[2001:db8::1]:5678". */
static bool entry_addr(const char *p, size_t n, struct net_addr *out)
{
	char ip[64];
	while (n && (*p == ' ' || *p == '\t'))
		p++, n--;
	while (n && (p[n - 1] == ' ' || p[n - 1] == '\t'))
		n--;
	if (n && *p == '[') {
		const char *end = memchr(p, ']', n);
		if (!end)
			return false;
		n = (size_t)(end - p - 1);
		p++;
	} else {
		const char *colon = memchr(p, ':', n);
		if (colon && !memchr(colon + 1, ':', n - (size_t)(colon + 1 - p)))
			n = (size_t)(colon - p); /* v4 with a port */
	}
	if (n == 0 || n >= sizeof(ip))
		return false;
	memcpy(ip, p, n);
	ip[n] = '\0';
	return net_addr_from_ip(ip, 0, out) == 0;
}

bool srv_realip_forwarded(const struct http_request *req, const struct net_cidr *trusted,
                          size_t ntrusted, struct net_addr *addr)
{
	/* Several X-Forwarded-For fields are one list in order (RFC 9110 §5.3):
	 * walk the fields from the last, each from its right end. */
	bool any = false;
	for (size_t i = req->nheaders; i-- > 0;) {
		const struct http_header *h = &req->headers[i];
		if (!http_slice_eq(h->name, "X-Forwarded-For"))
			continue;
		any = true;
		const char *v = h->value.p;
		size_t end = h->value.len;
		while (end > 0) {
			size_t start = end;
			while (start > 0 && v[start - 1] != ',')
				start--;
			struct net_addr a;
			if (!entry_addr(v + start, end - start, &a))
				return false; /* garbage from the client's side: trust nothing */
			if (!srv_realip_cidr_any(trusted, ntrusted, &a)) {
				*addr = a;
				return true;
			}
			end = start ? start - 1 : 0;
		}
	}
	if (any)
		return false; /* every hop trusted: keep the connection's address */
	const struct http_header *real = http_find(req->headers, req->nheaders, "X-Real-IP");
	struct net_addr a;
	if (!real || !entry_addr(real->value.p, real->value.len, &a))
		return false;
	*addr = a;
	return true;
}
