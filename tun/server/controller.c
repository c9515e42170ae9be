/* controller.c — the controller's HTTP side: POST with X-API-KEY (SHA-256
 * compared in constant time, before the body is looked at), a body of at
 * most CTL_MAX_BODY read whole (413 from Content-Length alone, nothing
 * read), one command applied all or nothing, one JSON answer in
 * mos-tls-tunnel's form, then close. Plain HTTP: it is meant for loopback. */
#include "tun/server/controller.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"
#include "core/net.h"
#include "proto/ctl.h"
#include "proto/http.h"
#include "proto/push.h"
#include "proto/text.h"

#define CTL_DEADLINE_MS 10000  /* the whole request within 10 s */
#define CTL_HEAD_MAX HTTP_MAX_HEAD

struct controller {
	struct rx *rx;
	struct rx_io io;
	int fd;
	struct conn_list *conns;
	const struct server_config *cfg;
	struct users *users;
};

struct ctl_conn {
	struct conn_link link;
	struct controller *ctl;
	struct rx_io io;
	struct rx_timer timer;
	int fd;
	size_t head_len, have;    /* head bytes; bytes in head[] */
	size_t body_len, body_have;
	char *body;               /* malloc(body_len): only once the head allowed it */
	char *out;                /* the answer (malloc), then written out */
	size_t out_len, out_off;
	char head[CTL_HEAD_MAX];
};

#define CONN_OF(field, p) ((struct ctl_conn *)((char *)(p) - offsetof(struct ctl_conn, field)))

static void conn_destroy(struct ctl_conn *k)
{
	rx_timer_cancel(k->ctl->rx, &k->timer);
	rx_io_del(k->ctl->rx, &k->io);
	close(k->fd);
	free(k->body);
	free(k->out);
	conn_list_remove(k->ctl->conns, &k->link);
	free(k);
}

static void conn_destroy_link(struct conn_link *l)
{
	conn_destroy((struct ctl_conn *)l);
}

/* The one answer: status and a JSON body (mos-tls-tunnel's fields). */
static void conn_answer(struct ctl_conn *k, int status, bool ok, const char *why, size_t users)
{
	char body[512], head[256];
	size_t bn = ctl_answer(body, sizeof(body), ok, why, users);
	struct text_out o = {head, sizeof(head), 0, false};
	text_put_str(&o, "HTTP/1.1 ");
	text_put_uint(&o, (unsigned)status);
	text_put_str(&o, " ");
	text_put_str(&o, http_reason(status));
	text_put_str(&o, "\r\nContent-Type: application/json\r\nContent-Length: ");
	text_put_uint(&o, bn);
	text_put_str(&o, "\r\nConnection: close\r\n\r\n");
	size_t hn = text_result(&o);
	free(k->out);
	k->out = malloc(hn + bn);
	if (!k->out)
		return;
	memcpy(k->out, head, hn);
	memcpy(k->out + hn, body, bn);
	k->out_len = hn + bn;
	k->out_off = 0;
}

/* A path another endpoint answers first: a user there would never be
 * reached. The index of the first such user, or SIZE_MAX. */
static size_t taken_path(const struct server_config *cfg, const struct ctl_cmd *c)
{
	const struct push_config *p = &cfg->push;
	const char *taken[] = {p->path, p->demo_path, p->path && p->sio ? PUSH_SIO_PATH : NULL,
	                       cfg->echo_path, cfg->ping_name ? SERVER_PING_PATH : NULL};
	struct ctl_user u;
	size_t at = 0;
	for (size_t i = 0; c->op == CTL_OP_ADD && ctl_next_user(c, &at, &u); i++) {
		for (size_t t = 0; t < sizeof(taken) / sizeof(taken[0]); t++)
			if (taken[t] && strcmp(taken[t], u.path) == 0)
				return i;
		size_t an = p->admin_path ? strlen(p->admin_path) : 0;
		if (an && strncmp(u.path, p->admin_path, an) == 0)
			return i;
	}
	return SIZE_MAX;
}

