/* mux_server.h — the server end of --mux: a carrier upgrade (a tunnel
 * request of kind TUNNEL_MUX, authenticated like any other) becomes a
 * carrier whose streams each name their target in a signed OPEN, are
 * admitted by the server's own rules and dialled like a tunnel. */
#ifndef WSF_TUN_MUX_MUX_SERVER_H
#define WSF_TUN_MUX_MUX_SERVER_H

#include "core/dns.h"
#include "tun/handoff.h"
#include "tun/relay.h"

/* Decides an OPEN's signed request (its base64url blob): 0 with
 * *err = TUNNEL_OK and where to dial (target for logs, host, port), 0
 * with the refusal in *err, or -1 when the request is forged, stale or
 * replayed (the carrier is closed: only a holder of the key could have
 * opened it, and such a peer does not send those). */
typedef int (*mux_admit_fn)(void *arg, unsigned id, const char *blob, size_t n,
                            char target[TUNNEL_MAX_TARGET + 1], char *host, size_t host_cap,
                            uint16_t *port, enum tunnel_err *err);

struct mux_server {
	struct dns *dns;
	const struct relay_opts *opts;
	unsigned connect_timeout_ms;
	const struct net_cidr *allow;  /* --allow (NULL: any) */
	size_t nallow;
	mux_admit_fn admit;
	void *arg;
	bool peer_big;                 /* the upgrade had TUNNEL_FLAG_MUX_BIG */
	const uint8_t *seal_base;      /* --encrypt asked for: auth_keys.payload, else NULL */
	uint8_t seal_nonce[TUNNEL_NONCE_LEN]; /* ... and the upgrade's nonce */
};

/* Answers h (a valid TUNNEL_MUX upgrade) with resp (the 101) and serves
 * it as a carrier; cfg is copied. Owns h->s from the call on. 0 or -1. */
int mux_server_accept(const struct mux_server *cfg, struct handoff *h, const char *resp,
                      size_t n);

#endif
