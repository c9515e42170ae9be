/* proxyhdr.c — PROXY protocol v1 (one text line) and v2 (binary) headers,
 * byte-exact with haproxy doc/proxy-protocol.txt. Keeps at most the v1 line
 * or v2's first 52 bytes; longer v2 blocks are counted off, never stored. */
#include "proto/proxyhdr.h"

#include <arpa/inet.h>
#include <string.h>
#include <sys/socket.h> /* AF_INET, AF_INET6 for inet_pton only */

static const uint8_t v1_sig[] = "PROXY ";
static const uint8_t v2_sig[12] = {0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d,
                                   0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a};

#define V2_CMD_LOCAL 0x0  /* §2.2: health checks, keep the real address */
#define V2_CMD_PROXY 0x1
#define V2_FAM_TCP4 0x11  /* AF_INET, STREAM */
#define V2_FAM_TCP6 0x21  /* AF_INET6, STREAM */
#define V2_LEN_TCP4 12
#define V2_LEN_TCP6 36

static enum proxyhdr_rc fail(struct proxyhdr *p, enum proxyhdr_rc rc, size_t *used)
{
	p->err = (int8_t)rc;
	*used = 0;
	return rc;
}

/* A decimal port, 1 to 5 digits, 0..65535. */
static bool port_parse(const uint8_t *s, size_t n, uint16_t *out)
{
	uint32_t v = 0;
	if (n == 0 || n > 5)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (uint32_t)(s[i] - '0');
	}
	if (v > 65535)
		return false;
	*out = (uint16_t)v;
	return true;
}

static bool ip_parse(int family, const uint8_t *s, size_t n, uint8_t out[16])
{
	char text[INET6_ADDRSTRLEN];
	if (n == 0 || n >= sizeof(text))
		return false;
	memcpy(text, s, n);
	text[n] = '\0';
	return inet_pton(family, text, out) == 1;
}

/* "PROXY TCP4 SRC DST SPORT DPORT\r\n", "PROXY UNKNOWN[ anything]\r\n": line
 * is the whole line without CRLF. Single spaces, as §2.1 writes them. */
static enum proxyhdr_rc v1_parse(const uint8_t *line, size_t n, struct proxyhdr_addr *out)
{
	const uint8_t *f[6];
	size_t fl[6], nf = 0, i = 0;
	while (i <= n && nf < 6) {
		size_t start = i;
		while (i < n && line[i] != ' ')
			i++;
		f[nf] = line + start;
		fl[nf++] = i - start;
		i++; /* the space, or one past the end */
		if (nf == 2 && fl[1] == 7 && memcmp(f[1], "UNKNOWN", 7) == 0) {
			out->kind = PROXYHDR_UNKNOWN; /* the rest is ignored (§2.1) */
			return PROXYHDR_DONE;
		}
	}
	if (nf != 6 || i <= n)
		return PROXYHDR_ERR_SYNTAX;
	int family;
	if (fl[1] == 4 && memcmp(f[1], "TCP4", 4) == 0) {
		family = AF_INET;
		out->kind = PROXYHDR_TCP4;
	} else if (fl[1] == 4 && memcmp(f[1], "TCP6", 4) == 0) {
		family = AF_INET6;
		out->kind = PROXYHDR_TCP6;
	} else {
		return PROXYHDR_ERR_SYNTAX;
	}
	if (!ip_parse(family, f[2], fl[2], out->src) || !ip_parse(family, f[3], fl[3], out->dst) ||
	    !port_parse(f[4], fl[4], &out->src_port) || !port_parse(f[5], fl[5], &out->dst_port))
		return PROXYHDR_ERR_ADDRESS;
	return PROXYHDR_DONE;
}

static enum proxyhdr_rc v2_parse(const uint8_t *b, struct proxyhdr_addr *out)
{
	uint16_t len = (uint16_t)(b[14] << 8 | b[15]);
	const uint8_t *a = b + PROXYHDR_V2_FIXED;
	out->kind = PROXYHDR_UNKNOWN;
	if ((b[12] & 0x0f) == V2_CMD_LOCAL)
		return PROXYHDR_DONE; /* §2.2: the family is ignored */
	if (b[13] == V2_FAM_TCP4) {
		if (len < V2_LEN_TCP4)
			return PROXYHDR_ERR_ADDRESS;
		out->kind = PROXYHDR_TCP4;
		memcpy(out->src, a, 4);
		memcpy(out->dst, a + 4, 4);
		out->src_port = (uint16_t)(a[8] << 8 | a[9]);
		out->dst_port = (uint16_t)(a[10] << 8 | a[11]);
	} else if (b[13] == V2_FAM_TCP6) {
		if (len < V2_LEN_TCP6)
			return PROXYHDR_ERR_ADDRESS;
		out->kind = PROXYHDR_TCP6;
		memcpy(out->src, a, 16);
		memcpy(out->dst, a + 16, 16);
		out->src_port = (uint16_t)(a[32] << 8 | a[33]);
		out->dst_port = (uint16_t)(a[34] << 8 | a[35]);
	}
	return PROXYHDR_DONE; /* UNSPEC, UNIX, UDP: accepted, address unknown */
}

