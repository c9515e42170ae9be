/* scrape.c — a tiny HTTP/1.1 server for the --metrics listener: one
 * request per connection (Connection: close), the head parsed by proto/http,
 * one deadline for the whole exchange and a cap on connections, so a slow or
 * hostile client costs 4 KiB and a timer, and never stalls the reactor
 * (nor, at the connection cap, keeps a health check out: the oldest goes). */
#include "tun/scrape.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "proto/http.h"

#define RENDER_FIRST 16384      /* today's exposition is ~5 KiB */
#define RENDER_MAX (1u << 20)

struct scrape_conn {
	struct scrape_conn *prev, *next;
	struct scrape *sc;
	struct rx_io io;
	struct rx_timer deadline;
	int fd;
	size_t len, scanned;    /* head bytes read, http_head_end progress */
	char *out;              /* the answer, once decided */
	size_t out_len, out_off;
	char in[SCRAPE_HEAD_MAX];
};

struct scrape {
	struct rx *rx;
	struct rx_io io;
	const struct scrape_ops *ops;
	void *arg;
	struct scrape_conn *conns;
	unsigned nconns;
};

int scrape_listen(const struct net_addr *a)
{
	return net_listen(a, 64, false);
}

static void conn_close(struct scrape_conn *c)
{
	struct scrape *sc = c->sc;
	rx_timer_cancel(sc->rx, &c->deadline);
	rx_io_del(sc->rx, &c->io);
	close(c->fd);
	if (c->prev)
		c->prev->next = c->next;
	else
		sc->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	sc->nconns--;
	free(c->out);
	free(c);
}

/* Writes what the socket takes; closes once all went out (or it failed). */
static void conn_flush(struct scrape_conn *c)
{
	while (c->out_off < c->out_len) {
		long n = net_write(c->fd, c->out + c->out_off, c->out_len - c->out_off);
		if (n == -EAGAIN) {
			rx_io_want(c->sc->rx, &c->io, RX_WRITE);
			return;
		}
		if (n <= 0)
			break;
		c->out_off += (size_t)n;
	}
	shutdown(c->fd, SHUT_WR);
	conn_close(c);
}

/* The Prometheus text, in a buffer grown until it fits; NULL when out of
 * memory. */
static char *render(const struct scrape *sc, size_t *len)
{
	for (size_t cap = RENDER_FIRST; cap <= RENDER_MAX; cap *= 2) {
		char *p = malloc(cap);
		if (!p)
			return NULL;
		struct prom_out o = {p, 0, cap, false};
		sc->ops->render(sc->arg, &o);
		if (!o.overflow) {
			*len = o.len;
			return p;
		}
		free(p);
	}
	return NULL;
}

/* Status line, headers and body (none for HEAD) into c->out; then sent. */
static void conn_answer(struct scrape_conn *c, int status, const char *type, const char *body,
                        size_t body_len, bool head_only)
{
	char hdr[256];
	int hn = snprintf(hdr, sizeof(hdr),
	                  "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
	                  "Cache-Control: no-store\r\n%sConnection: close\r\n\r\n",
	                  status, http_reason(status), type, body_len,
	                  status == 405 ? "Allow: GET, HEAD\r\n" : "");
	size_t n = (size_t)hn + (head_only ? 0 : body_len);
	c->out = malloc(n);
	if (!c->out) {
		conn_close(c);
		return;
	}
	memcpy(c->out, hdr, (size_t)hn);
	if (!head_only)
		memcpy(c->out + hn, body, body_len);
	c->out_len = n;
	conn_flush(c);
}

static void conn_text(struct scrape_conn *c, int status, const char *text, bool head_only)
{
	conn_answer(c, status, "text/plain; charset=utf-8", text, strlen(text), head_only);
}

static bool path_is(struct http_slice path, const char *want)
{
	return path.len == strlen(want) && memcmp(path.p, want, path.len) == 0;
}

/* A whole head of head_len bytes: what it asks for, answered. */
static void conn_route(struct scrape_conn *c, size_t head_len)
{
	struct http_request req;
	int rc = http_parse_request(c->in, head_len, &req);
	if (rc < 0) {
		conn_text(c, http_rc_status(rc), "bad request\n", false);
		return;
	}
	const char *q = memchr(req.target.p, '?', req.target.len);
	struct http_slice path = {req.target.p, q ? (size_t)(q - req.target.p) : req.target.len};
	bool metrics = path_is(path, "/metrics");
	bool health = path_is(path, "/health") || path_is(path, "/healthz");
	bool get = http_slice_eq(req.method, "GET"), head = http_slice_eq(req.method, "HEAD");
	if (!metrics && !health) {
		conn_text(c, 404, "not found\n", head);
		return;
	}
	if (!get && !head) {
		conn_text(c, 405, "method not allowed\n", false);
		return;
	}
	if (health) {
		bool draining = c->sc->ops->draining(c->sc->arg);
		conn_text(c, draining ? 503 : 200, draining ? "draining\n" : "ok\n", head);
		return;
	}
	size_t len;
	char *body = render(c->sc, &len);
	if (!body) {
		conn_text(c, 500, "out of memory\n", head);
		return;
	}
	conn_answer(c, 200, PROM_CONTENT_TYPE, body, len, head);
	free(body);
}

