/* dns_fuzz.c — libFuzzer target for core/dns_msg.c. The first byte picks the
 * question (one of a few names, A or AAAA); the rest is a response, checked
 * with its own id so the parser goes past the header. The whole input also
 * serves as a name for dns_msg_build_query. Broken invariants abort. */
#include "core/dns_msg.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REQUIRE(cond) \
	do {                  \
		if (!(cond))      \
			abort();      \
	} while (0)

static const char *const fuzz_names[] = {"example.com", "www.example.com", "a.b", "x"};

static void check_result(const uint8_t *msg, size_t len, uint16_t id, const char *name,
                         uint16_t qtype, const struct dns_msg_result *r)
{
	struct dns_msg_result again;

	REQUIRE(r->naddrs <= DNS_MSG_MAX_ADDRS);
	REQUIRE(r->addr_len == (qtype == DNS_TYPE_A ? 4 : 16));
	REQUIRE(r->rcode <= 15 && r->ttl <= 0x7FFFFFFFu);
	if (r->rcode != DNS_RCODE_NOERROR)
		REQUIRE(r->naddrs == 0 && r->ttl == 0);
	for (unsigned i = 0; i < r->naddrs; i++) /* addresses come from the message */
		REQUIRE(memmem(msg, len, r->addrs[i], r->addr_len) != NULL);
	REQUIRE(dns_msg_parse_response(msg, len, id, name, qtype, &again) == DNS_MSG_OK);
	REQUIRE(memcmp(&again, r, sizeof(again)) == 0); /* deterministic, no padding */
	REQUIRE(dns_msg_parse_response(msg, len, (uint16_t)(id ^ 1), name, qtype, &again) ==
	        DNS_MSG_ERR_MISMATCH);
}

static void fuzz_response(const uint8_t *data, size_t size)
{
	const char *name = fuzz_names[(data[0] >> 1) % 4];
	uint16_t qtype = (data[0] & 1) ? DNS_TYPE_AAAA : DNS_TYPE_A;
	const uint8_t *msg = data + 1;
	size_t len = size - 1;
	uint16_t id = len >= 2 ? (uint16_t)((msg[0] << 8) | msg[1]) : 0;
	struct dns_msg_result r;
	int rc = dns_msg_parse_response(msg, len, id, name, qtype, &r);

	REQUIRE(rc == DNS_MSG_OK || rc == DNS_MSG_ERR_MISMATCH || rc == DNS_MSG_ERR_FORMAT);
	if (len < DNS_HEADER_LEN)
		REQUIRE(rc == DNS_MSG_ERR_FORMAT);
	if (rc == DNS_MSG_OK)
		check_result(msg, len, id, name, qtype, &r);
	REQUIRE(dns_msg_strerror(rc) != NULL);
}

/* A valid name builds a query of exactly header + name + 2 + 4 bytes; the
 * query is no answer, but with QR set it is an empty NOERROR one. */
static void fuzz_build(const uint8_t *data, size_t size)
{
	char name[300];
	uint8_t q[DNS_MAX_QUERY];
	size_t n = size < sizeof(name) - 1 ? size : sizeof(name) - 1, len;
	struct dns_msg_result r;

	memcpy(name, data, n);
	name[n] = '\0';
	int built = dns_msg_build_query(q, sizeof(q), 0x4242, name, DNS_TYPE_AAAA);
	if (dns_name_check(name, &len) != DNS_MSG_OK) {
		REQUIRE(built == DNS_MSG_ERR_NAME);
		return;
	}
	REQUIRE(len >= 1 && len <= DNS_MAX_NAME);
	REQUIRE(built == (int)(DNS_HEADER_LEN + len + 2 + 4));
	REQUIRE(dns_msg_build_query(q, (size_t)built - 1, 1, name, DNS_TYPE_A) == DNS_MSG_ERR_SPACE);
	REQUIRE(dns_msg_parse_response(q, (size_t)built, 0x4242, name, DNS_TYPE_AAAA, &r) ==
	        DNS_MSG_ERR_MISMATCH);
	q[2] |= 0x80;
	REQUIRE(dns_msg_parse_response(q, (size_t)built, 0x4242, name, DNS_TYPE_AAAA, &r) ==
	        DNS_MSG_OK);
	REQUIRE(r.rcode == 0 && r.naddrs == 0 && !r.truncated);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	fuzz_response(data, size);
	fuzz_build(data, size);
	return 0;
}
