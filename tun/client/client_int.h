/* client_int.h — the client object its modules share (private to
 * tun/client/): types only; each module's functions sit in its own header. */
#ifndef WSF_TUN_CLIENT_INT_H
#define WSF_TUN_CLIENT_INT_H

#include "core/buf.h"
#include "core/dns.h"
#include "core/net.h"
#include "core/rx.h"
#include "tun/client/cli_config.h"
#include "tls/tls.h"
#include "tun/conn.h"
#include "tun/stream.h"
#include "proto/base64.h"
#include "proto/ws.h"

#define CLIENT_MAX_SERVER_ADDRS 4

struct client;
struct open_watch; /* cli_tunnel.c: a tunnel waiting for its 101 */
struct cli_pool;   /* cli_pool.c: --pool's warm connections */

/* --pool: puts a TCP tunnel (client_open_tunnel's arguments) on a warm
 * connection, taking local_fd, *early and filter; false, taking nothing,
 * when none is ready. A pointer, so that cli_tunnel.c calls the pool
 * without including it (the pool opens its connections through it). */
typedef bool (*client_pool_take_fn)(struct client *c, int local_fd, unsigned id,
                                    const char *target, struct buf *early,
                                    relay_open_fn on_open, void *owner,
                                    struct relay_filter *filter);
struct mux_pool;   /* --mux: tun/mux/mux_client.h */
struct scrape;     /* tun/scrape.c: the --metrics listener */

struct client_listener {
	struct rx_io io;
	struct rx_timer pause;
	struct client *client;
	const struct fwd *fwd;
	int fd;
};

struct client {
	struct rx rx;
	const struct client_config *cfg;
	struct conn_list conns;
	struct dns dns;             /* for -R destinations */
	struct client_listener listeners[CLIENT_MAX_FWDS];
	size_t nlisteners;
	struct net_addr server[CLIENT_MAX_SERVER_ADDRS];
	size_t nserver;
	char host_header[URL_MAX_HOST + 16];
	struct net_addr proxy_addr;          /* --proxy, when set */
	char proxy_auth[BASE64_LEN(511) + 1]; /* base64 "user:pass", "" for none */
	struct tls_client_cfg tls;           /* wss://: trust anchors or pin */
	bool use_tls;
	bool hold_early;                     /* see client_setup */
	uint64_t emfile_logged_ms;
	uint64_t loops, loop_logged_ms;      /* --redirect/--tproxy loops refused */
	struct net_addr loop_last;           /* the destination last told */
	bool tfo_logged;                     /* a Fast Open fallback was logged */
	uint64_t last_ok_ms;                 /* when a tunnel last opened (0: never) */
	uint64_t limit_logged_ms;            /* the per-address-limit hint, rate-limited */
	unsigned limit_quiet;                /* refusals since that hint */
	struct open_watch *watches;          /* tunnels waiting for their 101 */
	struct cli_pool *pool;               /* --pool, else NULL */
	client_pool_take_fn pool_take;       /* set with pool */
	struct mux_pool *mux;                /* --mux carriers (NULL without) */
	struct tun_stats stats;              /* --metrics (conns.stats points here) */
	struct scrape *scrape;               /* --metrics: its listener */
	int metrics_fd;
};

#endif
