/* dgram.c — datagrams <-> WebSocket messages for one UDP flow. A datagram
 * becomes one frame built straight into the out buffer (masked there in
 * client role); a message is handed on from the receive buffer when it came
 * whole, else gathered in a buffer that exists only while it is partial.
 * What does not fit is dropped and counted: UDP's own answer to a full
 * queue, and the bound on memory when a side floods. */
#include "tun/dgram.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"
#include "core/rand.h"
#include "proto/seal.h"

#define DGRAM_KEEPALIVE_MS 30000
#define DGRAM_PONG_TIMEOUT_MS 15000
#define DGRAM_READ_TURNS 16  /* reads per readiness, so one flow cannot starve the rest */
#define DGRAM_UDP_BATCH 64   /* datagrams per readiness of the own socket */
/* --encrypt: a record (datagram and tag) stays within DGRAM_MAX, so the
 * receiver's bound on a message is the same sealed or not. */
#define DGRAM_SEALED_MAX (DGRAM_MAX - SEAL_TAG_LEN)

/* --encrypt (proto/seal.h): every datagram is one record, keyed from the
 * client's request nonce and the server's first message. Datagrams that
 * come before the key wait here in plaintext, framed later: exists only for
 * sealed flows, so plain ones stay as small as they were. */
struct dgram_seal {
	struct seal s;
	const uint8_t *base;        /* auth_keys.payload */
	uint8_t cnonce[16];
	bool keyed;
	struct buf wait;            /* [u16 length][datagram]... until keyed */
};

static void dgram_free(struct dgram *d)
{
	rx_timer_cancel(d->rx, &d->timer);
	if (d->s.fd >= 0) {
		rx_io_del(d->rx, &d->io);
		stream_close(&d->s);
	}
	if (d->ufd >= 0) {
		rx_io_del(d->rx, &d->uio);
		close(d->ufd);
	}
	buf_free(&d->in);
	buf_free(&d->out);
	buf_free(&d->msg);
	if (d->seal) {
		seal_wipe(&d->seal->s);
		buf_free(&d->seal->wait);
		free(d->seal);
	}
	conn_list_remove(d->conns, &d->link);
	free(d);
}

/* Tells the owner, then frees. */
static void dgram_end(struct dgram *d, enum tunnel_err err, const char *why)
{
	if (d->ops->on_close)
		d->ops->on_close(d, err, why);
	dgram_free(d);
}

static void dgram_destroy(struct conn_link *link)
{
	dgram_end((struct dgram *)link, TUNNEL_OK, "stopping");
}

/* ---- writing ---- */

/* Appends one whole frame, or nothing when it does not fit; sealed: the
 * payload encrypted in place there and its tag behind it. */
static int frame_out(struct dgram *d, enum ws_opcode op, const uint8_t *p, size_t n, bool sealed)
{
	uint8_t key[4];
	const uint8_t *mask = NULL;
	size_t tag = sealed ? SEAL_TAG_LEN : 0;
	if (buf_alloc(&d->out) < 0 || buf_room(&d->out) < WS_MAX_HEADER + n + tag)
		return -1;
	if (d->parser.role == WS_ROLE_CLIENT) {
		rand_bytes(key, sizeof(key));
		mask = key;
	}
	uint8_t *at = buf_tail(&d->out);
	size_t h = ws_frame_header(at, op, true, n + tag, mask);
	if (n)
		memcpy(at + h, p, n);
	if (sealed && seal_encrypt(&d->seal->s, at + h, n) < 0)
		return -1;
	if (mask)
		ws_mask(at + h, n + tag, key, 0);
	buf_produced(&d->out, h + n + tag);
	return 0;
}

static int queue_frame(struct dgram *d, enum ws_opcode op, const uint8_t *p, size_t n)
{
	return frame_out(d, op, p, n, false);
}

/* One datagram as a message: sealed under --encrypt. 0, or -1 when it
 * does not fit (the caller counts the drop). */
static int queue_datagram(struct dgram *d, const uint8_t *p, size_t n)
{
	if (n > (d->seal ? DGRAM_SEALED_MAX : DGRAM_MAX))
		return -1;
	if (frame_out(d, WS_OP_BINARY, p, n, d->seal != NULL) < 0)
		return -1;
	d->up++;
	return 0;
}

