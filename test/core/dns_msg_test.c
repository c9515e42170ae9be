/* dns_msg_test.c — DNS wire format: exact query bytes, name rules, and
 * responses with compression, CNAME chains, NXDOMAIN, truncation, malformed
 * records and pointer loops. Messages sit against a guard page, so any read
 * past their end faults. */
#include "core/dns_msg.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "test/check.h"

/* ---- a tiny response writer ---- */

struct pkt {
	uint8_t b[2048];
	size_t len;
};

static void put8(struct pkt *p, unsigned v)
{
	p->b[p->len++] = (uint8_t)v;
}

static void put16(struct pkt *p, unsigned v)
{
	put8(p, v >> 8);
	put8(p, v & 0xFF);
}

static void put32(struct pkt *p, uint32_t v)
{
	put16(p, v >> 16);
	put16(p, v & 0xFFFF);
}

static void put_bytes(struct pkt *p, const void *src, size_t n)
{
	memcpy(p->b + p->len, src, n);
	p->len += n;
}

/* Labels of a dotted name, ending with the root unless ptr >= 0, in which
 * case a compression pointer to ptr ends it. */
static void put_name_ptr(struct pkt *p, const char *name, int ptr)
{
	while (*name) {
		size_t n = strcspn(name, ".");
		put8(p, (unsigned)n);
		put_bytes(p, name, n);
		name += n + (name[n] == '.');
	}
	if (ptr >= 0)
		put16(p, 0xC000u | (unsigned)ptr);
	else
		put8(p, 0);
}

static void put_name(struct pkt *p, const char *name)
{
	put_name_ptr(p, name, -1);
}

static void put_header(struct pkt *p, uint16_t id, unsigned flags, unsigned qd, unsigned an)
{
	p->len = 0;
	put16(p, id);
	put16(p, flags);
	put16(p, qd);
	put16(p, an);
	put16(p, 0);
	put16(p, 0);
}

#define QR_RD_RA 0x8180u
#define ID 0xBEEFu

static void put_question(struct pkt *p, const char *name, uint16_t type)
{
	put_name(p, name);
	put16(p, type);
	put16(p, DNS_CLASS_IN);
}

/* Owner already written; type, class IN, ttl, rdlength. */
static void put_rr_fixed(struct pkt *p, uint16_t type, uint32_t ttl, unsigned rdlen)
{
	put16(p, type);
	put16(p, DNS_CLASS_IN);
	put32(p, ttl);
	put16(p, rdlen);
}

static void put_a(struct pkt *p, int owner_ptr, uint32_t ttl, uint8_t last)
{
	const uint8_t ip[4] = {192, 0, 2, last};
	put16(p, 0xC000u | (unsigned)owner_ptr);
	put_rr_fixed(p, DNS_TYPE_A, ttl, 4);
	put_bytes(p, ip, 4);
}

/* ---- guard page: the message ends exactly where readable memory ends ---- */

static uint8_t *guard_base;
static size_t guard_page;

