/* proxyhdr_test.c — unit test of proto/proxyhdr.c: PROXY v1 and v2 headers
 * fed at every split point and in every chunk size, followed by a request
 * the parser must leave alone; every error, sticky; every prefix against a
 * guard page; the struct's size. */
#include "proto/proxyhdr.h"

#include "test/check.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))
#define TAIL "GET / HTTP/1.1\r\n\r\n"

struct result {
	int rc;
	size_t used; /* bytes of the input used in total */
	struct proxyhdr_addr a;
};

/* Feeds msg in chunks of step bytes (0: whole), as a reader of a socket
 * would: each call sees only what arrived since, and stops at DONE/error. */
static struct result feed_chunks(const uint8_t *msg, size_t len, size_t step)
{
	struct proxyhdr p;
	struct result r = {0};
	memset(&p, 0, sizeof(p));
	size_t at = 0;
	do {
		size_t n = step == 0 || step > len - at ? len - at : step;
		uint8_t *exact = malloc(n ? n : 1); /* heap: ASan sees over-reads */
		memcpy(exact, msg + at, n);
		size_t used = 9999;
		r.rc = proxyhdr_feed(&p, exact, n, &used, &r.a);
		free(exact);
		CHECK(used <= n);
		if (r.rc < 0) {
			CHECK_EQ_INT(used, 0);
			return r;
		}
		CHECK(r.rc == PROXYHDR_DONE || used == n);
		r.used += used;
		at += n;
		if (r.rc == PROXYHDR_DONE)
			return r;
	} while (at < len);
	return r;
}

/* Every split into two calls, and every chunk size, gives what one call gives. */
static struct result feed_all_ways(const uint8_t *msg, size_t len)
{
	struct result whole = feed_chunks(msg, len, 0);
	for (size_t step = 1; step <= len; step++) {
		struct result r = feed_chunks(msg, len, step);
		CHECK_EQ_INT(r.rc, whole.rc);
		if (r.rc == PROXYHDR_DONE) {
			CHECK_EQ_INT(r.used, whole.used);
			CHECK_MEM(&r.a, &whole.a, sizeof(r.a));
		}
	}
	for (size_t cut = 0; cut <= len; cut++) {
		struct proxyhdr p;
		struct proxyhdr_addr a;
		size_t u1 = 0, u2 = 0;
		memset(&p, 0, sizeof(p));
		int rc = proxyhdr_feed(&p, msg, cut, &u1, &a);
		if (rc == PROXYHDR_NEED_MORE)
			rc = proxyhdr_feed(&p, msg + cut, len - cut, &u2, &a);
		CHECK_EQ_INT(rc, whole.rc);
		if (rc == PROXYHDR_DONE) {
			CHECK_EQ_INT(u1 + u2, whole.used);
			CHECK_MEM(&a, &whole.a, sizeof(a));
		}
	}
	return whole;
}

static void test_v1(void)
{
	static const char m4[] = "PROXY TCP4 192.0.2.7 198.51.100.1 56324 443\r\n" TAIL;
	struct result r = feed_all_ways((const uint8_t *)m4, sizeof(m4) - 1);
	CHECK_EQ_INT(r.rc, PROXYHDR_DONE);
	CHECK_EQ_INT(r.used, sizeof(m4) - 1 - strlen(TAIL));
	CHECK_EQ_INT(r.a.kind, PROXYHDR_TCP4);
	CHECK_EQ_INT(r.a.version, 1);
	CHECK_MEM(r.a.src, "\xc0\x00\x02\x07", 4);
	CHECK_MEM(r.a.dst, "\xc6\x33\x64\x01", 4);
	CHECK_EQ_INT(r.a.src_port, 56324);
	CHECK_EQ_INT(r.a.dst_port, 443);

	static const char m6[] = "PROXY TCP6 2001:db8::1 ::1 65535 0\r\n" TAIL;
	r = feed_all_ways((const uint8_t *)m6, sizeof(m6) - 1);
	CHECK_EQ_INT(r.rc, PROXYHDR_DONE);
	CHECK_EQ_INT(r.used, sizeof(m6) - 1 - strlen(TAIL));
	CHECK_EQ_INT(r.a.kind, PROXYHDR_TCP6);
	CHECK_MEM(r.a.src, "\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x01", 16);
	CHECK_EQ_INT(r.a.src_port, 65535);
	CHECK_EQ_INT(r.a.dst_port, 0);

	static const char mu[] = "PROXY UNKNOWN ffff::1 whatever\r\n" TAIL;
	r = feed_all_ways((const uint8_t *)mu, sizeof(mu) - 1);
	CHECK_EQ_INT(r.rc, PROXYHDR_DONE);
	CHECK_EQ_INT(r.a.kind, PROXYHDR_UNKNOWN);
	CHECK_EQ_INT(r.used, sizeof(mu) - 1 - strlen(TAIL));
	r = feed_all_ways((const uint8_t *)"PROXY UNKNOWN\r\n", 15);
	CHECK_EQ_INT(r.rc, PROXYHDR_DONE);
	CHECK_EQ_INT(r.used, 15);

	/* The longest line the spec allows (107 bytes) passes. */
	static const char longest[] = "PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
	                              "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n";
	CHECK_EQ_INT(sizeof(longest) - 1, PROXYHDR_V1_MAX - 3); /* room for UNKNOWN's slack */
	r = feed_all_ways((const uint8_t *)longest, sizeof(longest) - 1);
	CHECK_EQ_INT(r.rc, PROXYHDR_DONE);
	char u107[PROXYHDR_V1_MAX + 1];
	memset(u107, 'x', sizeof(u107));
	memcpy(u107, "PROXY UNKNOWN ", 14);
	memcpy(u107 + PROXYHDR_V1_MAX - 2, "\r\n", 2);
	r = feed_all_ways((const uint8_t *)u107, PROXYHDR_V1_MAX);
	CHECK_EQ_INT(r.rc, PROXYHDR_DONE);
	CHECK_EQ_INT(r.used, PROXYHDR_V1_MAX);
	memcpy(u107 + PROXYHDR_V1_MAX - 2, "x\r\n", 3);
	r = feed_all_ways((const uint8_t *)u107, PROXYHDR_V1_MAX + 1);
	CHECK_EQ_INT(r.rc, PROXYHDR_ERR_TOO_LONG);
}