/* --encrypt, before the key: the datagram waits in plaintext. */
static int wait_for_key(struct dgram *d, const uint8_t *p, size_t n)
{
	struct buf *w = &d->seal->wait;
	uint8_t len[2] = {(uint8_t)(n >> 8), (uint8_t)n};
	if (n > DGRAM_SEALED_MAX || buf_alloc(w) < 0 || buf_room(w) < 2 + n) {
		d->dropped++;
		return -1;
	}
	buf_append(w, len, 2);
	buf_append(w, p, n);
	return 0;
}

/* Derives the keys from the server's nonce, then seals what waited. */
static void seal_keyed(struct dgram *d, const uint8_t snonce[SEAL_NONCE_LEN])
{
	struct dgram_seal *sl = d->seal;
	struct buf *w = &sl->wait;
	seal_init(&sl->s, sl->base, sl->cnonce, snonce, d->parser.role == WS_ROLE_CLIENT);
	sl->keyed = true;
	while (buf_len(w) >= 2) {
		const uint8_t *p = buf_data(w);
		size_t n = (size_t)p[0] << 8 | p[1];
		if (queue_datagram(d, p + 2, n) < 0)
			d->dropped++;
		buf_consume(w, 2 + n);
	}
	buf_free(w);
}

/* Writes what may go now: only the preamble while a held client waits. */
static int dgram_flush(struct dgram *d)
{
	while (buf_len(&d->out) && d->s.fd >= 0) {
		size_t may = buf_len(&d->out);
		if (d->handshake && d->hold)
			may = d->preamble_left;
		if (may == 0)
			return 0;
		long n = stream_write(&d->s, buf_data(&d->out), may);
		if (n == -EAGAIN)
			return 0;
		if (n < 0)
			return -1;
		buf_consume(&d->out, (size_t)n);
		d->preamble_left -= (uint32_t)((size_t)n < d->preamble_left ? (size_t)n : d->preamble_left);
	}
	return 0;
}

static void dgram_want(struct dgram *d)
{
	if (d->s.fd < 0)
		return;
	unsigned want = RX_READ;
	if (buf_len(&d->out) && !(d->handshake && d->hold && d->preamble_left == 0))
		want |= RX_WRITE;
	buf_release_if_empty(&d->in);
	buf_release_if_empty(&d->out);
	rx_io_want(d->rx, &d->io, stream_interest(&d->s, want));
}

int dgram_send(struct dgram *d, const uint8_t *p, size_t n)
{
	size_t queued = buf_len(&d->out);
	d->last_data_ms = rx_now(d->rx);
	if (d->seal && !d->seal->keyed)
		return wait_for_key(d, p, n);
	if (queue_datagram(d, p, n) < 0) {
		d->dropped++;
		return -1;
	}
	/* Written at once when nothing waited (latency); behind a backlog it
	 * goes with the next writable turn, many frames per write. A write
	 * error shows again at the next readiness, which ends d. */
	if (queued == 0)
		dgram_flush(d);
	dgram_want(d);
	return 0;
}

void dgram_close(struct dgram *d, const char *why)
{
	uint8_t code[2] = {WS_CLOSE_NORMAL >> 8, WS_CLOSE_NORMAL & 0xff};
	if (d->s.fd >= 0 && !d->handshake && queue_frame(d, WS_OP_CLOSE, code, 2) == 0)
		dgram_flush(d); /* best effort: the peer also sees the FIN */
	dgram_end(d, TUNNEL_OK, why);
}

void dgram_fail(struct dgram *d, enum tunnel_err err)
{
	dgram_end(d, err, tunnel_err_text(err));
}

/* ---- reading ---- */

static void deliver(struct dgram *d, const uint8_t *p, size_t n)
{
	d->last_data_ms = rx_now(d->rx);
	d->down++;
	if (d->ufd < 0) {
		d->ops->on_datagram(d, p, n);
		return;
	}
	/* EAGAIN: the socket buffer is full; ECONNREFUSED: an ICMP error for an
	 * earlier datagram. Either way this one is lost, as UDP would lose it. */
	if (net_sendto2(d->ufd, p, n, NULL, 0, NULL) < 0)
		d->dropped++;
}

