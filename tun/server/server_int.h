/* server_int.h — the server object its modules share (private to
 * tun/server/): types only; each module's functions sit in its own header,
 * and endpoints receive a struct handoff (tun/handoff.h). */
#ifndef WSF_TUN_SERVER_SERVER_INT_H
#define WSF_TUN_SERVER_SERVER_INT_H

#include "core/buf.h"
#include "core/dns.h"
#include "core/net.h"
#include "core/rx.h"
#include "proto/http.h"
#include "proto/replay.h"
#include "tun/conn.h"
#include "tun/stream.h"
#include "tun/server/srv_config.h"
#include "tun/server/replay_shm.h"
#include "tls/tls.h"

struct push_hub;
struct channels;
struct routes;
struct replay_store;
struct users;
struct controller;
struct srv_metrics;
struct scrape;

struct listener {
	struct rx_io io;
	const struct url *url;  /* its path is the tunnel's prefix */
	bool tls;               /* wss:// (TLS, then HTTP) */
	struct rx_timer pause; /* accept paused after EMFILE/ENFILE */
	struct server *srv;
	int fd;
	char name[NET_ADDR_STRLEN + 8];
};

struct server {
	struct rx rx;
	const struct server_config *cfg;
	struct conn_list conns;
	struct dns dns;
	struct listener listeners[SERVER_MAX_LISTEN];
	size_t nlisteners;
	uint64_t emfile_logged_ms; /* rate limit for "out of descriptors" */
	uint64_t perip_logged_ms;  /* rate limit for --max-conns-per-ip */
	struct replay replay;      /* nonces inside the freshness window */
	struct replay_shm *replay_shm; /* --workers: the one table all share */
	struct net_addr fallback;  /* resolved --fallback */
	struct tls_server_cfg *tls; /* certificate and key for wss:// listeners */
	struct push_hub *push;     /* --push: this reactor's subscribers */
	struct channels *channels; /* channel names registered on this reactor */
	struct routes *routes;     /* reverse-proxy routes published on this reactor */
	struct replay_store *store; /* --replay-store: nonces shared by every node */
	struct users *users;       /* --controller: the users (shared memory) */
	struct controller *ctl;    /* --controller: this worker's listener */
	uint64_t store_logged_ms;  /* rate limit for "replay store down" */
	bool stopping;
	bool dns_up;               /* set up past the resolver: all to tear down */
	bool draining;             /* SIGTERM: no more accepts, tunnels finish */
	bool went_away;            /* the drain timed out: Close 1001 sent */
	uint64_t drain_end_ms;     /* then; after it, the last closes' deadline */
	struct rx_timer drain;     /* checks every DRAIN_TICK_MS */
	struct tun_stats *stats;   /* --metrics: this worker's slot (= conns.stats), else NULL */
	struct srv_metrics *metrics; /* --metrics: every worker's slots */
	struct scrape *scrape;     /* --metrics: this reactor's share of the listener */
};

#endif
