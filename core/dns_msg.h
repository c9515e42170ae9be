/* dns_msg.h — the DNS wire format (RFC 1035 §4): builds one-question queries
 * and checks responses, reading their A/AAAA answers. Pure: no I/O, no
 * allocation, no clock; every read is bounds-checked and it is fuzzed
 * (test/fuzz/dns_fuzz.c). Owns nothing; the resolver is core/dns. */
#ifndef WSF_CORE_DNS_MSG_H
#define WSF_CORE_DNS_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DNS_MAX_NAME 253      /* text, no trailing dot: RFC 1035 §2.3.4 (255 on the wire) */
#define DNS_MAX_LABEL 63      /* RFC 1035 §2.3.4 */
#define DNS_MAX_WIRE_NAME 255 /* RFC 1035 §3.1: length octets and root included */
#define DNS_HEADER_LEN 12     /* RFC 1035 §4.1.1 */
#define DNS_MAX_QUERY (DNS_HEADER_LEN + DNS_MAX_WIRE_NAME + 4)
#define DNS_UDP_MAX 512       /* RFC 1035 §4.2.1: we send no EDNS0 OPT */
#define DNS_MSG_MAX_ADDRS 8   /* answers kept; more are skipped, not an error */
#define DNS_MAX_CNAME_CHAIN 8 /* CNAMEs followed inside one answer section */

enum dns_type {
	DNS_TYPE_A = 1,     /* RFC 1035 §3.2.2 */
	DNS_TYPE_CNAME = 5,
	DNS_TYPE_AAAA = 28, /* RFC 3596 §2.1 */
};

enum {
	DNS_CLASS_IN = 1, /* RFC 1035 §3.2.4 */
};

enum dns_rcode { /* RFC 1035 §4.1.1 */
	DNS_RCODE_NOERROR = 0,
	DNS_RCODE_FORMERR = 1,
	DNS_RCODE_SERVFAIL = 2,
	DNS_RCODE_NXDOMAIN = 3,
	DNS_RCODE_NOTIMP = 4,
	DNS_RCODE_REFUSED = 5,
};

enum dns_msg_rc {
	DNS_MSG_OK = 0,
	DNS_MSG_ERR_NAME = -1,     /* not a valid host name */
	DNS_MSG_ERR_SPACE = -2,    /* output buffer too small */
	DNS_MSG_ERR_MISMATCH = -3, /* not a response to this query */
	DNS_MSG_ERR_FORMAT = -4,   /* malformed response */
};

/* What one response says. addrs hold addr_len bytes each, network order. */
struct dns_msg_result {
	uint8_t rcode;     /* enum dns_rcode (any 4-bit value) */
	bool truncated;    /* TC bit: the answer section may be incomplete */
	uint8_t addr_len;  /* 4 for A, 16 for AAAA, 0 for other query types */
	uint8_t naddrs;    /* <= DNS_MSG_MAX_ADDRS */
	uint32_t ttl;      /* least TTL of the CNAMEs and addresses used; 0 if none */
	uint8_t addrs[DNS_MSG_MAX_ADDRS][16];
};

/* Checks a host name in text form: labels of 1..63 letters, digits, '-' or
 * '_', separated by single dots, at most 253 characters, one trailing dot
 * allowed. Anything else (spaces, escapes, non-ASCII: IDNs must come as
 * punycode) is DNS_MSG_ERR_NAME. On success *len gets the length without the
 * trailing dot (len may be NULL). */
int dns_name_check(const char *name, size_t *len);

/* Writes a standard query (opcode QUERY, RD set, one question of class IN)
 * for name/qtype with the given id into buf. Returns the message length
 * (> 0), DNS_MSG_ERR_NAME, or DNS_MSG_ERR_SPACE (cap < needed; nothing
 * useful is in buf). DNS_MAX_QUERY bytes always suffice. */
int dns_msg_build_query(uint8_t *buf, size_t cap, uint16_t id, const char *name,
                        uint16_t qtype);

/* Checks that msg[0..len) answers the query (id, name, qtype) built above —
 * same id, QR set, opcode QUERY, exactly one question equal to ours (name
 * compared case-insensitively, RFC 4343) — then fills *res.
 * - DNS_MSG_ERR_MISMATCH: not our answer (a late, stray or spoofed packet);
 *   keep waiting. DNS_MSG_ERR_FORMAT: ours by header but unreadable.
 * - DNS_MSG_OK: res->rcode says NOERROR / NXDOMAIN / SERVFAIL ...; answers
 *   are read only for NOERROR: CNAMEs from the question name are followed
 *   (at most DNS_MAX_CNAME_CHAIN, in any order within the answer section),
 *   then the A or AAAA records owned by the last name are collected. A
 *   record of the asked type with a wrong length, a CNAME loop, a
 *   compression pointer that does not point strictly backwards, or any read
 *   past len is DNS_MSG_ERR_FORMAT. With TC set, a cut answer section is not
 *   an error: the complete records before the cut are used.
 * Authority and additional sections are not read. res is filled on OK only. */
int dns_msg_parse_response(const uint8_t *msg, size_t len, uint16_t id, const char *name,
                           uint16_t qtype, struct dns_msg_result *res);

/* A short sentence for an enum dns_msg_rc; never NULL. */
const char *dns_msg_strerror(int rc);

#endif