/* --encrypt: a whole message is a record (the client's first one is the
 * server's nonce); opened in place, then delivered. 0, or -1 when d is gone. */
static int deliver_sealed(struct dgram *d, uint8_t *p, size_t n)
{
	if (!d->seal->keyed) {
		if (n != SEAL_NONCE_LEN) {
			log_warn("c%u --encrypt: the server sent no record nonce (is --encrypt on at "
			         "both ends?): closing", d->link.id);
			return dgram_end(d, TUNNEL_ERR_ENCRYPT, "no record nonce"), -1;
		}
		seal_keyed(d, p);
		return 0;
	}
	long len = seal_open(&d->seal->s, p, n);
	if (len < 0) {
		log_warn("c%u --encrypt: a datagram failed authentication (tampered on the way, or "
		         "the other side has another key): closing", d->link.id);
		return dgram_end(d, TUNNEL_OK, "a record failed authentication"), -1;
	}
	deliver(d, p, (size_t)len);
	return 0;
}

static int deliver_message(struct dgram *d, uint8_t *p, size_t n)
{
	if (d->seal)
		return deliver_sealed(d, p, n);
	deliver(d, p, n);
	return 0;
}

/* 0 to go on, -1 when d is gone. */
static int on_data(struct dgram *d, const struct ws_event *ev)
{
	if (ev->first && ev->fin)
		return deliver_message(d, ev->data, ev->len); /* whole in one slice: no copy */
	/* The parser bounds a message at DGRAM_MAX, which fits one buffer. */
	if (ev->len && buf_append(&d->msg, ev->data, ev->len) != ev->len)
		return dgram_end(d, TUNNEL_OK, "out of memory"), -1;
	if (!ev->fin)
		return 0;
	int rc = deliver_message(d, buf_len(&d->msg) ? buf_data(&d->msg) : ev->data,
	                         buf_len(&d->msg));
	if (rc == 0)
		buf_free(&d->msg);
	return rc;
}

static int on_event(struct dgram *d, const struct ws_event *ev)
{
	switch (ev->type) {
	case WS_EV_DATA:
		return on_data(d, ev);
	case WS_EV_PING:
		queue_frame(d, WS_OP_PONG, ev->data, ev->len);
		return 0;
	case WS_EV_PONG:
		return 0;
	case WS_EV_CLOSE:
		dgram_close(d, "closed by the peer");
		return -1;
	}
	return 0;
}

static int dgram_parse(struct dgram *d)
{
	while (buf_len(&d->in)) {
		size_t used = 0;
		struct ws_event ev;
		enum ws_rc rc = ws_parser_feed(&d->parser, buf_data(&d->in), buf_len(&d->in), &used, &ev);
		if (rc < 0) {
			uint16_t c = ws_rc_close_code(rc);
			uint8_t code[2] = {(uint8_t)(c >> 8), (uint8_t)c};
			if (c && queue_frame(d, WS_OP_CLOSE, code, 2) == 0)
				dgram_flush(d);
			dgram_end(d, TUNNEL_OK, ws_strerror(rc));
			return -1;
		}
		if (rc == WS_NEED_MORE) {
			buf_consume(&d->in, used);
			return 0;
		}
		if (on_event(d, &ev) < 0)
			return -1;
		buf_consume(&d->in, used);
	}
	return 0;
}

/* Client role: the server's answer, then frames. */
static int dgram_handshake(struct dgram *d)
{
	const char *p = (const char *)buf_data(&d->in);
	int end = http_head_end(p, buf_len(&d->in), &d->head_scanned);
	if (end == HTTP_NEED_MORE)
		return 0;
	struct http_response resp;
	enum tunnel_err err = TUNNEL_ERR_NOT_WSFERRY;
	if (end > 0 && http_parse_response(p, (size_t)end, &resp) > 0)
		err = tunnel_response_err(&resp, &d->expect);
	if (err != TUNNEL_OK)
		return dgram_end(d, err, tunnel_err_text(err)), -1;
	buf_consume(&d->in, (size_t)end);
	d->handshake = false;
	return 0;
}

