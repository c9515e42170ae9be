/* upstream.c — --proxy: reach the wsferry server through an HTTP CONNECT
 * proxy (RFC 9110 §9.3.6). Owns the socket from connect until the proxy's
 * 200 (then hands it over) or its refusal (then closes it). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"
#include "tun/client/upstream.h"

#define UPSTREAM_DEADLINE_MS 15000

struct upstream {
	struct conn_link link;
	struct client *client;
	struct rx_io io;
	struct rx_timer deadline;
	int fd;
	bool sent;
	size_t scanned;
	struct buf in;
	upstream_fn done;
	void *owner;
};

static void upstream_free(struct upstream *u)
{
	rx_timer_cancel(&u->client->rx, &u->deadline);
	if (u->fd >= 0) {
		rx_io_del(&u->client->rx, &u->io);
		close(u->fd);
	}
	buf_free(&u->in);
	conn_list_remove(&u->client->conns, &u->link);
	free(u);
}

/* At stop: no callback (its owner is being torn down too). */
static void upstream_destroy(struct conn_link *link)
{
	upstream_free((struct upstream *)link);
}

static void upstream_finish(struct upstream *u, enum tunnel_err err)
{
	int fd = -1;
	if (err == TUNNEL_OK) {
		rx_io_del(&u->client->rx, &u->io);
		fd = u->fd;
		u->fd = -1;
	}
	upstream_fn done = u->done;
	void *owner = u->owner;
	upstream_free(u);
	done(owner, fd, err);
}

static int upstream_send(struct upstream *u)
{
	const struct client *c = u->client;
	const struct url *s = &c->cfg->server;
	char req[1024];
	const char *fmt = s->host_is_v6 ? "[%s]:%u" : "%s:%u";
	char authority[URL_MAX_HOST + 16];
	snprintf(authority, sizeof(authority), fmt, s->host, s->port);
	int n = snprintf(req, sizeof(req), "CONNECT %s HTTP/1.1\r\nHost: %s\r\n%s%s%s\r\n",
	                 authority, authority, c->proxy_auth[0] ? "Proxy-Authorization: Basic " : "",
	                 c->proxy_auth, c->proxy_auth[0] ? "\r\n" : "");
	if (n <= 0 || (size_t)n >= sizeof(req))
		return -1;
	return net_write(u->fd, req, (size_t)n) == n ? 0 : -1; /* fresh socket: fits */
}

static void upstream_on_io(struct rx *rx, struct rx_io *io, unsigned events)
{
	struct upstream *u = (struct upstream *)((char *)io - offsetof(struct upstream, io));
	(void)rx;
	if (!u->sent) {
		if (net_connect_result(u->fd) < 0 || upstream_send(u) < 0)
			return upstream_finish(u, TUNNEL_ERR_SERVER_DOWN);
		u->sent = true;
		rx_io_want(&u->client->rx, &u->io, RX_READ);
		return;
	}
	if (!(events & RX_READ) || buf_alloc(&u->in) < 0)
		return;
	/* Read only up to the end of the proxy's answer: what follows belongs
	 * to the server (none should come before we speak, but be exact). */
	size_t room = buf_room(&u->in);
	long n = room ? net_read(u->fd, buf_tail(&u->in), 1) : -ENOBUFS;
	if (n == -EAGAIN)
		return;
	if (n <= 0)
		return upstream_finish(u, TUNNEL_ERR_SERVER_DOWN);
	buf_produced(&u->in, (size_t)n);
	const char *p = (const char *)buf_data(&u->in);
	int end = http_head_end(p, buf_len(&u->in), &u->scanned);
	if (end == HTTP_NEED_MORE)
		return;
	struct http_response resp;
	if (end < 0 || http_parse_response(p, (size_t)end, &resp) < 0) {
		log_warn("--proxy answered something that is not HTTP");
		return upstream_finish(u, TUNNEL_ERR_SERVER_DOWN);
	}
	if (resp.status / 100 != 2) {
		log_warn("--proxy refused CONNECT to the server: %d %s%s", resp.status,
		         http_reason(resp.status),
		         resp.status == 407 ? " (credentials missing or wrong in --proxy)" : "");
		return upstream_finish(u, TUNNEL_ERR_SERVER_DOWN);
	}
	upstream_finish(u, TUNNEL_OK);
}

static void upstream_on_deadline(struct rx *rx, struct rx_timer *t)
{
	struct upstream *u = (struct upstream *)((char *)t - offsetof(struct upstream, deadline));
	(void)rx;
	log_warn("--proxy did not answer in time");
	upstream_finish(u, TUNNEL_ERR_SERVER_DOWN);
}

int upstream_dial(struct client *c, const struct net_addr *a)
{
	if (!c->cfg->fast_open)
		return net_connect(a);
	int tfo = 0;
	int fd = net_connect_tfo(a, &tfo);
	if (tfo < 0 && !c->tfo_logged) {
		c->tfo_logged = true;
		log_warn("--fast-open: TCP Fast Open unavailable (%s): connecting without it",
		         strerror(-tfo));
	}
	return fd;
}

void upstream_open(struct client *c, upstream_fn done, void *owner)
{
	struct upstream *u = calloc(1, sizeof(*u));
	int fd = u ? upstream_dial(c, &c->proxy_addr) : -ENOMEM;
	if (fd < 0) {
		free(u);
		done(owner, -1, TUNNEL_ERR_SERVER_DOWN);
		return;
	}
	u->client = c;
	u->fd = fd;
	u->done = done;
	u->owner = owner;
	conn_list_add(&c->conns, &u->link, upstream_destroy);
	rx_io_add(&c->rx, &u->io, fd, upstream_on_io);
	rx_io_want(&c->rx, &u->io, RX_WRITE);
	rx_timer_arm(&c->rx, &u->deadline, rx_now(&c->rx) + UPSTREAM_DEADLINE_MS,
	             upstream_on_deadline);
}