static size_t v2(uint8_t *out, uint8_t ver_cmd, uint8_t fam, const uint8_t *block, uint16_t len)
{
	static const uint8_t sig[12] = {0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d,
	                                0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a};
	memcpy(out, sig, 12);
	out[12] = ver_cmd;
	out[13] = fam;
	out[14] = (uint8_t)(len >> 8);
	out[15] = (uint8_t)len;
	memcpy(out + 16, block, len);
	return 16u + len;
}

static void test_v2(void)
{
	uint8_t msg[16 + 600 + sizeof(TAIL)], block[600];
	/* TCP4 with a TLV (haproxy's unique-id, type 0x05) after the addresses. */
	memcpy(block, "\xc0\x00\x02\x07\x7f\x00\x00\x01\xdc\x04\x01\xbb\x05\x00\x03" "abc", 18);
	size_t n = v2(msg, 0x21, 0x11, block, 18);
	memcpy(msg + n, TAIL, strlen(TAIL));
	struct result r = feed_all_ways(msg, n + strlen(TAIL));
	CHECK_EQ_INT(r.rc, PROXYHDR_DONE);
	CHECK_EQ_INT(r.used, n);
	CHECK_EQ_INT(r.a.kind, PROXYHDR_TCP4);
	CHECK_EQ_INT(r.a.version, 2);
	CHECK_MEM(r.a.src, "\xc0\x00\x02\x07", 4);
	CHECK_EQ_INT(r.a.src_port, 56324);
	CHECK_EQ_INT(r.a.dst_port, 443);

	/* TCP6 with 300 bytes of TLVs: skipped, not stored. */
	memset(block, 0, sizeof(block));
	block[15] = 1;
	block[31] = 2;
	block[32] = 0x12, block[33] = 0x34, block[34] = 0, block[35] = 80;
	n = v2(msg, 0x21, 0x21, block, 336);
	memcpy(msg + n, TAIL, strlen(TAIL));
	r = feed_all_ways(msg, n + strlen(TAIL));
	CHECK_EQ_INT(r.rc, PROXYHDR_DONE);
	CHECK_EQ_INT(r.used, n);
	CHECK_EQ_INT(r.a.kind, PROXYHDR_TCP6);
	CHECK_EQ_INT(r.a.src[15], 1);
	CHECK_EQ_INT(r.a.dst[15], 2);
	CHECK_EQ_INT(r.a.src_port, 0x1234);
	CHECK_EQ_INT(r.a.dst_port, 80);

	/* LOCAL (haproxy's health checks), UNSPEC and UNIX: no address. */
	n = v2(msg, 0x20, 0x00, block, 0);
	r = feed_all_ways(msg, n);
	CHECK_EQ_INT(r.rc, PROXYHDR_DONE);
	CHECK_EQ_INT(r.used, 16);
	CHECK_EQ_INT(r.a.kind, PROXYHDR_UNKNOWN);
	n = v2(msg, 0x20, 0x11, block, 12); /* LOCAL ignores the family */
	CHECK_EQ_INT(feed_all_ways(msg, n).a.kind, PROXYHDR_UNKNOWN);
	n = v2(msg, 0x21, 0x31, block, 216);
	r = feed_all_ways(msg, n);
	CHECK_EQ_INT(r.rc, PROXYHDR_DONE);
	CHECK_EQ_INT(r.used, n);
	CHECK_EQ_INT(r.a.kind, PROXYHDR_UNKNOWN);
}