static const uint8_t *guarded(const uint8_t *msg, size_t len)
{
	if (!guard_base) {
		guard_page = (size_t)sysconf(_SC_PAGESIZE);
		guard_base = mmap(NULL, 2 * guard_page, PROT_READ | PROT_WRITE,
		                  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (guard_base == MAP_FAILED)
			abort();
		mprotect(guard_base + guard_page, guard_page, PROT_NONE);
	}
	if (len > guard_page)
		abort();
	memcpy(guard_base + guard_page - len, msg, len);
	return guard_base + guard_page - len;
}

static int parse(const struct pkt *p, size_t len, const char *name, uint16_t type,
                 struct dns_msg_result *r)
{
	memset(r, 0xAA, sizeof(*r));
	return dns_msg_parse_response(guarded(p->b, len), len, ID, name, type, r);
}

/* ---- names and queries ---- */

static void test_name_check(void)
{
	char long_label[70], long_name[300];
	size_t n = 99;

	CHECK_EQ_INT(dns_name_check("example.com", &n), DNS_MSG_OK);
	CHECK_EQ_INT(n, 11);
	CHECK_EQ_INT(dns_name_check("example.com.", &n), DNS_MSG_OK);
	CHECK_EQ_INT(n, 11);
	CHECK_EQ_INT(dns_name_check("a", NULL), DNS_MSG_OK);
	CHECK_EQ_INT(dns_name_check("_dmarc.my-host.example", NULL), DNS_MSG_OK);
	CHECK_EQ_INT(dns_name_check("", NULL), DNS_MSG_ERR_NAME);
	CHECK_EQ_INT(dns_name_check(".", NULL), DNS_MSG_ERR_NAME);
	CHECK_EQ_INT(dns_name_check(".a", NULL), DNS_MSG_ERR_NAME);
	CHECK_EQ_INT(dns_name_check("a..b", NULL), DNS_MSG_ERR_NAME);
	CHECK_EQ_INT(dns_name_check("a.b..", NULL), DNS_MSG_ERR_NAME);
	CHECK_EQ_INT(dns_name_check("a b", NULL), DNS_MSG_ERR_NAME);
	CHECK_EQ_INT(dns_name_check("a/b", NULL), DNS_MSG_ERR_NAME);
	CHECK_EQ_INT(dns_name_check("a\\.b", NULL), DNS_MSG_ERR_NAME);
	CHECK_EQ_INT(dns_name_check("caf\xc3\xa9.fr", NULL), DNS_MSG_ERR_NAME);

	memset(long_label, 'x', 63);
	long_label[63] = '\0';
	CHECK_EQ_INT(dns_name_check(long_label, NULL), DNS_MSG_OK);
	long_label[63] = 'x';
	long_label[64] = '\0';
	CHECK_EQ_INT(dns_name_check(long_label, NULL), DNS_MSG_ERR_NAME);

	/* 253 characters: 63.63.63.61 */
	memset(long_name, 'a', sizeof(long_name));
	long_name[63] = long_name[127] = long_name[191] = '.';
	long_name[253] = '\0';
	CHECK_EQ_INT(dns_name_check(long_name, &n), DNS_MSG_OK);
	CHECK_EQ_INT(n, 253);
	long_name[253] = '.';
	long_name[254] = '\0';
	CHECK_EQ_INT(dns_name_check(long_name, &n), DNS_MSG_OK); /* trailing dot */
	long_name[253] = 'a';
	CHECK_EQ_INT(dns_name_check(long_name, NULL), DNS_MSG_ERR_NAME); /* 254 */
	long_name[255] = 'a';
	long_name[256] = '\0';
	CHECK_EQ_INT(dns_name_check(long_name, NULL), DNS_MSG_ERR_NAME);
}

static void test_build_query(void)
{
	static const uint8_t want[] = {
		0x12, 0x34, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
		7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 3, 'c', 'o', 'm', 0,
		0x00, 0x01, 0x00, 0x01,
	};
	uint8_t buf[DNS_MAX_QUERY];

	CHECK_EQ_INT(dns_msg_build_query(buf, sizeof(buf), 0x1234, "Example.COM.", DNS_TYPE_A),
	             sizeof(want));
	CHECK_MEM(buf, want, sizeof(want));
	CHECK_EQ_INT(dns_msg_build_query(buf, sizeof(want) - 1, 0x1234, "example.com", 1),
	             DNS_MSG_ERR_SPACE);
	CHECK_EQ_INT(dns_msg_build_query(buf, sizeof(want), 0x1234, "example.com", DNS_TYPE_AAAA),
	             sizeof(want));
	CHECK(buf[sizeof(want) - 4] == 0 && buf[sizeof(want) - 3] == 28);
	CHECK_EQ_INT(dns_msg_build_query(buf, sizeof(buf), 1, "a..b", DNS_TYPE_A), DNS_MSG_ERR_NAME);
	CHECK_EQ_INT(dns_msg_build_query(buf, sizeof(buf), 1, "a", DNS_TYPE_A), 12 + 3 + 4);
	CHECK_MEM(buf + 12, "\x01" "a\x00\x00\x01\x00\x01", 7);
}

/* The longest name fills DNS_MAX_QUERY exactly. */
static void test_build_query_longest(void)
{
	char name[254];
	uint8_t buf[DNS_MAX_QUERY];

	memset(name, 'b', sizeof(name));
	name[63] = name[127] = name[191] = '.';
	name[253] = '\0';
	CHECK_EQ_INT(dns_msg_build_query(buf, sizeof(buf), 7, name, DNS_TYPE_A), DNS_MAX_QUERY);
	CHECK_EQ_INT(buf[12], 63);
	CHECK_EQ_INT(buf[12 + 64 * 3], 61);
	CHECK_EQ_INT(buf[DNS_MAX_QUERY - 5], 0);
}

/* ---- responses ---- */

static void simple_a(struct pkt *p, unsigned flags, unsigned an)
{
	put_header(p, ID, flags, 1, an);
	put_question(p, "example.com", DNS_TYPE_A);
	for (unsigned i = 0; i < an; i++)
		put_a(p, 12, 300 + i, (uint8_t)(i + 1));
}

static void test_parse_a(void)
{
	struct pkt p;
	struct dns_msg_result r;

	simple_a(&p, QR_RD_RA, 2);
	CHECK_EQ_INT(parse(&p, p.len, "example.com", DNS_TYPE_A, &r), DNS_MSG_OK);
	CHECK_EQ_INT(r.rcode, DNS_RCODE_NOERROR);
	CHECK(!r.truncated);
	CHECK_EQ_INT(r.addr_len, 4);
	CHECK_EQ_INT(r.naddrs, 2);
	CHECK_MEM(r.addrs[0], "\xc0\x00\x02\x01", 4);
	CHECK_MEM(r.addrs[1], "\xc0\x00\x02\x02", 4);
	CHECK_EQ_INT(r.ttl, 300);
	/* the question is matched without regard to case (RFC 4343) */
	CHECK_EQ_INT(parse(&p, p.len, "EXAMPLE.Com.", DNS_TYPE_A, &r), DNS_MSG_OK);
	CHECK_EQ_INT(r.naddrs, 2);
}

static void test_parse_aaaa(void)
{
	static const uint8_t ip[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 0x42};
	struct pkt p;
	struct dns_msg_result r;

	put_header(&p, ID, QR_RD_RA, 1, 1);
	put_question(&p, "v6.example", DNS_TYPE_AAAA);
	put16(&p, 0xC00C);
	put_rr_fixed(&p, DNS_TYPE_AAAA, 60, 16);
	put_bytes(&p, ip, 16);
	CHECK_EQ_INT(parse(&p, p.len, "v6.example", DNS_TYPE_AAAA, &r), DNS_MSG_OK);
	CHECK_EQ_INT(r.addr_len, 16);
	CHECK_EQ_INT(r.naddrs, 1);
	CHECK_MEM(r.addrs[0], ip, 16);
	CHECK_EQ_INT(r.ttl, 60);
	/* an AAAA answer is not an answer to an A question */
	CHECK_EQ_INT(parse(&p, p.len, "v6.example", DNS_TYPE_A, &r), DNS_MSG_ERR_MISMATCH);
}

/* www.example.com CNAME a.cdn.example.net CNAME b.cdn.example.net A x2,
 * every later name compressed against an earlier one. */
static void cname_chain(struct pkt *p)
{
	size_t a_at, b_at;

	put_header(p, ID, QR_RD_RA, 1, 4);
	put_question(p, "www.example.com", DNS_TYPE_A);
	/* cname 1: owner -> question; rdata "a.cdn.example" + ptr to "com" */
	put16(p, 0xC00C);
	put_rr_fixed(p, DNS_TYPE_CNAME, 100, 0);
	a_at = p->len;
	put_name_ptr(p, "a.cdn.example", 24); /* "com" of the question */
	p->b[a_at - 1] = (uint8_t)(p->len - a_at);
	/* cname 2: owner a.cdn.example.com -> b + ptr to "cdn.example.com" */
	put16(p, 0xC000u | (unsigned)a_at);
	put_rr_fixed(p, DNS_TYPE_CNAME, 50, 0);
	b_at = p->len;
	put_name_ptr(p, "b", (int)a_at + 2);
	p->b[b_at - 1] = (uint8_t)(p->len - b_at);
	put_a(p, (int)b_at, 200, 9);
	put_a(p, (int)b_at, 30, 10);
}

static void test_parse_cname_chain(void)
{
	struct pkt p;
	struct dns_msg_result r;

	cname_chain(&p);
	CHECK_EQ_INT(parse(&p, p.len, "www.example.com", DNS_TYPE_A, &r), DNS_MSG_OK);
	CHECK_EQ_INT(r.naddrs, 2);
	CHECK_MEM(r.addrs[0], "\xc0\x00\x02\x09", 4);
	CHECK_MEM(r.addrs[1], "\xc0\x00\x02\x0a", 4);
	CHECK_EQ_INT(r.ttl, 30); /* least of 100, 50, 200, 30 */
	/* asked for AAAA: the chain is followed, no address, not an error */
	p.b[30] = DNS_TYPE_AAAA; /* the question's type, low byte */
	CHECK_EQ_INT(parse(&p, p.len, "www.example.com", DNS_TYPE_AAAA, &r), DNS_MSG_OK);
	CHECK_EQ_INT(r.naddrs, 0);
	CHECK_EQ_INT(r.ttl, 50);
}

/* The chain's records in any order: addresses first, CNAMEs last, with
 * owners written in full (no forward pointers are possible). */
static void test_parse_cname_out_of_order(void)
{
	struct pkt p;
	struct dns_msg_result r;

	put_header(&p, ID, QR_RD_RA, 1, 4);
	put_question(&p, "www.example.com", DNS_TYPE_A);
	put_name(&p, "edge.cdn.test");
	put_rr_fixed(&p, DNS_TYPE_A, 40, 4);
	put_bytes(&p, "\x0a\x00\x00\x05", 4);
	put_name(&p, "mid.example.com");
	put_rr_fixed(&p, DNS_TYPE_CNAME, 70, 15);
	put_name(&p, "edge.cdn.test");
	put_name(&p, "other.test"); /* unrelated record: ignored */
	put_rr_fixed(&p, DNS_TYPE_A, 1, 4);
	put_bytes(&p, "\x0b\x00\x00\x01", 4);
	put16(&p, 0xC00C);
	put_rr_fixed(&p, DNS_TYPE_CNAME, 90, 17);
	put_name(&p, "MID.example.com");
	CHECK_EQ_INT(parse(&p, p.len, "www.example.com", DNS_TYPE_A, &r), DNS_MSG_OK);
	CHECK_EQ_INT(r.naddrs, 1);
	CHECK_MEM(r.addrs[0], "\x0a\x00\x00\x05", 4);
	CHECK_EQ_INT(r.ttl, 40);
}

static void test_parse_cname_loop(void)
{
	struct pkt p;
	struct dns_msg_result r;

	/* a -> b -> a */
	put_header(&p, ID, QR_RD_RA, 1, 2);
	put_question(&p, "a.test", DNS_TYPE_A);
	put16(&p, 0xC00C);
	put_rr_fixed(&p, DNS_TYPE_CNAME, 5, 8);
	put_name(&p, "b.test");
	put_name(&p, "b.test");
	put_rr_fixed(&p, DNS_TYPE_CNAME, 5, 2);
	put16(&p, 0xC00C);
	CHECK_EQ_INT(parse(&p, p.len, "a.test", DNS_TYPE_A, &r), DNS_MSG_ERR_FORMAT);
}

/* n0 -> n1 -> ... -> n{hops}, then an A for the last. */
static void cname_hops(struct pkt *p, unsigned hops)
{
	char owner[24], target[24];

	put_header(p, ID, QR_RD_RA, 1, hops + 1);
	put_question(p, "n0.test", DNS_TYPE_A);
	for (unsigned i = 0; i < hops; i++) {
		snprintf(owner, sizeof(owner), "n%u.test", i);
		snprintf(target, sizeof(target), "n%u.test", i + 1);
		put_name(p, owner);
		put_rr_fixed(p, DNS_TYPE_CNAME, 5, (unsigned)strlen(target) + 2);
		put_name(p, target);
	}
	snprintf(owner, sizeof(owner), "n%u.test", hops);
	put_name(p, owner);
	put_rr_fixed(p, DNS_TYPE_A, 5, 4);
	put_bytes(p, "\x01\x02\x03\x04", 4);
}

static void test_parse_cname_limit(void)
{
	struct pkt p;
	struct dns_msg_result r;

	cname_hops(&p, DNS_MAX_CNAME_CHAIN);
	CHECK_EQ_INT(parse(&p, p.len, "n0.test", DNS_TYPE_A, &r), DNS_MSG_OK);
	CHECK_EQ_INT(r.naddrs, 1);
	cname_hops(&p, DNS_MAX_CNAME_CHAIN + 1);
	CHECK_EQ_INT(parse(&p, p.len, "n0.test", DNS_TYPE_A, &r), DNS_MSG_ERR_FORMAT);
}

static void test_parse_rcodes(void)
{
	struct pkt p;
	struct dns_msg_result r;

	simple_a(&p, QR_RD_RA | DNS_RCODE_NXDOMAIN, 0);
	CHECK_EQ_INT(parse(&p, p.len, "example.com", DNS_TYPE_A, &r), DNS_MSG_OK);
	CHECK_EQ_INT(r.rcode, DNS_RCODE_NXDOMAIN);
	CHECK_EQ_INT(r.naddrs, 0);
	simple_a(&p, QR_RD_RA | DNS_RCODE_SERVFAIL, 0);
	CHECK_EQ_INT(parse(&p, p.len, "example.com", DNS_TYPE_A, &r), DNS_MSG_OK);
	CHECK_EQ_INT(r.rcode, DNS_RCODE_SERVFAIL);
	simple_a(&p, QR_RD_RA | DNS_RCODE_REFUSED, 0);
	CHECK_EQ_INT(parse(&p, p.len, "example.com", DNS_TYPE_A, &r), DNS_MSG_OK);
	CHECK_EQ_INT(r.rcode, DNS_RCODE_REFUSED);
	/* NODATA: NOERROR and no answer */
	simple_a(&p, QR_RD_RA, 0);
	CHECK_EQ_INT(parse(&p, p.len, "example.com", DNS_TYPE_A, &r), DNS_MSG_OK);
	CHECK_EQ_INT(r.rcode, DNS_RCODE_NOERROR);
	CHECK_EQ_INT(r.naddrs, 0);
	CHECK_EQ_INT(r.ttl, 0);
}

static void test_parse_mismatch(void)
{
	struct pkt p;
	struct dns_msg_result r;

	simple_a(&p, QR_RD_RA, 1);
	CHECK_EQ_INT(dns_msg_parse_response(p.b, p.len, ID ^ 1, "example.com", 1, &r),
	             DNS_MSG_ERR_MISMATCH);
	CHECK_EQ_INT(parse(&p, p.len, "example.org", DNS_TYPE_A, &r), DNS_MSG_ERR_MISMATCH);
	CHECK_EQ_INT(parse(&p, p.len, "www.example.com", DNS_TYPE_A, &r), DNS_MSG_ERR_MISMATCH);
	CHECK_EQ_INT(parse(&p, p.len, "example.com", DNS_TYPE_AAAA, &r), DNS_MSG_ERR_MISMATCH);
	CHECK_EQ_INT(parse(&p, p.len, "bad..name", DNS_TYPE_A, &r), DNS_MSG_ERR_NAME);
	simple_a(&p, 0x0180, 1); /* QR clear: a query, not a response */
	CHECK_EQ_INT(parse(&p, p.len, "example.com", DNS_TYPE_A, &r), DNS_MSG_ERR_MISMATCH);
	simple_a(&p, QR_RD_RA | 0x2000, 1); /* opcode 4 (NOTIFY) */
	CHECK_EQ_INT(parse(&p, p.len, "example.com", DNS_TYPE_A, &r), DNS_MSG_ERR_MISMATCH);
	simple_a(&p, QR_RD_RA, 1);
	p.b[5] = 2; /* QDCOUNT 2 */
	CHECK_EQ_INT(parse(&p, p.len, "example.com", DNS_TYPE_A, &r), DNS_MSG_ERR_MISMATCH);
	p.b[5] = 0;
	CHECK_EQ_INT(parse(&p, p.len, "example.com", DNS_TYPE_A, &r), DNS_MSG_ERR_MISMATCH);
	simple_a(&p, QR_RD_RA, 1);
	p.b[12 + 13 + 3] = 3; /* class CH */
	CHECK_EQ_INT(parse(&p, p.len, "example.com", DNS_TYPE_A, &r), DNS_MSG_ERR_MISMATCH);
}

/* Every proper prefix of a response without TC is an error, never OK, and
 * never reads past its end (the guard page). */
static void check_every_prefix_fails(const struct pkt *p, const char *name, uint16_t type)
{
	struct dns_msg_result r;
	int bad = 0;

	for (size_t len = 0; len < p->len; len++) {
		int rc = parse(p, len, name, type, &r);
		if (rc == DNS_MSG_OK)
			bad++;
	}
	CHECK_EQ_INT(bad, 0);
	CHECK_EQ_INT(parse(p, p->len, name, type, &r), DNS_MSG_OK);
}

static void test_parse_truncated_prefixes(void)
{
	struct pkt p;

	simple_a(&p, QR_RD_RA, 3);
	check_every_prefix_fails(&p, "example.com", DNS_TYPE_A);
	cname_chain(&p);
	check_every_prefix_fails(&p, "www.example.com", DNS_TYPE_A);
}

/* TC set: the complete records before the cut are used. */
static void test_parse_tc(void)
{
	struct pkt p;
	struct dns_msg_result r;

	simple_a(&p, QR_RD_RA | 0x0200, 3);
	CHECK_EQ_INT(parse(&p, p.len - 6, "example.com", DNS_TYPE_A, &r), DNS_MSG_OK);
	CHECK(r.truncated);
	CHECK_EQ_INT(r.naddrs, 2);
	CHECK_EQ_INT(parse(&p, 12 + 17, "example.com", DNS_TYPE_A, &r), DNS_MSG_OK);
	CHECK(r.truncated);
	CHECK_EQ_INT(r.naddrs, 0);
	/* TC with the question itself cut is still malformed */
	CHECK_EQ_INT(parse(&p, 12 + 10, "example.com", DNS_TYPE_A, &r), DNS_MSG_ERR_FORMAT);
}

static void test_parse_pointer_loops(void)
{
	struct pkt p;
	struct dns_msg_result r;
	size_t at;

	/* owner is a pointer to itself */
	simple_a(&p, QR_RD_RA, 1);
	at = 12 + 17;
	p.b[at] = 0xC0;
	p.b[at + 1] = (uint8_t)at;
	CHECK_EQ_INT(parse(&p, p.len, "example.com", DNS_TYPE_A, &r), DNS_MSG_ERR_FORMAT);
	/* a forward pointer */
	p.b[at + 1] = (uint8_t)(at + 4);
	CHECK_EQ_INT(parse(&p, p.len, "example.com", DNS_TYPE_A, &r), DNS_MSG_ERR_FORMAT);
	/* a label then a pointer back to that label: backward, yet a loop */
	put_header(&p, ID, QR_RD_RA, 1, 1);
	put_question(&p, "example.com", DNS_TYPE_A);
	at = p.len;
	put8(&p, 1);
	put8(&p, 'x');
	put16(&p, 0xC000u | (unsigned)at);
	put_rr_fixed(&p, DNS_TYPE_A, 1, 4);
	put_bytes(&p, "\x01\x02\x03\x04", 4);
	CHECK_EQ_INT(parse(&p, p.len, "example.com", DNS_TYPE_A, &r), DNS_MSG_ERR_FORMAT);
	/* two pointers pointing at each other (the second one backwards) */
	put_header(&p, ID, QR_RD_RA, 1, 1);
	put_question(&p, "example.com", DNS_TYPE_A);
	at = p.len;
	put16(&p, 0xC000u | (unsigned)(at + 2));
	put16(&p, 0xC000u | (unsigned)at);
	CHECK_EQ_INT(parse(&p, p.len, "example.com", DNS_TYPE_A, &r), DNS_MSG_ERR_FORMAT);
	/* a pointer into the header makes the question unreadable */
	put_header(&p, ID, QR_RD_RA, 1, 0);
	put16(&p, 0xC002);
	put16(&p, 1);
	put16(&p, 1);
	CHECK(parse(&p, p.len, "example.com", DNS_TYPE_A, &r) < 0);
}

/* Labels chained by pointers, each to the one placed before it and ending
 * in the question's "com"; each run sits in the RDATA of a record of an
 * unknown type (99), and a last A record is owned by the last run. */
static void pointer_chain(struct pkt *p, int labels)
{
	size_t prev = 20; /* "com" of the question */

	put_header(p, ID, QR_RD_RA, 1, (unsigned)labels + 1);
	put_question(p, "example.com", DNS_TYPE_A);
	for (int i = 0; i < labels; i++) {
		char label[64];
		memset(label, 'a' + i, 60);
		label[60] = '\0';
		put16(p, 0xC00C);
		put_rr_fixed(p, 99, 1, 63);
		size_t at = p->len;
		put_name_ptr(p, label, (int)prev);
		prev = at;
	}
	put16(p, 0xC000u | (unsigned)prev);
	put_rr_fixed(p, DNS_TYPE_A, 1, 4);
	put_bytes(p, "\x01\x02\x03\x04", 4);
}

/* 3 x 61 + "com" fits in 255 octets; 5 x 61 does not. */
static void test_parse_name_too_long(void)
{
	struct pkt p;
	struct dns_msg_result r;

	pointer_chain(&p, 3);
	CHECK_EQ_INT(parse(&p, p.len, "example.com", DNS_TYPE_A, &r), DNS_MSG_OK);
	CHECK_EQ_INT(r.naddrs, 0); /* owned by another name */
	pointer_chain(&p, 5);
	CHECK_EQ_INT(parse(&p, p.len, "example.com", DNS_TYPE_A, &r), DNS_MSG_ERR_FORMAT);
}

static void test_parse_bad_records(void)
{
	struct pkt p;
	struct dns_msg_result r;

	/* A with RDLENGTH 5 */
	put_header(&p, ID, QR_RD_RA, 1, 1);
	put_question(&p, "example.com", DNS_TYPE_A);
	put16(&p, 0xC00C);
	put_rr_fixed(&p, DNS_TYPE_A, 1, 5);
	put_bytes(&p, "\x01\x02\x03\x04\x05", 5);
	CHECK_EQ_INT(parse(&p, p.len, "example.com", DNS_TYPE_A, &r), DNS_MSG_ERR_FORMAT);
	/* RDLENGTH past the end */
	p.b[p.len - 6] = 0x10;
	CHECK_EQ_INT(parse(&p, p.len, "example.com", DNS_TYPE_A, &r), DNS_MSG_ERR_FORMAT);
	/* ANCOUNT larger than the records present */
	simple_a(&p, QR_RD_RA, 2);
	p.b[7] = 3;
	CHECK_EQ_INT(parse(&p, p.len, "example.com", DNS_TYPE_A, &r), DNS_MSG_ERR_FORMAT);
	/* 0x40 extended label type */
	simple_a(&p, QR_RD_RA, 1);
	p.b[12 + 17] = 0x41;
	CHECK_EQ_INT(parse(&p, p.len, "example.com", DNS_TYPE_A, &r), DNS_MSG_ERR_FORMAT);
	/* CNAME whose RDATA holds more than one name */
	put_header(&p, ID, QR_RD_RA, 1, 1);
	put_question(&p, "example.com", DNS_TYPE_A);
	put16(&p, 0xC00C);
	put_rr_fixed(&p, DNS_TYPE_CNAME, 1, 4);
	put_bytes(&p, "\x01x\x00\x00", 4);
	CHECK_EQ_INT(parse(&p, p.len, "example.com", DNS_TYPE_A, &r), DNS_MSG_ERR_FORMAT);
	/* shorter than a header */
	CHECK_EQ_INT(parse(&p, 11, "example.com", DNS_TYPE_A, &r), DNS_MSG_ERR_FORMAT);
}

static void test_parse_misc(void)
{
	struct pkt p;
	struct dns_msg_result r;

	/* more than DNS_MSG_MAX_ADDRS: the first ones are kept */
	simple_a(&p, QR_RD_RA, DNS_MSG_MAX_ADDRS + 4);
	CHECK_EQ_INT(parse(&p, p.len, "example.com", DNS_TYPE_A, &r), DNS_MSG_OK);
	CHECK_EQ_INT(r.naddrs, DNS_MSG_MAX_ADDRS);
	CHECK_MEM(r.addrs[DNS_MSG_MAX_ADDRS - 1], "\xc0\x00\x02\x08", 4);
	/* TTL with the top bit set counts as 0 (RFC 2181 §8) */
	simple_a(&p, QR_RD_RA, 1);
	p.b[p.len - 10] = 0x80;
	CHECK_EQ_INT(parse(&p, p.len, "example.com", DNS_TYPE_A, &r), DNS_MSG_OK);
	CHECK_EQ_INT(r.ttl, 0);
	/* records of class CH are not addresses */
	simple_a(&p, QR_RD_RA, 1);
	p.b[p.len - 11] = 3;
	CHECK_EQ_INT(parse(&p, p.len, "example.com", DNS_TYPE_A, &r), DNS_MSG_OK);
	CHECK_EQ_INT(r.naddrs, 0);
	/* trailing bytes after the counted sections are not read */
	simple_a(&p, QR_RD_RA, 1);
	put32(&p, 0xFFFFFFFF);
	CHECK_EQ_INT(parse(&p, p.len, "example.com", DNS_TYPE_A, &r), DNS_MSG_OK);
	CHECK_EQ_INT(r.naddrs, 1);
	CHECK(strcmp(dns_msg_strerror(DNS_MSG_ERR_FORMAT), "malformed DNS response") == 0);
	CHECK(dns_msg_strerror(12345) != NULL);
}

int main(void)
{
	TEST_RUN(test_name_check);
	TEST_RUN(test_build_query);
	TEST_RUN(test_build_query_longest);
	TEST_RUN(test_parse_a);
	TEST_RUN(test_parse_aaaa);
	TEST_RUN(test_parse_cname_chain);
	TEST_RUN(test_parse_cname_out_of_order);
	TEST_RUN(test_parse_cname_loop);
	TEST_RUN(test_parse_cname_limit);
	TEST_RUN(test_parse_rcodes);
	TEST_RUN(test_parse_mismatch);
	TEST_RUN(test_parse_truncated_prefixes);
	TEST_RUN(test_parse_tc);
	TEST_RUN(test_parse_pointer_loops);
	TEST_RUN(test_parse_name_too_long);
	TEST_RUN(test_parse_bad_records);
	TEST_RUN(test_parse_misc);
	return test_summary();
}