static void dgram_on_io(struct rx *rx, struct rx_io *io, unsigned events)
{
	struct dgram *d = (struct dgram *)((char *)io - offsetof(struct dgram, io));
	if (stream_pump(&d->s, events) < 0)
		return dgram_end(d, d->handshake ? TUNNEL_ERR_TLS : TUNNEL_OK,
		                 stream_error(&d->s) ? stream_error(&d->s) : "TLS failed");
	bool readable = (events & RX_READ) || d->s.tls;
	for (int i = 0; i < DGRAM_READ_TURNS && readable; i++) {
		if (buf_alloc(&d->in) < 0)
			return dgram_end(d, TUNNEL_ERR_GENERAL, "out of memory");
		size_t room = buf_room(&d->in);
		long n = room ? stream_read(&d->s, buf_tail(&d->in), room) : -ENOBUFS;
		if (n == 0 || (n < 0 && n != -EAGAIN)) {
			enum tunnel_err err = !d->handshake ? TUNNEL_OK
			                      : n == 0      ? TUNNEL_ERR_SERVER_SILENT
			                                    : TUNNEL_ERR_SERVER_DOWN;
			return dgram_end(d, err, n == 0 ? "closed by the peer" : "connection lost");
		}
		if (n > 0) {
			buf_produced(&d->in, (size_t)n);
			d->last_rx_ms = rx_now(rx);
			d->ping_outstanding = false;
		}
		if (d->handshake && dgram_handshake(d) < 0)
			return;
		if (!d->handshake && dgram_parse(d) < 0)
			return;
		readable = n > 0 || stream_readable_now(&d->s);
	}
	if (dgram_flush(d) < 0)
		return dgram_end(d, d->handshake ? TUNNEL_ERR_SERVER_DOWN : TUNNEL_OK, "connection lost");
	dgram_want(d);
}

/* Socket mode: datagrams from the flow's own UDP socket. */
static void dgram_on_udp(struct rx *rx, struct rx_io *io, unsigned events)
{
	struct dgram *d = (struct dgram *)((char *)io - offsetof(struct dgram, uio));
	uint8_t pkt[DGRAM_MAX + 1];
	(void)rx;
	(void)events;
	for (int i = 0; i < DGRAM_UDP_BATCH; i++) {
		long n = net_recvfrom(d->ufd, pkt, sizeof(pkt), NULL);
		if (n == -EAGAIN)
			break;
		if (n < 0)
			continue; /* an ICMP error for an earlier datagram: UDP goes on */
		dgram_send(d, pkt, (size_t)n);
	}
}

/* ---- time ---- */

static uint64_t next_deadline(const struct dgram *d)
{
	uint64_t at = d->last_rx_ms + d->keepalive_ms + (d->ping_outstanding ? d->pong_timeout_ms : 0);
	if (d->idle_ms && d->last_data_ms + d->idle_ms < at)
		at = d->last_data_ms + d->idle_ms;
	return at;
}

/* Deadlines are re-checked here rather than re-armed per datagram, so
 * traffic does not reshuffle the timer heap. */
static void dgram_on_timer(struct rx *rx, struct rx_timer *t)
{
	struct dgram *d = (struct dgram *)((char *)t - offsetof(struct dgram, timer));
	uint64_t now = rx_now(rx);
	/* Idle counts from the attach: a flow still reaching its server stays. */
	if (d->idle_ms && d->s.fd >= 0 && now - d->last_data_ms >= d->idle_ms)
		return dgram_close(d, "idle");
	if (d->ping_outstanding && now - d->last_rx_ms >= d->keepalive_ms + d->pong_timeout_ms)
		return dgram_end(d, TUNNEL_OK, "peer did not answer a ping");
	if (!d->ping_outstanding && d->s.fd >= 0 && !d->handshake &&
	    now - d->last_rx_ms >= d->keepalive_ms) {
		d->ping_outstanding = true;
		queue_frame(d, WS_OP_PING, NULL, 0);
		dgram_flush(d);
		dgram_want(d);
	}
	uint64_t at = next_deadline(d);
	rx_timer_arm(rx, t, at > now ? at : now + 1000, dgram_on_timer);
}

/* ---- setup ---- */

