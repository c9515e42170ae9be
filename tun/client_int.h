/* client_int.h — what the client's modules share (private to tun/): the
 * client object and the one way to open a tunnel to the server. */
#ifndef WSF_TUN_CLIENT_INT_H
#define WSF_TUN_CLIENT_INT_H

#include "core/buf.h"
#include "core/dns.h"
#include "core/net.h"
#include "core/rx.h"
#include "tun/client.h"
#include "tun/conn.h"
#include "tun/stream.h"
#include "proto/base64.h"
#include "proto/ws.h"

#define CLIENT_MAX_SERVER_ADDRS 4

struct client;

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
};

/* Opens one tunnel: connects to the server, sends the upgrade naming target
 * (and early, the local bytes already read, right behind it), then relays
 * local_fd (through filter, for plain HTTP proxying). Takes local_fd, *early
 * and filter in every outcome. on_open reports the
 * server's answer (see relay.h); it is also called, with an error, when the
 * tunnel cannot even start. */
void client_open_tunnel(struct client *c, int local_fd, unsigned id, enum tunnel_kind kind,
                        const char *target, struct buf *early, relay_open_fn on_open,
                        void *owner, struct http_filter *filter);

/* Writes the upgrade request for a tunnel of kind to target into out and
 * what the server's 101 must show into *expect. Returns its length, 0 on error. */
size_t client_upgrade(struct client *c, enum tunnel_kind kind, const char *target, char *out,
                      size_t cap, struct tunnel_expect *expect);

/* Connects to the server, through --proxy when set: done gets a connected
 * (or, without a proxy, connecting) fd, or -1 with why. Not called if the
 * client stops first. */
typedef void (*upstream_fn)(void *owner, int fd, enum tunnel_err err);
void client_connect_server(struct client *c, upstream_fn done, void *owner);
/* Wraps a connected socket to the server: TLS for wss://, else plain. 0, or
 * -1 (fd closed). */
int client_stream(struct client *c, int fd, struct stream *out);

/* --proxy's half of it (upstream.c). */
void upstream_open(struct client *c, upstream_fn done, void *owner);

/* -R: keeps one registration channel per remote forward (cli_reverse.c). */
void cli_reverse_start(struct client *c, const struct fwd *f);

/* -D: takes an accepted local connection and runs the SOCKS5 / HTTP proxy
 * front end on it (tun/front.c). */
void front_accept(struct client *c, int fd, const struct net_addr *peer);

#endif
