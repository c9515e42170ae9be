/* client.c — `wsferry client`: setup, local listeners and -L forwards.
 * Tunnels are opened by cli_tunnel.c, the -D front end is front.c, -R is
 * cli_reverse.c. */
#include "tun/client/client.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/dns_block.h"
#include "core/log.h"
#include "core/splice.h"
#include "core/tfo.h"
#include "core/transparent.h"
#include "core/rand.h"
#include "proto/ws.h"
#include "tun/client/cli_metrics.h"
#include "tun/client/cli_mux.h"
#include "tun/client/cli_pool.h"
#include "tun/client/cli_reverse.h"
#include "tun/client/client_int.h"
#include "tun/client/cli_tproxy_udp.h"
#include "tun/client/cli_transparent.h"
#include "tun/client/cli_tunnel.h"
#include "tun/client/cli_udp.h"
#include "tun/client/front.h"

#define ACCEPT_BATCH 64
#define ACCEPT_PAUSE_MS 100
#define EMFILE_LOG_EVERY_MS 10000

/* -L: nothing to answer locally; a refused tunnel just closes. */
static void local_on_open(void *owner, int tcp_fd, enum tunnel_err err)
{
	const struct fwd *f = owner;
	if (err == TUNNEL_ERR_NOT_FOUND && f->chan[0] && tcp_fd >= 0)
		log_info("-L %s: no such channel, a wrong password, or its client is offline",
		         f->spec);
	else if (err == TUNNEL_ERR_BAD_TARGET && !f->target[0] && !f->chan[0])
		log_info("-L %s: names no destination, and the server has no --to HOST:PORT",
		         f->spec);
	else if (err != TUNNEL_OK && tcp_fd >= 0) /* -1: the local client left first */
		log_info("-L %s: %s", f->spec, tunnel_err_text(err));
}

/* ---- listeners ---- */

static void client_take(struct client_listener *l, int fd, const struct net_addr *peer)
{
	struct client *c = l->client;
	net_set_nodelay(fd);
	if (l->fwd->kind == FWD_DYNAMIC) {
		front_accept(c, l->fwd, fd, peer);
		return;
	}
	if (l->fwd->kind == FWD_REDIRECT || l->fwd->kind == FWD_TPROXY) {
		cli_transparent_accept(c, l->fwd, fd, peer);
		return;
	}
	unsigned id = c->conns.next_id++;
	const struct fwd *f = l->fwd;
	client_open_tunnel(c, fd, id, f->chan[0] ? TUNNEL_CHANNEL_OPEN : TUNNEL_CONNECT,
	                   f->chan[0] ? f->chan : f->target, NULL, local_on_open,
	                   (void *)(uintptr_t)l->fwd, NULL);
}

static void listener_resume(struct rx *rx, struct rx_timer *t)
{
	struct client_listener *l =
		(struct client_listener *)((char *)t - offsetof(struct client_listener, pause));
	rx_io_want(rx, &l->io, RX_READ);
}

static void listener_on_io(struct rx *rx, struct rx_io *io, unsigned events)
{
	struct client_listener *l = (struct client_listener *)io;
	(void)events;
	for (int i = 0; i < ACCEPT_BATCH; i++) {
		struct net_addr peer;
		int fd = net_accept(l->fd, &peer);
		if (fd >= 0) {
			client_take(l, fd, &peer);
			continue;
		}
		if (fd == -EMFILE || fd == -ENFILE || fd == -ENOBUFS || fd == -ENOMEM) {
			uint64_t now = rx_now(rx);
			struct client *c = l->client;
			if (!c->emfile_logged_ms || now - c->emfile_logged_ms >= EMFILE_LOG_EVERY_MS) {
				log_warn("%s: accept: %s; pausing accepts", l->fwd->spec, strerror(-fd));
				c->emfile_logged_ms = now;
			}
			rx_io_want(rx, &l->io, 0);
			rx_timer_arm(rx, &l->pause, now + ACCEPT_PAUSE_MS, listener_resume);
		}
		return;
	}
}

/* Setup only: blocking is fine before serving (core/dns_block). */
static int resolve_blocking(const struct client *c, const char *host, uint16_t port,
                            struct net_addr *out, size_t max)
{
	int n = dns_resolve_blocking(host, port, c->cfg->dns, out, max);
	return n > 0 ? n : 0;
}

