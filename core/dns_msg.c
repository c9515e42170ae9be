/* dns_msg.c — DNS messages (RFC 1035 §4) built and read in caller memory.
 * Every offset is checked against the message length before a byte is read;
 * compression pointers must point strictly backwards, so no loop can form.
 * Never allocates, never does I/O. */
#include "core/dns_msg.h"

#include <string.h>

#define DNS_FLAG_QR 0x8000u     /* RFC 1035 §4.1.1 */
#define DNS_FLAG_TC 0x0200u
#define DNS_FLAG_RD 0x0100u
#define DNS_OPCODE_MASK 0x7800u /* opcode 0 = standard QUERY */
#define DNS_RCODE_MASK 0x000Fu
#define DNS_RR_FIXED 10         /* type, class, TTL, RDLENGTH: RFC 1035 §4.1.3 */
#define DNS_PTR_BITS 0xC0u      /* RFC 1035 §4.1.4 */

/* A name in wire form (RFC 1035 §3.1), ASCII letters lower-cased so that
 * equal names compare equal with memcmp (RFC 4343). */
struct dns_wire_name {
	size_t len;
	uint8_t b[DNS_MAX_WIRE_NAME];
};

/* One resource record's fixed fields; rdata is an offset into the message. */
struct dns_rr {
	size_t owner;
	uint16_t type, cls;
	uint32_t ttl;
	size_t rdata, rdlen;
};

/* The complete records of the answer section. */
struct dns_section {
	size_t start;
	unsigned count;
};

static uint16_t dns_get16(const uint8_t *p)
{
	return (uint16_t)((p[0] << 8) | p[1]);
}

static uint32_t dns_get32(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static void dns_put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static uint8_t dns_lower(uint8_t c)
{
	return (c >= 'A' && c <= 'Z') ? (uint8_t)(c + ('a' - 'A')) : c;
}

/* RFC 952/1123 host names, plus '_' which real names carry (_dmarc, CDNs). */
static bool dns_host_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '_';
}

int dns_name_check(const char *name, size_t *len)
{
	size_t i, label = 0, n;

	for (i = 0; name[i] != '\0'; i++) {
		if (i > DNS_MAX_NAME) /* 253 characters and a trailing dot at most */
			return DNS_MSG_ERR_NAME;
		if (name[i] == '.') {
			if (label == 0) /* leading dot or empty label */
				return DNS_MSG_ERR_NAME;
			label = 0;
		} else if (!dns_host_char(name[i]) || ++label > DNS_MAX_LABEL) {
			return DNS_MSG_ERR_NAME;
		}
	}
	n = (label == 0 && i > 0) ? i - 1 : i; /* one trailing dot is the root */
	if (n == 0 || n > DNS_MAX_NAME)
		return DNS_MSG_ERR_NAME;
	if (len)
		*len = n;
	return DNS_MSG_OK;
}

/* Text to lower-cased wire form: "Ab.c" -> 02 'a' 'b' 01 'c' 00. */
static int dns_name_encode(const char *name, struct dns_wire_name *out)
{
	size_t n, label_at = 0;

	if (dns_name_check(name, &n) != DNS_MSG_OK)
		return DNS_MSG_ERR_NAME;
	out->len = n + 2;
	for (size_t i = 0; i < n; i++) {
		if (name[i] == '.') {
			out->b[label_at] = (uint8_t)(i - label_at);
			label_at = i + 1;
		} else {
			out->b[i + 1] = dns_lower((uint8_t)name[i]);
		}
	}
	out->b[label_at] = (uint8_t)(n - label_at);
	out->b[n + 1] = 0;
	return DNS_MSG_OK;
}