static void expect_error(const void *msg, size_t len, int want)
{
	struct result r = feed_all_ways(msg, len);
	CHECK_EQ_INT(r.rc, want);
	/* Sticky: the next call fails the same way and uses nothing. */
	struct proxyhdr p;
	struct proxyhdr_addr a;
	size_t used = 5;
	memset(&p, 0, sizeof(p));
	proxyhdr_feed(&p, msg, len, &used, &a);
	CHECK_EQ_INT(proxyhdr_feed(&p, (const uint8_t *)"\r\n", 2, &used, &a), want);
	CHECK_EQ_INT(used, 0);
	CHECK(proxyhdr_strerror(want) != NULL);
}

static void test_errors(void)
{
	expect_error(TAIL, strlen(TAIL), PROXYHDR_ERR_SIGNATURE);
	expect_error("\x16\x03\x01", 3, PROXYHDR_ERR_SIGNATURE); /* a TLS ClientHello */
	expect_error("PROXX TCP4", 10, PROXYHDR_ERR_SIGNATURE);
	expect_error("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n", 31, PROXYHDR_ERR_SYNTAX);
	expect_error("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\r\n", 33, PROXYHDR_ERR_SYNTAX);
	expect_error("PROXY TCP4 1.2.3.4\r5.6.7.8 1 2\r\n", 32, PROXYHDR_ERR_SYNTAX);
	expect_error("PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n", 30, PROXYHDR_ERR_SYNTAX);
	expect_error("PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n", 34, PROXYHDR_ERR_SYNTAX);
	expect_error("PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n", 32, PROXYHDR_ERR_SYNTAX);
	expect_error("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\x00\r\n", 33, PROXYHDR_ERR_SYNTAX);
	expect_error("PROXY TCP4 ::1 5.6.7.8 1 2\r\n", 28, PROXYHDR_ERR_ADDRESS);
	expect_error("PROXY TCP6 1.2.3.4 ::1 1 2\r\n", 28, PROXYHDR_ERR_ADDRESS);
	expect_error("PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n", 36, PROXYHDR_ERR_ADDRESS);
	expect_error("PROXY TCP4 1.2.3.4 5.6.7.8 -1 2\r\n", 33, PROXYHDR_ERR_ADDRESS);
	expect_error("PROXY TCP4 1.2.3.4  5.6.7.8 1 2\r\n", 33, PROXYHDR_ERR_SYNTAX);
	char lng[200];
	memset(lng, 'x', sizeof(lng));
	memcpy(lng, "PROXY UNKNOWN ", 14);
	expect_error(lng, sizeof(lng), PROXYHDR_ERR_TOO_LONG);

	uint8_t msg[64], block[36] = {0};
	size_t n = v2(msg, 0x11, 0x11, block, 12);
	expect_error(msg, n, PROXYHDR_ERR_VERSION);
	n = v2(msg, 0x22, 0x11, block, 12);
	expect_error(msg, n, PROXYHDR_ERR_VERSION);
	n = v2(msg, 0x21, 0x11, block, 11);
	expect_error(msg, n, PROXYHDR_ERR_ADDRESS);
	n = v2(msg, 0x21, 0x21, block, 35);
	expect_error(msg, n, PROXYHDR_ERR_ADDRESS);
	msg[7] = 'X'; /* "QUIT" spelled wrong */
	expect_error(msg, n, PROXYHDR_ERR_SIGNATURE);
}

/* Each prefix ends at a guard page: nothing past len is ever read. */
static void test_guard(void)
{
	static const char m[] = "PROXY TCP6 2001:db8::1 ::1 65535 0\r\n";
	uint8_t msg[64], block[36] = {1};
	long page = sysconf(_SC_PAGESIZE);
	uint8_t *map = mmap(NULL, (size_t)page * 2, PROT_READ | PROT_WRITE,
	                    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(map != MAP_FAILED);
	if (map == MAP_FAILED)
		return;
	mprotect(map + page, (size_t)page, PROT_NONE);
	size_t n2 = v2(msg, 0x21, 0x21, block, 36);
	const uint8_t *msgs[] = {(const uint8_t *)m, msg};
	size_t lens[] = {sizeof(m) - 1, n2};
	for (size_t k = 0; k < COUNT(msgs); k++) {
		for (size_t len = 0; len <= lens[k]; len++) {
			uint8_t *at = map + page - len;
			memcpy(at, msgs[k], len);
			struct proxyhdr p;
			struct proxyhdr_addr a;
			size_t used;
			memset(&p, 0, sizeof(p));
			int rc = proxyhdr_feed(&p, at, len, &used, &a);
			CHECK_EQ_INT(rc, len == lens[k] ? PROXYHDR_DONE : PROXYHDR_NEED_MORE);
		}
	}
	munmap(map, (size_t)page * 2);
}

static void test_size(void)
{
	CHECK(sizeof(struct proxyhdr) <= 120); /* lives only through the first bytes */
	CHECK_EQ_INT(proxyhdr_strerror(99)[0] != 0, 1);
}

int main(void)
{
	TEST_RUN(test_v1);
	TEST_RUN(test_v2);
	TEST_RUN(test_errors);
	TEST_RUN(test_guard);
	TEST_RUN(test_size);
	return test_summary();
}