static void conn_apply(struct ctl_conn *k)
{
	struct ctl_cmd c;
	size_t bad, at, count = 0;
	char why[200];
	enum ctl_rc rc = ctl_parse(k->body, k->body_len, &c, &bad);
	if (rc != CTL_OK) {
		if (c.op == CTL_OP_ADD || c.op == CTL_OP_DELETE)
			snprintf(why, sizeof(why), "%s (args_bunch[%zu])", ctl_strerror(rc), bad);
		else
			snprintf(why, sizeof(why), "%s", ctl_strerror(rc));
		log_info("c%u controller: refused: %s", k->link.id, why);
		conn_answer(k, 400, false, why, users_count(k->ctl->users));
		return;
	}
	size_t taken = taken_path(k->ctl->cfg, &c);
	if (taken != SIZE_MAX) {
		snprintf(why, sizeof(why), "args_bunch[%zu]: another endpoint answers that path",
		         taken);
		conn_answer(k, 409, false, why, users_count(k->ctl->users));
		return;
	}
	enum users_rc ur = users_apply(k->ctl->users, &c, &at, &count);
	if (ur == USERS_EXISTS) {
		snprintf(why, sizeof(why), "args_bunch[%zu]: the path is a user already (delete it first)",
		         at);
		conn_answer(k, 409, false, why, count);
		return;
	}
	if (ur != USERS_OK) {
		conn_answer(k, 503, false, ur == USERS_FULL ? "too many users" : "the user table is busy",
		            count);
		return;
	}
	static const char *const verbs[] = {"", "added", "deleted", "removed", ""};
	if (c.op != CTL_OP_PING)
		log_info("c%u controller: %zu users %s (%zu now)", k->link.id,
		         c.op == CTL_OP_ADD ? c.nusers : at, verbs[c.op], count);
	conn_answer(k, 200, true, "", count);
}

/* The head is whole: 405, 401, 411, 413 or the body's size. */
static void conn_head(struct ctl_conn *k)
{
	struct http_request req;
	if (http_parse_request(k->head, k->head_len, &req) < 0) {
		conn_answer(k, 400, false, "not an HTTP request", 0);
		return;
	}
	const struct http_header *key = http_find(req.headers, req.nheaders, "X-API-KEY");
	/* The hash is compared whatever the key's length: no early exit to time. */
	if (!push_key_match(k->ctl->cfg->controller_key_hash, key ? key->value.p : "",
	                    key ? key->value.len : 0)) {
		log_info("c%u controller: %s X-API-KEY: 401", k->link.id, key ? "a wrong" : "no");
		conn_answer(k, 401, false, "missing or wrong X-API-KEY", 0);
		return;
	}
	if (!(req.method.len == 4 && memcmp(req.method.p, "POST", 4) == 0)) {
		conn_answer(k, 405, false, "POST a JSON command", 0);
		return;
	}
	const struct http_header *cl = http_find(req.headers, req.nheaders, "Content-Length");
	unsigned long long n = 0;
	bool digits = cl && cl->value.len > 0 && cl->value.len <= 12;
	for (size_t i = 0; digits && i < cl->value.len; i++) {
		digits = cl->value.p[i] >= '0' && cl->value.p[i] <= '9';
		n = n * 10 + (unsigned)(cl->value.p[i] - '0');
	}
	if (!digits || http_find(req.headers, req.nheaders, "Transfer-Encoding")) {
		conn_answer(k, 411, false, "send a Content-Length", 0);
		return;
	}
	if (n > CTL_MAX_BODY) {
		log_info("c%u controller: a %llu-byte body: 413", k->link.id, n);
		conn_answer(k, 413, false, "the body is over 2 MiB", 0);
		return;
	}
	k->body_len = (size_t)n;
	k->body = malloc(k->body_len ? k->body_len : 1);
	if (!k->body) {
		conn_answer(k, 503, false, "out of memory", 0);
		return;
	}
	/* Bytes after the head already read are the body's start. */
	size_t extra = k->have - k->head_len;
	k->body_have = extra < k->body_len ? extra : k->body_len;
	memcpy(k->body, k->head + k->head_len, k->body_have);
}