int dns_msg_build_query(uint8_t *buf, size_t cap, uint16_t id, const char *name,
                        uint16_t qtype)
{
	struct dns_wire_name q;
	size_t need;

	if (dns_name_encode(name, &q) != DNS_MSG_OK)
		return DNS_MSG_ERR_NAME;
	need = DNS_HEADER_LEN + q.len + 4;
	if (cap < need)
		return DNS_MSG_ERR_SPACE;
	memset(buf, 0, DNS_HEADER_LEN);
	dns_put16(buf, id);
	dns_put16(buf + 2, DNS_FLAG_RD); /* recursion desired: RFC 1035 §4.1.1 */
	dns_put16(buf + 4, 1);           /* QDCOUNT */
	memcpy(buf + DNS_HEADER_LEN, q.b, q.len);
	dns_put16(buf + DNS_HEADER_LEN + q.len, qtype);
	dns_put16(buf + DNS_HEADER_LEN + q.len + 2, DNS_CLASS_IN);
	return (int)need;
}

/* Appends one label of c bytes at msg[pos + 1], keeping room for the root. */
static int dns_name_append(const uint8_t *msg, size_t len, size_t pos, uint8_t c,
                           struct dns_wire_name *out)
{
	if (c > len - pos - 1 || out->len + c + 2 > DNS_MAX_WIRE_NAME)
		return DNS_MSG_ERR_FORMAT;
	out->b[out->len++] = c;
	for (size_t i = 0; i < c; i++)
		out->b[out->len++] = dns_lower(msg[pos + 1 + i]);
	return DNS_MSG_OK;
}

/* Reads the name at *off into out, following compression pointers (RFC 1035
 * §4.1.4). A pointer must point before the start of the run of labels that
 * holds it, so run starts strictly decrease: no loop, O(len) work at most.
 * *off moves past the name as it sits in place (a pointer ends it). */
static int dns_name_read(const uint8_t *msg, size_t len, size_t *off, struct dns_wire_name *out)
{
	size_t pos = *off, run_start = *off, next = 0;
	bool jumped = false;

	out->len = 0;
	for (;;) {
		if (pos >= len)
			return DNS_MSG_ERR_FORMAT;
		uint8_t c = msg[pos];
		if ((c & DNS_PTR_BITS) == DNS_PTR_BITS) {
			if (pos + 1 >= len)
				return DNS_MSG_ERR_FORMAT;
			size_t ptr = ((size_t)(c & 0x3Fu) << 8) | msg[pos + 1];
			if (ptr >= run_start)
				return DNS_MSG_ERR_FORMAT;
			if (!jumped)
				next = pos + 2;
			jumped = true;
			pos = run_start = ptr;
		} else if (c & DNS_PTR_BITS) {
			return DNS_MSG_ERR_FORMAT; /* 0x40/0x80 label types: RFC 6891 §5 */
		} else if (c == 0) {
			out->b[out->len++] = 0;
			*off = jumped ? next : pos + 1;
			return DNS_MSG_OK;
		} else {
			if (dns_name_append(msg, len, pos, c, out) != DNS_MSG_OK)
				return DNS_MSG_ERR_FORMAT;
			pos += 1u + c;
		}
	}
}

static bool dns_name_eq(const struct dns_wire_name *a, const struct dns_wire_name *b)
{
	return a->len == b->len && memcmp(a->b, b->b, a->len) == 0;
}

/* Reads one record at *off and moves past it; its owner name is decoded to
 * prove it readable. */
static int dns_rr_read(const uint8_t *msg, size_t len, size_t *off, struct dns_rr *rr)
{
	struct dns_wire_name owner;
	size_t pos = *off;
	uint32_t ttl;

	rr->owner = pos;
	if (dns_name_read(msg, len, &pos, &owner) != DNS_MSG_OK || len - pos < DNS_RR_FIXED)
		return DNS_MSG_ERR_FORMAT;
	rr->type = dns_get16(msg + pos);
	rr->cls = dns_get16(msg + pos + 2);
	ttl = dns_get32(msg + pos + 4);
	rr->ttl = ttl > 0x7FFFFFFFu ? 0 : ttl; /* RFC 2181 §8: top bit set means 0 */
	rr->rdlen = dns_get16(msg + pos + 8);
	rr->rdata = pos + DNS_RR_FIXED;
	if (rr->rdlen > len - rr->rdata)
		return DNS_MSG_ERR_FORMAT;
	*off = rr->rdata + rr->rdlen;
	return DNS_MSG_OK;
}

