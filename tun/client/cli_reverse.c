/* cli_reverse.c — the client end of -R: a registration channel per remote
 * forward, kept alive and re-established with exponential backoff and jitter
 * when the server goes away; each announced connection (or, for udp://,
 * each new source's flow) is dialled locally and carried back in its own
 * tunnel. A tunnel:// exit (VPN mode) is a channel whose announcements each
 * name their own destination: dialled here, within --restrict-to and
 * --allow, resolved by this client's resolver, and on failure answered
 * with why, which the entry's SOCKS / HTTP reply shows. */
#include <inttypes.h>
#include <sys/socket.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"
#include "core/rand.h"
#include "proto/tunnel_exit.h"
#include "tun/client/cli_reverse.h"
#include "tun/client/cli_tunnel.h"
#include "tun/client/cli_udp.h"
#include "tun/dial.h"
#include "tun/pipe.h"
#include "tun/wsctl.h"

#define BACKOFF_MIN_MS 1000
#define BACKOFF_MAX_MS 60000

struct cli_reverse {
	struct conn_link link;
	struct client *client;
	const struct fwd *fwd;
	struct wsctl ctl;
	struct rx_timer retry;
	unsigned backoff_ms;
	bool registered;
	bool channel;            /* -R tcp://NAME@: bind is "NAME:PASSWORD" */
	bool exit;               /* -R tunnel://NAME@: a channel, dialling what
	                          * each announcement names */
	bool route;              /* -R http://...?mode=: bind is the route rule */
	char bind[TUNNEL_MAX_TARGET + 1];
	char host[URL_MAX_HOST + 1]; /* local destination */
	uint16_t port;
	bool tls;                    /* -R https://: TLS to the destination */
	struct tls_client_cfg btls;  /* its verification (f->backend_*) */
};

/* One announced connection being dialled locally. */
struct rev_dial {
	struct conn_link link;
	struct cli_reverse *rev;
	struct dial dial;
	uint64_t id;
	char dest[TUNNEL_MAX_TARGET + 1]; /* an exit's: what it was asked to dial */
};

static void rev_connect(struct cli_reverse *rev);

static void rev_dial_free(struct rev_dial *d)
{
	dial_cancel(&d->dial);
	conn_list_remove(&d->rev->client->conns, &d->link);
	free(d);
}

static void rev_dial_destroy(struct conn_link *link)
{
	rev_dial_free((struct rev_dial *)link);
}

static void rev_free(struct cli_reverse *rev)
{
	struct conn_list *l = &rev->client->conns;
	/* Dials in flight belong to this registration: they go with it. */
	for (struct conn_link *k = l->head.next; k != &l->head;) {
		struct conn_link *next = k->next;
		if (k->destroy == rev_dial_destroy && ((struct rev_dial *)k)->rev == rev)
			rev_dial_free((struct rev_dial *)k);
		k = next;
	}
	rx_timer_cancel(&rev->client->rx, &rev->retry);
	wsctl_stop(&rev->ctl);
	conn_list_remove(l, &rev->link);
	if (rev->tls)
		tls_client_cfg_free(&rev->btls);
	free(rev);
}

static void rev_destroy(struct conn_link *link)
{
	rev_free((struct cli_reverse *)link);
}

static void rev_on_retry(struct rx *rx, struct rx_timer *t)
{
	(void)rx;
	rev_connect((struct cli_reverse *)((char *)t - offsetof(struct cli_reverse, retry)));
}

/* Exponential backoff with jitter (up to +50%) so many clients that lost the
 * same server do not return in lockstep. */
static void rev_schedule(struct cli_reverse *rev)
{
	uint16_t r = 0;
	rand_bytes(&r, sizeof(r));
	unsigned delay = rev->backoff_ms + (unsigned)((uint64_t)rev->backoff_ms * r / 131072);
	rev->backoff_ms = rev->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : rev->backoff_ms * 2;
	rev->registered = false;
	rx_timer_arm(&rev->client->rx, &rev->retry, rx_now(&rev->client->rx) + delay, rev_on_retry);
}