static int client_listen(struct client *c, const struct fwd *f)
{
	size_t slot = 0; /* < CLIENT_MAX_FWDS: one listener per fwd at most */
	while (slot < c->nlisteners && c->listeners[slot].fwd) /* a removed one's is free */
		slot++;
	struct client_listener *l = &c->listeners[slot];
	*l = (struct client_listener){0};
	struct net_addr a;
	if (resolve_blocking(c, f->bind_host, f->bind_port, &a, 1) != 1) {
		log_error("%s: cannot resolve bind address %s", f->spec, f->bind_host);
		return -1;
	}
	int fd = f->kind == FWD_TPROXY ? net_listen_transparent(&a, 1024) : net_listen(&a, 1024, false);
	if (fd < 0) {
		char name[NET_ADDR_STRLEN];
		log_error("%s: cannot listen on %s: %s%s", f->spec, net_addr_str(&a, name, sizeof(name)),
		          strerror(-fd),
		          f->kind == FWD_TPROXY && fd == -EPERM ? " (--tproxy needs CAP_NET_ADMIN)" : "");
		return -1;
	}
	l->client = c;
	l->fwd = f;
	l->fd = fd;
	rx_io_add(&c->rx, &l->io, fd, listener_on_io);
	rx_io_want(&c->rx, &l->io, RX_READ);
	if (slot == c->nlisteners)
		c->nlisteners++;
	if (f->kind == FWD_DYNAMIC && !net_addr_is_loopback(&a) && !c->cfg->proxy_user)
		log_warn("-D %s listens beyond loopback without --proxy-user: anyone who can "
		         "reach it can use your tunnel", f->spec);
	return 0;
}

static void listener_close(struct client *c, struct client_listener *l)
{
	if (!l->fwd)
		return; /* removed earlier */
	rx_timer_cancel(&c->rx, &l->pause);
	rx_io_del(&c->rx, &l->io);
	close(l->fd);
	l->fwd = NULL;
}

static void client_close_listeners(struct client *c)
{
	for (size_t i = 0; i < c->nlisteners; i++)
		listener_close(c, &c->listeners[i]);
	c->nlisteners = 0;
}

static void client_on_signal(struct rx *rx, int signo, void *arg)
{
	(void)rx;
	log_info("%s: stopping", signo == SIGTERM ? "SIGTERM" : "SIGINT");
	client_stop(arg);
}

/* wss://: verify the chain and name by default; --pin or --insecure instead. */
static int client_tls_setup(struct client *c)
{
	const struct client_config *cfg = c->cfg;
	char err[TLS_ERRLEN];
	int rc = 0;
	if (cfg->server.scheme == URL_WS)
		return 0;
	if (cfg->insecure) {
		tls_client_cfg_init_insecure(&c->tls);
		log_warn("--insecure: the server's certificate is NOT verified; anyone on the path "
		         "can impersonate it");
	} else if (cfg->pin) {
		rc = tls_client_cfg_init_pin(&c->tls, cfg->pin, err, sizeof(err));
	} else {
		rc = tls_client_cfg_init_ca(&c->tls, cfg->ca_file ? cfg->ca_file : TLS_SYSTEM_CA, err,
		                            sizeof(err));
	}
	if (rc < 0) {
		log_error("TLS: %s", err);
		return -1;
	}
	c->use_tls = true;
	return 0;
}