struct dgram *dgram_new(struct rx *rx, struct conn_list *conns, unsigned id, enum ws_role role,
                        const struct dgram_opts *o, const struct dgram_ops *ops, void *owner)
{
	struct dgram *d = calloc(1, sizeof(*d));
	if (!d)
		return NULL;
	d->rx = rx;
	d->conns = conns;
	d->s.fd = -1;
	d->ufd = -1;
	d->ops = ops;
	d->owner = owner;
	d->keepalive_ms = o->keepalive_ms ? o->keepalive_ms : DGRAM_KEEPALIVE_MS;
	d->pong_timeout_ms = o->pong_timeout_ms ? o->pong_timeout_ms : DGRAM_PONG_TIMEOUT_MS;
	d->idle_ms = o->idle_ms;
	d->born_ms = d->last_rx_ms = d->last_data_ms = rx_now(rx);
	ws_parser_init(&d->parser, role, DGRAM_MAX);
	conn_list_add_as(conns, &d->link, dgram_destroy, id, NULL);
	d->link.lingers = true; /* a UDP tunnel may finish while its server drains */
	rx_timer_arm(rx, &d->timer, next_deadline(d), dgram_on_timer);
	return d;
}

void dgram_own_socket(struct dgram *d, int fd)
{
	d->ufd = fd;
	rx_io_add(d->rx, &d->uio, fd, dgram_on_udp);
	rx_io_want(d->rx, &d->uio, RX_READ);
}

/* Puts the preamble in front of the frames kept so far; frames that no
 * longer fit beside it are dropped (counted). */
static int put_preamble(struct dgram *d, const void *p, size_t n)
{
	if (n == 0)
		return 0;
	if (buf_alloc(&d->out) < 0 || n > BUF_SIZE)
		return -1;
	size_t keep = buf_len(&d->out);
	if (keep > BUF_SIZE - n) {
		d->dropped++; /* at least one; the count is a floor here */
		keep = 0;
		buf_consume(&d->out, buf_len(&d->out));
	}
	memmove(d->out.mem + n, buf_data(&d->out), keep);
	memcpy(d->out.mem, p, n);
	d->out.off = 0;
	d->out.len = (uint32_t)(n + keep);
	d->preamble_left = (uint32_t)n;
	return 0;
}

int dgram_seal(struct dgram *d, const uint8_t *base, const uint8_t *cnonce)
{
	if (!d->seal && !(d->seal = calloc(1, sizeof(*d->seal))))
		return -1;
	d->seal->base = base;
	if (cnonce)
		memcpy(d->seal->cnonce, cnonce, sizeof(d->seal->cnonce));
	return 0;
}

/* --encrypt, server role: its nonce goes first, right behind the 101; the
 * datagrams that waited follow, sealed. */
static int server_seal_start(struct dgram *d)
{
	uint8_t snonce[SEAL_NONCE_LEN];
	if (!d->seal || d->parser.role == WS_ROLE_CLIENT)
		return 0;
	if (rand_bytes(snonce, sizeof(snonce)) < 0 || queue_frame(d, WS_OP_BINARY, snonce, sizeof(snonce)) < 0)
		return -1;
	seal_keyed(d, snonce);
	return 0;
}

int dgram_attach(struct dgram *d, struct stream *s, const void *preamble, size_t n,
                 struct buf *in, const struct tunnel_expect *expect, bool hold)
{
	d->s = *s;
	s->fd = -1;
	if (in) {
		d->in = *in;
		*in = (struct buf){0};
	}
	d->handshake = d->parser.role == WS_ROLE_CLIENT;
	d->hold = hold;
	if (expect)
		d->expect = *expect;
	if (put_preamble(d, preamble, n) < 0 || server_seal_start(d) < 0 ||
	    rx_io_add(d->rx, &d->io, d->s.fd, dgram_on_io) < 0)
		return dgram_end(d, TUNNEL_ERR_GENERAL, "out of memory"), -1;
	d->last_rx_ms = rx_now(d->rx);
	/* Server role: frames pipelined behind the request are already here. */
	if (!d->handshake && buf_len(&d->in) && dgram_parse(d) < 0)
		return -1;
	rx_io_want(d->rx, &d->io, stream_interest(&d->s, RX_READ | RX_WRITE));
	return 0;
}