/* Counts the answer records that can be read whole. A cut section is an
 * error, unless TC says the server cut it (RFC 1035 §4.1.1, RFC 2181 §9). */
static int dns_answers_scan(const uint8_t *msg, size_t len, size_t start, unsigned ancount,
                            bool truncated, struct dns_section *an)
{
	size_t off = start;
	struct dns_rr rr;

	an->start = start;
	for (an->count = 0; an->count < ancount; an->count++) {
		if (dns_rr_read(msg, len, &off, &rr) != DNS_MSG_OK)
			return truncated ? DNS_MSG_OK : DNS_MSG_ERR_FORMAT;
	}
	return DNS_MSG_OK;
}

/* Does record rr, of class IN and the given type, belong to name? */
static int dns_rr_owned_by(const uint8_t *msg, size_t len, const struct dns_rr *rr,
                           uint16_t type, const struct dns_wire_name *name, bool *owned)
{
	struct dns_wire_name owner;
	size_t pos = rr->owner;

	*owned = false;
	if (rr->type != type || rr->cls != DNS_CLASS_IN)
		return DNS_MSG_OK;
	if (dns_name_read(msg, len, &pos, &owner) != DNS_MSG_OK)
		return DNS_MSG_ERR_FORMAT;
	*owned = dns_name_eq(&owner, name);
	return DNS_MSG_OK;
}

/* Finds the first answer of the given type owned by name: 1 found, 0 none,
 * or an error. */
static int dns_answers_find(const uint8_t *msg, size_t len, const struct dns_section *an,
                            uint16_t type, const struct dns_wire_name *name, struct dns_rr *rr)
{
	size_t off = an->start;
	bool owned;

	for (unsigned i = 0; i < an->count; i++) {
		if (dns_rr_read(msg, len, &off, rr) != DNS_MSG_OK ||
		    dns_rr_owned_by(msg, len, rr, type, name, &owned) != DNS_MSG_OK)
			return DNS_MSG_ERR_FORMAT;
		if (owned)
			return 1;
	}
	return 0;
}

static uint32_t dns_min32(uint32_t a, uint32_t b)
{
	return a < b ? a : b;
}

/* Follows CNAMEs from name (RFC 1034 §3.6.2) until a name has none; name
 * ends as the canonical name. A chain longer than DNS_MAX_CNAME_CHAIN is
 * taken for a loop. */
static int dns_cname_follow(const uint8_t *msg, size_t len, const struct dns_section *an,
                            struct dns_wire_name *name, uint32_t *ttl)
{
	struct dns_rr rr;

	for (unsigned hops = 0;; hops++) {
		int found = dns_answers_find(msg, len, an, DNS_TYPE_CNAME, name, &rr);
		if (found <= 0)
			return found;
		if (hops == DNS_MAX_CNAME_CHAIN)
			return DNS_MSG_ERR_FORMAT;
		size_t pos = rr.rdata;
		if (dns_name_read(msg, len, &pos, name) != DNS_MSG_OK || pos != rr.rdata + rr.rdlen)
			return DNS_MSG_ERR_FORMAT; /* the RDATA is exactly one name */
		*ttl = dns_min32(*ttl, rr.ttl);
	}
}

/* Collects the addresses owned by name; a wrong RDLENGTH is an error. */
static int dns_addrs_collect(const uint8_t *msg, size_t len, const struct dns_section *an,
                             uint16_t qtype, const struct dns_wire_name *name, uint32_t *ttl,
                             struct dns_msg_result *res)
{
	size_t off = an->start;
	struct dns_rr rr;
	bool owned;

	for (unsigned i = 0; i < an->count; i++) {
		if (dns_rr_read(msg, len, &off, &rr) != DNS_MSG_OK ||
		    dns_rr_owned_by(msg, len, &rr, qtype, name, &owned) != DNS_MSG_OK)
			return DNS_MSG_ERR_FORMAT;
		if (!owned)
			continue;
		if (rr.rdlen != res->addr_len)
			return DNS_MSG_ERR_FORMAT;
		*ttl = dns_min32(*ttl, rr.ttl);
		if (res->naddrs < DNS_MSG_MAX_ADDRS)
			memcpy(res->addrs[res->naddrs++], msg + rr.rdata, rr.rdlen);
	}
	return DNS_MSG_OK;
}