static void conn_on_io(struct rx *rx, struct rx_io *io, unsigned events)
{
	struct scrape_conn *c = (struct scrape_conn *)((char *)io - offsetof(struct scrape_conn, io));
	(void)rx;
	(void)events;
	if (c->out) {
		conn_flush(c);
		return;
	}
	long n = net_read(c->fd, c->in + c->len, sizeof(c->in) - c->len);
	if (n == -EAGAIN)
		return;
	if (n <= 0) {
		conn_close(c);
		return;
	}
	c->len += (size_t)n;
	int end = http_head_end(c->in, c->len, &c->scanned);
	/* A blank line of bare LFs ends no head proto/http.c accepts: say so
	 * now instead of at the deadline. */
	bool bare_lf = end == HTTP_NEED_MORE && memmem(c->in, c->len, "\n\n", 2);
	if (end == HTTP_NEED_MORE && c->len < sizeof(c->in) && !bare_lf)
		return;
	if (bare_lf) {
		conn_text(c, 400, "bad request\n", false);
		return;
	}
	if (end <= 0) /* the buffer is full without a whole head */
		conn_text(c, end == HTTP_NEED_MORE ? 431 : http_rc_status(end), "head too large\n",
		          false);
	else
		conn_route(c, (size_t)end);
}

static void conn_on_deadline(struct rx *rx, struct rx_timer *t)
{
	struct scrape_conn *c =
		(struct scrape_conn *)((char *)t - offsetof(struct scrape_conn, deadline));
	(void)rx;
	conn_close(c);
}

/* At the cap the oldest connection makes room: silent clients cannot
 * keep a load balancer's health check out for their whole deadline. */
static void scrape_make_room(struct scrape *sc)
{
	if (sc->nconns < SCRAPE_MAX_CONNS)
		return;
	struct scrape_conn *oldest = sc->conns;
	while (oldest->next)
		oldest = oldest->next;
	conn_close(oldest);
}

static void scrape_take(struct scrape *sc, int fd)
{
	scrape_make_room(sc);
	struct scrape_conn *c = calloc(1, sizeof(*c));
	if (!c || rx_io_add(sc->rx, &c->io, fd, conn_on_io) < 0) {
		free(c);
		close(fd); /* out of memory: the scraper retries, the reactor stays free */
		return;
	}
	c->sc = sc;
	c->fd = fd;
	c->next = sc->conns;
	if (sc->conns)
		sc->conns->prev = c;
	sc->conns = c;
	sc->nconns++;
	rx_io_want(sc->rx, &c->io, RX_READ);
	rx_timer_arm(sc->rx, &c->deadline, rx_now(sc->rx) + SCRAPE_DEADLINE_MS, conn_on_deadline);
}

static void scrape_on_accept(struct rx *rx, struct rx_io *io, unsigned events)
{
	struct scrape *sc = (struct scrape *)((char *)io - offsetof(struct scrape, io));
	(void)rx;
	(void)events;
	for (int i = 0; i < 8; i++) { /* other workers share this socket: EAGAIN is normal */
		struct net_addr peer;
		int fd = net_accept(sc->io.fd, &peer);
		if (fd < 0)
			return;
		scrape_take(sc, fd);
	}
}

struct scrape *scrape_start(struct rx *rx, int lfd, const struct scrape_ops *ops, void *arg)
{
	struct scrape *sc = calloc(1, sizeof(*sc));
	if (!sc)
		return NULL;
	sc->rx = rx;
	sc->ops = ops;
	sc->arg = arg;
	if (rx_io_add(rx, &sc->io, lfd, scrape_on_accept) < 0) {
		free(sc);
		return NULL;
	}
	rx_io_want(rx, &sc->io, RX_READ);
	return sc;
}

void scrape_stop(struct scrape *sc)
{
	if (!sc)
		return;
	while (sc->conns)
		conn_close(sc->conns);
	rx_io_del(sc->rx, &sc->io);
	free(sc);
}