/* Reads what is there: -1 when the peer is gone. */
static int conn_read(struct ctl_conn *k)
{
	for (;;) {
		char *dst = k->body ? k->body + k->body_have : k->head + k->have;
		size_t room = k->body ? k->body_len - k->body_have : sizeof(k->head) - k->have;
		if (room == 0)
			break;
		long n = net_read(k->fd, dst, room);
		if (n == -EAGAIN)
			return 0;
		if (n <= 0)
			return -1;
		if (k->body) {
			k->body_have += (size_t)n;
			continue;
		}
		k->have += (size_t)n;
		size_t scanned = 0;
		int end = http_head_end(k->head, k->have, &scanned);
		if (end == HTTP_ERR_TOO_BIG) {
			conn_answer(k, 431, false, "the head is too large", 0);
			return 0;
		}
		if (end > 0) {
			k->head_len = (size_t)end;
			conn_head(k);
			if (k->out)
				return 0;
		}
	}
	if (k->body && k->body_have == k->body_len && !k->out)
		conn_apply(k);
	return 0;
}

static void conn_on_io(struct rx *rx, struct rx_io *io, unsigned events)
{
	struct ctl_conn *k = CONN_OF(io, io);
	(void)rx;
	if (!k->out && (events & RX_READ) && conn_read(k) < 0) {
		conn_destroy(k);
		return;
	}
	if (k->out && k->out_off < k->out_len) {
		long n = net_write(k->fd, k->out + k->out_off, k->out_len - k->out_off);
		if (n < 0 && n != -EAGAIN) {
			conn_destroy(k);
			return;
		}
		if (n > 0)
			k->out_off += (size_t)n;
	}
	if (k->out && k->out_off == k->out_len) {
		/* Unread body bytes (a 413) would turn our close into a RST that
		 * can eat the answer: half-close, and the deadline ends the rest. */
		shutdown(k->fd, SHUT_WR);
		char sink[4096];
		long n;
		while ((n = net_read(k->fd, sink, sizeof(sink))) > 0)
			;
		if (n != -EAGAIN) {
			conn_destroy(k); /* the peer closed too: done */
			return;
		}
	}
	rx_io_want(k->ctl->rx, &k->io, k->out && k->out_off < k->out_len ? RX_WRITE : RX_READ);
}

static void conn_on_timer(struct rx *rx, struct rx_timer *t)
{
	(void)rx;
	conn_destroy(CONN_OF(timer, t));
}

static void ctl_on_accept(struct rx *rx, struct rx_io *io, unsigned events)
{
	struct controller *c = (struct controller *)((char *)io - offsetof(struct controller, io));
	(void)events;
	for (int i = 0; i < 16; i++) {
		struct net_addr peer;
		int fd = net_accept(c->fd, &peer);
		if (fd < 0)
			return;
		struct ctl_conn *k = calloc(1, sizeof(*k));
		if (!k || rx_io_add(rx, &k->io, fd, conn_on_io) < 0) {
			free(k);
			close(fd);
			return;
		}
		k->ctl = c;
		k->fd = fd;
		conn_list_add(c->conns, &k->link, conn_destroy_link);
		rx_timer_arm(rx, &k->timer, rx_now(rx) + CTL_DEADLINE_MS, conn_on_timer);
		rx_io_want(rx, &k->io, RX_READ);
	}
}

struct controller *controller_start(struct rx *rx, struct conn_list *conns,
                                    const struct server_config *cfg, struct users *users)
{
	char a[NET_ADDR_STRLEN];
	struct controller *c = calloc(1, sizeof(*c));
	if (!c) {
		log_error("controller: out of memory");
		return NULL;
	}
	c->rx = rx;
	c->conns = conns;
	c->cfg = cfg;
	c->users = users;
	c->fd = net_listen(&cfg->controller_addr, 64, cfg->workers > 1);
	if (c->fd < 0 || rx_io_add(rx, &c->io, c->fd, ctl_on_accept) < 0) {
		log_error("cannot listen on --controller %s: %s",
		          net_addr_str(&cfg->controller_addr, a, sizeof(a)),
		          strerror(c->fd < 0 ? -c->fd : EINVAL));
		if (c->fd >= 0)
			close(c->fd);
		free(c);
		return NULL;
	}
	rx_io_want(rx, &c->io, RX_READ);
	log_info("controller listening on %s", net_addr_str(&cfg->controller_addr, a, sizeof(a)));
	return c;
}

void controller_stop(struct controller *c)
{
	if (!c)
		return;
	rx_io_del(c->rx, &c->io);
	close(c->fd);
	free(c);
}