/* Header and question: is this the answer to our query? Sets *answers_at. */
static int dns_response_match(const uint8_t *msg, size_t len, uint16_t id,
                              const struct dns_wire_name *qname, uint16_t qtype,
                              size_t *answers_at)
{
	struct dns_wire_name asked;
	size_t pos = DNS_HEADER_LEN;
	uint16_t flags;

	if (len < DNS_HEADER_LEN)
		return DNS_MSG_ERR_FORMAT;
	flags = dns_get16(msg + 2);
	if (dns_get16(msg) != id || !(flags & DNS_FLAG_QR) || (flags & DNS_OPCODE_MASK) != 0 ||
	    dns_get16(msg + 4) != 1)
		return DNS_MSG_ERR_MISMATCH;
	if (dns_name_read(msg, len, &pos, &asked) != DNS_MSG_OK || len - pos < 4)
		return DNS_MSG_ERR_FORMAT;
	if (!dns_name_eq(&asked, qname) || dns_get16(msg + pos) != qtype ||
	    dns_get16(msg + pos + 2) != DNS_CLASS_IN)
		return DNS_MSG_ERR_MISMATCH;
	*answers_at = pos + 4;
	return DNS_MSG_OK;
}

static uint8_t dns_addr_len(uint16_t qtype)
{
	return qtype == DNS_TYPE_A ? 4 : qtype == DNS_TYPE_AAAA ? 16 : 0;
}

/* NOERROR: the answer section, CNAMEs first, then the addresses. */
static int dns_answers_read(const uint8_t *msg, size_t len, size_t at,
                            struct dns_wire_name *name, uint16_t qtype,
                            struct dns_msg_result *res)
{
	struct dns_section an;
	uint32_t ttl = UINT32_MAX;
	int rc = dns_answers_scan(msg, len, at, dns_get16(msg + 6), res->truncated, &an);

	if (rc == DNS_MSG_OK)
		rc = dns_cname_follow(msg, len, &an, name, &ttl);
	if (rc == DNS_MSG_OK && res->addr_len > 0)
		rc = dns_addrs_collect(msg, len, &an, qtype, name, &ttl, res);
	if (rc != DNS_MSG_OK)
		return DNS_MSG_ERR_FORMAT;
	res->ttl = ttl == UINT32_MAX ? 0 : ttl;
	return DNS_MSG_OK;
}

int dns_msg_parse_response(const uint8_t *msg, size_t len, uint16_t id, const char *name,
                           uint16_t qtype, struct dns_msg_result *res)
{
	struct dns_wire_name qname;
	struct dns_msg_result out;
	size_t at = 0;
	int rc;

	if (dns_name_encode(name, &qname) != DNS_MSG_OK)
		return DNS_MSG_ERR_NAME;
	rc = dns_response_match(msg, len, id, &qname, qtype, &at);
	if (rc != DNS_MSG_OK)
		return rc;
	memset(&out, 0, sizeof(out));
	out.rcode = (uint8_t)(dns_get16(msg + 2) & DNS_RCODE_MASK);
	out.truncated = (dns_get16(msg + 2) & DNS_FLAG_TC) != 0;
	out.addr_len = dns_addr_len(qtype);
	if (out.rcode == DNS_RCODE_NOERROR) {
		rc = dns_answers_read(msg, len, at, &qname, qtype, &out);
		if (rc != DNS_MSG_OK)
			return rc;
	}
	*res = out;
	return DNS_MSG_OK;
}

const char *dns_msg_strerror(int rc)
{
	switch (rc) {
	case DNS_MSG_OK:
		return "ok";
	case DNS_MSG_ERR_NAME:
		return "invalid host name";
	case DNS_MSG_ERR_SPACE:
		return "buffer too small for the query";
	case DNS_MSG_ERR_MISMATCH:
		return "not a response to this query";
	case DNS_MSG_ERR_FORMAT:
		return "malformed DNS response";
	default:
		return "unknown DNS message error";
	}
}
