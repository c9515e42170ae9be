/* stats.h — the counters one reactor bumps while it serves (--metrics):
 * plain integers in a slot the process owns alone (in shared memory with
 * --workers, summed when scraped), so the hot path pays one add and no
 * atomic. stats_render writes them as Prometheus text. */
#ifndef WSF_TUN_STATS_H
#define WSF_TUN_STATS_H

#include <stdint.h>

#include "proto/prom.h"

/* Byte directions, named from the user's side of the tunnel. */
enum stats_dir {
	STATS_C2T = 0, /* client -> target */
	STATS_T2C = 1, /* target -> client */
};

/* Why a keyed tunnel request was refused (the reasons the server logs). */
enum stats_auth {
	STATS_AUTH_BAD_KEY = 0,    /* the cookie's MAC fails with our key */
	STATS_AUTH_SKEW,           /* timestamp outside --max-skew */
	STATS_AUTH_REPLAY,         /* nonce seen before (here or in --replay-store) */
	STATS_AUTH_NONCE_FULL,     /* the nonce table is full: refused, fail closed */
	STATS_AUTH_STORE_DOWN,     /* --replay-store unreachable, --replay-store-fail closed */
	STATS_AUTH_N,
};

#define STATS_ERR_N 16        /* >= the number of enum tunnel_err values */
#define STATS_LISTENERS 8     /* SERVER_MAX_LISTEN */
/* DNS resolve latency histogram: upper bounds in ms (le, seconds on the wire). */
#define STATS_DNS_BOUNDS_MS {1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000}
#define STATS_DNS_BUCKETS 12

struct tun_stats {
	uint64_t bytes[2];                /* enum stats_dir: payload that reached its socket */
	int64_t tunnels_open;             /* relays alive now */
	uint64_t tunnels_total;           /* relays started */
	uint64_t ws_ok, ws_failed;        /* tunnel upgrades answered 101 / refused */
	uint64_t tls_ok, tls_failed;      /* TLS handshakes done / failed or abandoned */
	uint64_t auth_failed[STATS_AUTH_N];
	uint64_t stealth;                 /* requests given the --stealth answer */
	uint64_t dial_failed[STATS_ERR_N];  /* by enum tunnel_err */
	uint64_t dns_bucket[STATS_DNS_BUCKETS + 1]; /* per bucket (not cumulative); last: above */
	uint64_t dns_sum_ms, dns_count;
	uint64_t listener_conns[STATS_LISTENERS]; /* accepted, by listen URL index */
};

enum stats_role {
	STATS_SERVER = 0, /* every family */
	STATS_CLIENT,     /* tunnels, bytes, WebSocket handshakes, dial errors */
};

/* The families of role, with HELP and TYPE, into o. */
void stats_render(const struct tun_stats *t, enum stats_role role, struct prom_out *o);

#endif