static void rev_on_open(struct wsctl *w, enum tunnel_err err)
{
	struct cli_reverse *rev = w->owner;
	if (err != TUNNEL_OK && rev->route) {
		log_warn("-R %s: %s; retrying", rev->fwd->spec,
		         err == TUNNEL_ERR_IN_USE      ? "another client publishes this route"
		         : err == TUNNEL_ERR_FORBIDDEN ? "the server refuses routes (it needs --key)"
		                                       : tunnel_err_text(err));
		rev_schedule(rev);
		return;
	}
	if (err != TUNNEL_OK && rev->channel) {
		log_warn("-R %s: %s; retrying", rev->fwd->spec,
		         err == TUNNEL_ERR_IN_USE
		                 ? (rev->exit ? "another client holds this exit name"
		                              : "another client holds this channel name")
		         : err == TUNNEL_ERR_FORBIDDEN
		                 ? (rev->exit ? "the server refuses exits (it needs --key)"
		                              : "the server refuses channels (it needs --key)")
		                 : tunnel_err_text(err));
		rev_schedule(rev);
		return;
	}
	if (err != TUNNEL_OK) {
		log_warn("-R %s: %s%s; retrying", rev->fwd->spec,
		         err < TUNNEL_ERR_SERVER_DOWN ? "the server cannot listen there: " : "",
		         tunnel_err_text(err));
		rev_schedule(rev);
		return;
	}
	if (rev->route)
		log_info("-R %s: published (%s)", rev->fwd->spec, rev->bind);
	else if (rev->exit)
		log_info("-R %s: exit registered", rev->fwd->spec);
	else if (rev->channel)
		log_info("-R %s: channel registered", rev->fwd->spec);
	else
		log_info("-R %s: the server listens on %s", rev->fwd->spec, rev->bind);
	rev->registered = true;
	rev->backoff_ms = BACKOFF_MIN_MS;
}

static void rev_on_close(struct wsctl *w)
{
	struct cli_reverse *rev = w->owner;
	log_warn("-R %s: lost the server; re-registering", rev->fwd->spec);
	rev_schedule(rev);
}

static void claim_on_open(void *owner, int tcp_fd, enum tunnel_err err)
{
	const struct fwd *f = owner;
	if (err != TUNNEL_OK && tcp_fd >= 0) /* -1: the local side left first */
		log_info("-R %s: could not carry a connection: %s", f->spec, tunnel_err_text(err));
}

/* An https:// service: TLS is made here and its plaintext piped into a
 * socketpair whose other end the tunnel carries (the relay's TCP leg is a
 * plain socket). A certificate that fails verification closes the pipe,
 * and so the visitor's request. Returns the plain end, or -1. */
static int tls_side(struct cli_reverse *rev, int fd, unsigned id)
{
	int sp[2];
	struct stream s;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sp) < 0) {
		close(fd);
		return -1;
	}
	if (stream_tls_client(&s, fd, &rev->btls, rev->host) < 0) {
		close(fd);
		close(sp[0]);
		close(sp[1]);
		return -1;
	}
	if (pipe_start(&rev->client->rx, &rev->client->conns, id, NULL, &s, sp[0], NULL, false) < 0) {
		close(sp[1]);
		return -1;
	}
	return sp[1];
}

/* Tells the server d's destination could not be reached (an exit says
 * why) and forgets d. */
static void rev_refuse(struct rev_dial *d, enum tunnel_err err)
{
	uint8_t msg[TUNNEL_EXIT_FAILED_LEN];
	size_t n = TUNNEL_REV_MSG_LEN;
	if (d->rev->exit) {
		tunnel_exit_failed_msg(msg, d->id, err);
		n = sizeof(msg);
	} else {
		tunnel_rev_msg(msg, REV_MSG_REFUSED, d->id);
	}
	wsctl_send(&d->rev->ctl, msg, n);
	rev_dial_free(d);
}

static void rev_dialled(struct dial *dl, int fd, enum tunnel_err err)
{
	struct rev_dial *d = (struct rev_dial *)((char *)dl - offsetof(struct rev_dial, dial));
	struct cli_reverse *rev = d->rev;
	if (fd < 0) {
		log_info("-R %s: %s%s%s", rev->fwd->spec, d->dest, d->dest[0] ? ": " : "",
		         d->dial.forbidden && err == TUNNEL_ERR_FORBIDDEN ? "not permitted by --allow"
		                                                          : tunnel_err_text(err));
		return rev_refuse(d, err);
	}
	char target[TUNNEL_REV_ID_HEX + 1];
	snprintf(target, sizeof(target), "%016" PRIx64, d->id);
	unsigned id = d->link.id;
	const struct fwd *f = rev->fwd;
	struct client *c = rev->client;
	rev_dial_free(d);
	if (f->udp)
		return cli_udp_claim(c, fd, id, target, f);
	net_set_nodelay(fd);
	if (rev->tls && (fd = tls_side(rev, fd, id)) < 0)
		return;
	enum tunnel_kind kind = rev->route     ? TUNNEL_ROUTE_ACCEPT
	                        : rev->channel ? TUNNEL_CHANNEL_ACCEPT
	                                       : TUNNEL_REVERSE_ACCEPT;
	client_open_tunnel(c, fd, id, kind, target, NULL, claim_on_open,
	                   (void *)(uintptr_t)f, NULL);
}

/* An exit's dial of dest, within its --restrict-to (refused at once,
 * before any lookup) and --allow (checked on every resolved address). */
