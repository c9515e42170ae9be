/* tunnel_exit.h — VPN mode on the wire (issue 11): the entry's open target
 * "NAME:PASSWORD HOST:PORT", and the control messages between the server
 * and an exit client that carry a destination or why it failed. Pure. */
#ifndef WSF_PROTO_TUNNEL_EXIT_H
#define WSF_PROTO_TUNNEL_EXIT_H

#include <stddef.h>
#include <stdint.h>

#include "proto/tunnel.h"

#define TUNNEL_EXIT_HOST_MAX 255 /* a DNS name (RFC 1035 §2.3.4), as in SOCKS5 */

/* Address types as RFC 1928 §5 numbers them. */
enum tunnel_exit_atyp {
	TUNNEL_EXIT_IPV4 = 1,
	TUNNEL_EXIT_NAME = 3,
	TUNNEL_EXIT_IPV6 = 4,
};

/* Where an exit is asked to dial. host is text in every case (an IPv6
 * address without brackets), ready for the resolver. */
struct tunnel_exit_dest {
	uint8_t atyp;  /* enum tunnel_exit_atyp */
	uint16_t port; /* 1..65535 */
	char host[TUNNEL_EXIT_HOST_MAX + 1];
};

/* REV_MSG_DIAL: op, id (8), atyp, address (4, 16, or a length byte and
 * 1..255 name bytes), port (2), big-endian; REV_MSG_FAILED: op, id (8),
 * status (2). */
#define TUNNEL_EXIT_MSG_MAX (TUNNEL_REV_MSG_LEN + 1 + 1 + TUNNEL_EXIT_HOST_MAX + 2)
#define TUNNEL_EXIT_FAILED_LEN (TUNNEL_REV_MSG_LEN + 2)

/* "HOST:PORT" or "[v6]:PORT" in n bytes: an IP literal becomes its address
 * type, anything else a name of 1..255 bytes from 0x21..0x7e without '/',
 * ':', '[' or ']'. 0, or -1. */
int tunnel_exit_dest_parse(const char *s, size_t n, struct tunnel_exit_dest *d);
/* "HOST:PORT" ("[v6]:PORT") of d into out; its length, 0 if cap is short. */
size_t tunnel_exit_dest_format(const struct tunnel_exit_dest *d, char *out, size_t cap);

/* Splits an exit open's target "NAME[:PASSWORD] HOST:PORT" (one space: the
 * name and password hold none, nor does a host). 0, or -1. */
int tunnel_exit_target_split(const char *t, size_t n, char name[TUNNEL_CHANNEL_NAME_MAX + 1],
                             char pass[TUNNEL_CHANNEL_PASS_MAX + 1],
                             struct tunnel_exit_dest *d);

/* REV_MSG_DIAL for id to d into out; its length, 0 for a d that does not
 * parse back (an unknown type, an empty or overlong host, port 0). */
size_t tunnel_exit_dial_msg(uint8_t out[TUNNEL_EXIT_MSG_MAX], uint64_t id,
                            const struct tunnel_exit_dest *d);
/* REV_MSG_FAILED for id with the wire status of err (tunnel_err_status). */
void tunnel_exit_failed_msg(uint8_t out[TUNNEL_EXIT_FAILED_LEN], uint64_t id,
                            enum tunnel_err err);

/* One control message: ops 1..3 as tunnel_rev_parse; op 4 with dest; op 5
 * with err, a refusal an exit may report (403, 404, 500, 502, 503, 504;
 * anything else is -1). */
struct tunnel_exit_msg {
	uint8_t op;          /* enum tunnel_rev_msg */
	uint64_t id;
	enum tunnel_err err; /* REV_MSG_FAILED */
	struct tunnel_exit_dest dest; /* REV_MSG_DIAL */
};
/* 0 with *m, or -1 for anything that is not exactly one of our messages. */
int tunnel_exit_parse(const uint8_t *p, size_t n, struct tunnel_exit_msg *m);

#endif
