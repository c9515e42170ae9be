/* cli_udp.c — -L udp:// on the client: one bound UDP socket; each source
 * address gets its own flow (a WebSocket to the server, one message per
 * datagram) through tun/udpdemux, ended after ?timeout= of silence. Also
 * the flow opener that SOCKS5 UDP and -R udp:// share. */
#include "tun/client/cli_udp.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"
#include "tun/client/cli_tunnel.h"
#include "tun/udpdemux.h"

struct udp_fwd {
	struct conn_link link;
	struct client *client;
	const struct fwd *fwd;
	struct udp_demux demux;
	char what[8 + sizeof(((struct fwd *)0)->spec)]; /* "-L SPEC", for its log */
};

/* ---- flows through the server ---- */

/* Flows live on the client's reactor: the client is found from it. */
static struct client *flow_client(const struct dgram *d)
{
	return (struct client *)((char *)d->rx - offsetof(struct client, rx));
}

/* The server connection is ready (or not): the upgrade naming kind and
 * d->target goes first, then the datagrams kept so far. */
static void flow_upgrade(struct dgram *d, int fd, enum tunnel_err err, enum tunnel_kind kind)
{
	struct client *c = flow_client(d);
	char req[2048];
	struct tunnel_expect expect;
	size_t n = fd >= 0 ? client_upgrade(c, kind, d->target, req, sizeof(req), &expect) : 0;
	struct stream s;
	if (n == 0 && fd >= 0)
		close(fd);
	if (fd < 0 || n == 0 || client_stream(c, fd, &s) < 0)
		return dgram_fail(d, fd < 0 ? err : TUNNEL_ERR_GENERAL);
	if (c->cfg->encrypt && dgram_seal(d, c->cfg->keys->payload, expect.nonce) < 0) {
		stream_close(&s);
		return dgram_fail(d, TUNNEL_ERR_GENERAL);
	}
	dgram_attach(d, &s, req, n, NULL, &expect, c->hold_early);
}

static void flow_connected(void *owner, int fd, enum tunnel_err err)
{
	flow_upgrade(owner, fd, err, TUNNEL_UDP);
}

static void claim_connected(void *owner, int fd, enum tunnel_err err)
{
	flow_upgrade(owner, fd, err, TUNNEL_REVERSE_ACCEPT);
}

static struct dgram *flow_new(struct client *c, unsigned id, const char *target, unsigned idle_ms,
                              const struct dgram_ops *ops, void *owner)
{
	const struct relay_opts *r = &c->cfg->relay;
	struct dgram_opts o = {.keepalive_ms = r->keepalive_ms, .pong_timeout_ms = r->pong_timeout_ms,
	                       .idle_ms = idle_ms};
	struct dgram *d = dgram_new(&c->rx, &c->conns, id, WS_ROLE_CLIENT, &o, ops, owner);
	if (d)
		d->target = target;
	return d;
}

struct dgram *cli_udp_flow(struct client *c, const char *target, unsigned idle_ms,
                           const struct dgram_ops *ops, void *owner)
{
	return flow_new(c, c->conns.next_id++, target, idle_ms, ops, owner);
}

void cli_udp_flow_connect(struct dgram *d)
{
	client_connect_server(flow_client(d), flow_connected, d);
}

/* ---- -R udp:// claims: socket mode, the flow's own connected socket ---- */

static void claim_on_close(struct dgram *d, enum tunnel_err err, const char *why)
{
	const struct fwd *f = d->owner;
	if (err != TUNNEL_OK)
		log_info("-R %s: could not carry a flow: %s", f->spec, why);
	else
		log_debug("c%u -R %s flow ended (%s): %llu datagrams in, %llu out, %llu dropped",
		          d->link.id, f->spec, why, (unsigned long long)d->down,
		          (unsigned long long)d->up, (unsigned long long)d->dropped);
	free((char *)(uintptr_t)d->target);
}

static const struct dgram_ops claim_ops = {NULL, claim_on_close};

void cli_udp_claim(struct client *c, int fd, unsigned id, const char *target,
                   const struct fwd *f)
{
	char *t = strdup(target);
	struct dgram *d = t ? flow_new(c, id, t, f->udp_idle_ms, &claim_ops, (void *)(uintptr_t)f)
	                    : NULL;
	if (!d) {
		free(t);
		close(fd);
		return;
	}
	dgram_own_socket(d, fd);
	client_connect_server(c, claim_connected, d);
}

/* ---- -L udp:// ---- */

static void fwd_on_datagram(struct dgram *d, const uint8_t *p, size_t n)
{
	struct udp_fwd *u = d->owner;
	udp_demux_answer(&u->demux, d, p, n);
}

static void fwd_on_close(struct dgram *d, enum tunnel_err err, const char *why)
{
	struct udp_fwd *u = d->owner;
	udp_demux_remove(&u->demux, d);
	char src[NET_ADDR_STRLEN];
	net_addr_str(&d->peer, src, sizeof(src));
	if (err != TUNNEL_OK)
		log_info("-L %s: flow from %s: %s", u->fwd->spec, src, why);
	else
		log_debug("c%u -L %s flow from %s ended (%s): %llu datagrams up, %llu down, "
		          "%llu dropped", d->link.id, u->fwd->spec, src, why,
		          (unsigned long long)d->up, (unsigned long long)d->down,
		          (unsigned long long)d->dropped);
}

static const struct dgram_ops fwd_flow_ops = {fwd_on_datagram, fwd_on_close};

/* A new source: its flow, or NULL (limit reached, out of memory, or the
 * server refused at once). */
static struct dgram *flow_open(void *owner, const struct net_addr *src)
{
	struct udp_fwd *u = owner;
	if (u->demux.nflows >= CLI_UDP_MAX_FLOWS)
		return NULL;
	struct dgram *d = cli_udp_flow(u->client, u->fwd->target, u->fwd->udp_idle_ms,
	                               &fwd_flow_ops, u);
	if (!d)
		return NULL;
	d->peer = *src;
	udp_demux_add(&u->demux, d);
	cli_udp_flow_connect(d);
	return udp_demux_find(&u->demux, src); /* a direct connection that failed ended d */
}

static void udp_fwd_free(struct udp_fwd *u)
{
	udp_demux_stop(&u->demux, "stopping");
	conn_list_remove(&u->client->conns, &u->link);
	free(u);
}

static void udp_fwd_destroy(struct conn_link *link)
{
	udp_fwd_free((struct udp_fwd *)link);
}

int cli_udp_listen(struct client *c, const struct fwd *f)
{
	struct net_addr a;
	if (net_addr_from_ip(strcmp(f->bind_host, "localhost") ? f->bind_host : "127.0.0.1",
	                     f->bind_port, &a) < 0) {
		log_error("%s: the bind address must be an IP address", f->spec);
		return -1;
	}
	int fd = net_udp_bind(&a);
	if (fd < 0) {
		log_error("%s: cannot bind UDP %s: %s", f->spec, f->bind_host, strerror(-fd));
		return -1;
	}
	struct udp_fwd *u = calloc(1, sizeof(*u));
	if (!u) {
		close(fd);
		return -1;
	}
	u->client = c;
	u->fwd = f;
	snprintf(u->what, sizeof(u->what), "-L %s", f->spec);
	if (udp_demux_start(&u->demux, &c->rx, fd, u->what, flow_open, u) < 0) {
		free(u);
		return -1;
	}
	conn_list_add(&c->conns, &u->link, udp_fwd_destroy);
	return 0;
}