static void exit_dial(struct rev_dial *d, const struct tunnel_exit_dest *dest)
{
	const struct client_config *cfg = d->rev->client->cfg;
	tunnel_exit_dest_format(dest, d->dest, sizeof(d->dest));
	if (!dial_target_permitted(cfg->restrict_to, cfg->nrestrict, dest->host, dest->port)) {
		log_info("-R %s: %s: not permitted by --restrict-to", d->rev->fwd->spec, d->dest);
		return rev_refuse(d, TUNNEL_ERR_FORBIDDEN);
	}
	if (cfg->nallow) {
		d->dial.allow = cfg->allow;
		d->dial.nallow = cfg->nallow;
	}
	log_debug("-R %s: dialling %s", d->rev->fwd->spec, d->dest);
	dial_start(&d->dial, &d->rev->client->rx, &d->rev->client->dns, dest->host, dest->port,
	           cfg->connect_timeout_ms, rev_dialled);
}

static void rev_on_message(struct wsctl *w, const uint8_t *p, size_t n)
{
	struct cli_reverse *rev = w->owner;
	struct tunnel_exit_msg m;
	if (tunnel_exit_parse(p, n, &m) < 0 ||
	    m.op != (rev->exit ? REV_MSG_DIAL : REV_MSG_CONNECTION))
		return;
	uint8_t ack[TUNNEL_REV_MSG_LEN];
	tunnel_rev_msg(ack, REV_MSG_ACCEPTED, m.id); /* alive: the server need not wait */
	wsctl_send(&rev->ctl, ack, sizeof(ack));
	struct rev_dial *d = calloc(1, sizeof(*d));
	if (!d)
		return;
	d->rev = rev;
	d->id = m.id;
	d->dial.udp = rev->fwd->udp; /* -R udp://: a connected UDP socket */
	conn_list_add(&rev->client->conns, &d->link, rev_dial_destroy);
	if (rev->exit)
		return exit_dial(d, &m.dest);
	dial_start(&d->dial, &rev->client->rx, &rev->client->dns, rev->host, rev->port,
	           rev->client->cfg->connect_timeout_ms, rev_dialled);
}

static const struct wsctl_ops rev_ops = {rev_on_open, rev_on_message, rev_on_close};

static void rev_connected(void *owner, int fd, enum tunnel_err err)
{
	struct cli_reverse *rev = owner;
	struct client *c = rev->client;
	char req[2048];
	struct tunnel_expect expect;
	enum tunnel_kind kind = rev->route     ? TUNNEL_ROUTE_REGISTER
	                        : rev->exit    ? TUNNEL_EXIT_REGISTER
	                        : rev->channel ? TUNNEL_CHANNEL_REGISTER
	                        : rev->fwd->udp ? TUNNEL_UDP_LISTEN
	                                        : TUNNEL_REVERSE_LISTEN;
	size_t n = fd >= 0 ? client_upgrade(c, kind, rev->bind, req, sizeof(req), &expect) : 0;
	(void)err;
	if (n == 0 && fd >= 0) {
		close(fd);
		fd = -1;
	}
	struct stream s;
	if (fd < 0 || client_stream(c, fd, &s) < 0 ||
	    wsctl_start(&rev->ctl, &c->rx, &s, WS_ROLE_CLIENT, req, n, NULL, &expect,
	                c->cfg->relay.keepalive_ms, &rev_ops, rev) < 0) {
		log_warn("-R %s: cannot reach the server; retrying", rev->fwd->spec);
		rev_schedule(rev);
	}
}

static void rev_connect(struct cli_reverse *rev)
{
	client_connect_server(rev->client, rev_connected, rev);
}

int cli_reverse_start(struct client *c, const struct fwd *f)
{
	struct cli_reverse *rev = calloc(1, sizeof(*rev));
	char err[256] = "";
	if (!rev) {
		log_error("-R %s: out of memory", f->spec);
		return -1;
	}
	if (f->backend_tls) {
		int rc = 0;
		if (f->backend_insecure)
			tls_client_cfg_init_insecure(&rev->btls);
		else
			rc = tls_client_cfg_init_ca(&rev->btls, f->backend_ca[0] ? f->backend_ca
			                                                       : TLS_SYSTEM_CA,
			                            err, sizeof(err));
		if (rc < 0) {
			log_error("-R %s: %s", f->spec, err);
			free(rev);
			return -1;
		}
		rev->tls = true;
	}
	rev->client = c;
	rev->fwd = f;
	rev->ctl.s.fd = -1;
	rev->backoff_ms = BACKOFF_MIN_MS;
	rev->channel = f->chan[0] != '\0';
	rev->exit = f->exit;
	rev->route = f->route[0] != '\0';
	if (rev->route)
		snprintf(rev->bind, sizeof(rev->bind), "%s", f->route);
	else if (rev->channel)
		snprintf(rev->bind, sizeof(rev->bind), "%s", f->chan);
	else
		snprintf(rev->bind, sizeof(rev->bind), strchr(f->bind_host, ':') ? "[%s]:%u" : "%s:%u",
		         f->bind_host, f->bind_port);
	if (!rev->exit) /* an exit's destinations come with each announcement */
		tunnel_target_split(f->target, strlen(f->target), rev->host, sizeof(rev->host),
		                    &rev->port);
	conn_list_add(&c->conns, &rev->link, rev_destroy);
	rev_connect(rev);
	return 0;
}