static int client_setup(struct client *c)
{
	const struct url *u = &c->cfg->server;
	const char *fmt = u->host_is_v6 ? "[%s]:%u" : "%s:%u";
	if (c->cfg->host_header)
		snprintf(c->host_header, sizeof(c->host_header), "%s", c->cfg->host_header);
	else if (u->port == url_default_port(u->scheme))
		snprintf(c->host_header, sizeof(c->host_header), u->host_is_v6 ? "[%s]" : "%s", u->host);
	else
		snprintf(c->host_header, sizeof(c->host_header), fmt, u->host, u->port);
	if (client_tls_setup(c) < 0 || cli_mux_setup(c) < 0)
		return -1;
	/* 0-RTT only where the server is already authenticated: over a verified
	 * TLS leg the bytes reach the certificate's holder; over ws:// (or
	 * --insecure) they wait for the 101's proof of the key. Without a key
	 * nothing can be proven, so nothing is gained by waiting. */
	c->hold_early = c->cfg->keys && (!c->use_tls || c->cfg->insecure);
	const char *tfo_off = c->cfg->fast_open ? tfo_blocked(false) : NULL;
	if (tfo_off)
		log_warn("--fast-open: %s; connecting without it", tfo_off);
	/* Resolved once before serving (blocking is fine here). */
	int n = resolve_blocking(c, u->host, u->port, c->server, CLIENT_MAX_SERVER_ADDRS);
	if (n <= 0) {
		log_error("cannot resolve server host %s", u->host);
		return -1;
	}
	c->nserver = (size_t)n;
	if (c->cfg->proxy_host) {
		if (resolve_blocking(c, c->cfg->proxy_host, c->cfg->proxy_port, &c->proxy_addr, 1) != 1) {
			log_error("cannot resolve --proxy host %s", c->cfg->proxy_host);
			return -1;
		}
		if (c->cfg->proxy_cred)
			base64_encode((const uint8_t *)c->cfg->proxy_cred, strlen(c->cfg->proxy_cred),
			              c->proxy_auth);
	}
	for (size_t i = 0; i < c->cfg->nfwds; i++)
		if (client_fwd_start(c, &c->cfg->fwds[i]) < 0)
			return -1;
	return cli_pool_start(c);
}

int client_fwd_start(struct client *c, const struct fwd *f)
{
	if (f->kind == FWD_REMOTE)
		return cli_reverse_start(c, f) < 0 ? -1 : 0;
	if (f->udp ? cli_udp_listen(c, f) < 0 : client_listen(c, f) < 0)
		return -1;
	if (f->kind == FWD_TPROXY && cli_tproxy_udp_listen(c, f) < 0)
		return -1; /* UDP beside TCP on the same [BIND:]PORT */
	return 0;
}

static struct client_listener *listener_of(struct client *c, const struct fwd *f)
{
	for (size_t i = 0; i < c->nlisteners; i++)
		if (c->listeners[i].fwd == f)
			return &c->listeners[i];
	return NULL;
}

int client_fwd_stop(struct client *c, const struct fwd *f)
{
	struct client_listener *l = listener_of(c, f);
	if (!l || f->udp || f->kind == FWD_TPROXY)
		return -1; /* -R and UDP stay until the client stops */
	listener_close(c, l);
	return 0;
}

uint16_t client_fwd_port(struct client *c, const struct fwd *f)
{
	struct client_listener *l = listener_of(c, f);
	struct net_addr a;
	return l && net_local_addr(l->fd, &a) == 0 ? net_addr_port(&a) : f->bind_port;
}

struct client *client_new(const struct client_config *cfg)
{
	struct client *c = calloc(1, sizeof(*c));
	if (!c || rx_init(&c->rx) < 0) {
		log_error("cannot start the event loop");
		free(c);
		return NULL;
	}
	c->cfg = cfg;
	conn_list_init(&c->conns);
	c->metrics_fd = -1;
	struct dns_config dcfg = {.servers = cfg->dns};
	if (dns_init(&c->dns, &c->rx, &dcfg) < 0) {
		log_error("cannot set up the resolver");
		rx_free(&c->rx);
		free(c);
		return NULL;
	}
	if (client_setup(c) < 0 || cli_metrics_start(c) < 0) {
		client_free(c);
		return NULL;
	}
	return c;
}

struct rx *client_rx(struct client *c)
{
	return &c->rx;
}

struct conn_list *client_conns(struct client *c)
{
	return &c->conns;
}

void client_stop(struct client *c)
{
	client_close_listeners(c);
	conn_list_destroy_all(&c->conns);
	rx_stop(&c->rx);
}

void client_free(struct client *c)
{
	client_close_listeners(c);
	cli_metrics_stop(c);
	conn_list_destroy_all(&c->conns);
	cli_pool_free(c);
	client_tunnels_free(c);
	cli_mux_free(c);
	if (c->use_tls)
		tls_client_cfg_free(&c->tls);
	dns_free(&c->dns);
	rx_free(&c->rx);
	free(c);
	buf_pool_drain();
	splice_pool_drain();
}

int client_main(const struct client_config *cfg)
{
	struct client *c = client_new(cfg);
	if (!c)
		return 1;
	signal(SIGPIPE, SIG_IGN);
	rx_signal(&c->rx, SIGTERM, client_on_signal, c);
	rx_signal(&c->rx, SIGINT, client_on_signal, c);
	int rc = rx_run(&c->rx);
	client_free(c);
	return rc == 0 ? 0 : 1;
}
