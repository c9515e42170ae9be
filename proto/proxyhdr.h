/* proxyhdr.h — the HAProxy PROXY protocol header (versions 1 and 2,
 * haproxy doc/proxy-protocol.txt) that a TCP load balancer sends before the
 * client's first byte: who the client really is. Feed-style and pure: no
 * sockets, no allocation; it never uses a byte past the header's end. */
#ifndef WSF_PROTO_PROXYHDR_H
#define WSF_PROTO_PROXYHDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PROXYHDR_V1_MAX 107     /* whole v1 line with CRLF (§2.1) */
#define PROXYHDR_V2_FIXED 16    /* signature, ver_cmd, fam, len (§2.2) */
#define PROXYHDR_V2_INET6 36    /* the largest address block we read; the
                                 * rest (AF_UNIX, TLVs) is skipped */

enum proxyhdr_rc {
	PROXYHDR_NEED_MORE = 0,
	PROXYHDR_DONE = 1,            /* *used bytes ended the header; out filled */
	PROXYHDR_ERR_SIGNATURE = -1,  /* neither "PROXY " (v1) nor the v2 signature */
	PROXYHDR_ERR_SYNTAX = -2,     /* v1 line malformed (fields, spaces, CRLF) */
	PROXYHDR_ERR_TOO_LONG = -3,   /* v1 line without CRLF in 107 bytes */
	PROXYHDR_ERR_VERSION = -4,    /* v2 version not 2, or command not LOCAL/PROXY */
	PROXYHDR_ERR_ADDRESS = -5,    /* bad address, port, or a v2 block too short */
};

enum proxyhdr_kind {
	PROXYHDR_UNKNOWN = 0, /* v2 LOCAL (health checks), v1 UNKNOWN, v2 UNSPEC,
	                       * UNIX or UDP: keep the connection's own address */
	PROXYHDR_TCP4,        /* src/dst are 4-byte IPv4 addresses */
	PROXYHDR_TCP6,        /* src/dst are 16-byte IPv6 addresses */
};

struct proxyhdr_addr {
	uint8_t kind; /* enum proxyhdr_kind */
	uint8_t version; /* 1 or 2 */
	uint16_t src_port, dst_port; /* host order */
	uint8_t src[16], dst[16];
};

/* Zero-filled is the start state. Errors are sticky. */
struct proxyhdr {
	uint8_t buf[PROXYHDR_V1_MAX]; /* the v1 line, or v2's fixed part + block */
	uint8_t version;              /* 0 until the first byte, then 1 or 2 */
	uint8_t have;                 /* bytes in buf */
	uint16_t skip;                /* v2: bytes still to skip after buf */
	int8_t err;                   /* sticky enum proxyhdr_rc, 0 none */
	bool done;
};

/* Feeds in[0..len): uses what belongs to the header and never more, so the
 * bytes after it stay the caller's. NEED_MORE (all of in used), DONE (*used
 * bytes used, out filled; a later call returns DONE using nothing) or a
 * negative error (sticky; *used 0 on the call that fails and every later one). */
enum proxyhdr_rc proxyhdr_feed(struct proxyhdr *p, const uint8_t *in, size_t len, size_t *used,
                               struct proxyhdr_addr *out);

/* A sentence for a proxyhdr_rc (never NULL). */
const char *proxyhdr_strerror(int rc);

#endif