/* v2 after its fixed part: the address block kept up to 36 bytes, the rest
 * skipped. Returns bytes used of in[0..len). */
static size_t v2_body(struct proxyhdr *p, const uint8_t *in, size_t len)
{
	size_t i = 0;
	while (i < len && p->have < PROXYHDR_V2_FIXED + PROXYHDR_V2_INET6 && p->skip > 0) {
		p->buf[p->have++] = in[i++];
		p->skip--;
	}
	size_t n = len - i < p->skip ? len - i : p->skip;
	p->skip = (uint16_t)(p->skip - n);
	return i + n;
}

enum proxyhdr_rc proxyhdr_feed(struct proxyhdr *p, const uint8_t *in, size_t len, size_t *used,
                               struct proxyhdr_addr *out)
{
	if (p->err)
		return fail(p, (enum proxyhdr_rc)p->err, used);
	if (p->done) {
		*used = 0;
		return PROXYHDR_DONE;
	}
	size_t i = 0;
	if (p->version == 0 && len > 0) {
		if (in[0] == v1_sig[0])
			p->version = 1;
		else if (in[0] == v2_sig[0])
			p->version = 2;
		else
			return fail(p, PROXYHDR_ERR_SIGNATURE, used);
	}
	while (p->version == 1 && i < len) {
		uint8_t c = in[i++];
		if (p->have < sizeof(v1_sig) - 1 && c != v1_sig[p->have])
			return fail(p, PROXYHDR_ERR_SIGNATURE, used);
		if (c == '\n') {
			if (p->have < 1 || p->buf[p->have - 1] != '\r')
				return fail(p, PROXYHDR_ERR_SYNTAX, used);
			memset(out, 0, sizeof(*out));
			out->version = 1;
			enum proxyhdr_rc rc = v1_parse(p->buf, p->have - 1u, out);
			if (rc < 0)
				return fail(p, rc, used);
			p->done = true;
			*used = i;
			return PROXYHDR_DONE;
		}
		if (p->have == PROXYHDR_V1_MAX - 1) /* no room left for the LF */
			return fail(p, PROXYHDR_ERR_TOO_LONG, used);
		if ((c < 0x20 && c != '\r') || c > 0x7e ||
		    (p->have > 0 && p->buf[p->have - 1] == '\r'))
			return fail(p, PROXYHDR_ERR_SYNTAX, used); /* CR only right before LF */
		p->buf[p->have++] = c;
	}
	while (p->version == 2 && i < len && p->have < PROXYHDR_V2_FIXED) {
		uint8_t c = in[i++];
		if (p->have < sizeof(v2_sig) && c != v2_sig[p->have])
			return fail(p, PROXYHDR_ERR_SIGNATURE, used);
		p->buf[p->have++] = c;
		if (p->have == 13 && ((c >> 4) != 2 || (c & 0x0f) > V2_CMD_PROXY))
			return fail(p, PROXYHDR_ERR_VERSION, used);
		if (p->have == PROXYHDR_V2_FIXED)
			p->skip = (uint16_t)(p->buf[14] << 8 | p->buf[15]);
	}
	if (p->version == 2 && p->have >= PROXYHDR_V2_FIXED) {
		i += v2_body(p, in + i, len - i);
		if (p->skip == 0) {
			memset(out, 0, sizeof(*out));
			out->version = 2;
			enum proxyhdr_rc rc = v2_parse(p->buf, out);
			if (rc < 0)
				return fail(p, rc, used);
			p->done = true;
			*used = i;
			return PROXYHDR_DONE;
		}
	}
	*used = i;
	return PROXYHDR_NEED_MORE;
}

const char *proxyhdr_strerror(int rc)
{
	switch (rc) {
	case PROXYHDR_NEED_MORE:
		return "incomplete PROXY protocol header";
	case PROXYHDR_DONE:
		return "PROXY protocol header complete";
	case PROXYHDR_ERR_SIGNATURE:
		return "no PROXY protocol header";
	case PROXYHDR_ERR_SYNTAX:
		return "malformed PROXY protocol v1 line";
	case PROXYHDR_ERR_TOO_LONG:
		return "PROXY protocol v1 line too long";
	case PROXYHDR_ERR_VERSION:
		return "unknown PROXY protocol v2 version or command";
	case PROXYHDR_ERR_ADDRESS:
		return "bad address in PROXY protocol header";
	}
	return "unknown PROXY protocol error";
}
