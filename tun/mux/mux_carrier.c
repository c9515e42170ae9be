/* mux_carrier.c — the --mux hot path: one carrier connection, many streams.
 * Up (stream socket -> carrier): one read lands in the carrier's queue
 * behind room for the WebSocket and mux headers, which are written in
 * front of it in place (masked in client role, RFC 6455 §5.3): no copy.
 * Server role over plain ws:// sends unmasked frames: towards a client
 * that takes big DATA (TUNNEL_FLAG_MUX_BIG) a payload of up to 256 KiB goes
 * stream socket -> pipe -> carrier socket behind its headers, as relay.c
 * does for a single tunnel, whenever nothing is queued before it. (With
 * 64 KiB frames the three syscalls a frame cost more than the copy path's
 * batched writes: bench/RESULTS-mux.md.)
 * Down (carrier -> stream socket): frames are parsed in the receive buffer
 * and each DATA slice is written straight from there (client role over
 * plain ws://: big payloads spliced, socket -> pipe -> socket); only what the socket
 * cannot take now is copied into the stream's queue, which its credit
 * window bounds (MUX_WINDOW_INIT), so a stalled stream never stalls its
 * siblings and never grows memory. Window credit is returned in steps of a
 * quarter window (one small frame per 64 KiB written).
 * --encrypt on ws:// (proto/seal.h): every carrier message is one mux frame
 * sealed in place, its tag behind it; the server's first message after the
 * 101 is its nonce, and a client opens no stream before it came. Messages
 * are held whole in the receive buffer and opened there; nothing is
 * spliced (the bytes change on the way). */
#include "tun/mux/mux_carrier.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/log.h"
#include "core/net.h"
#include "core/rand.h"
#include "core/splice.h"
#include "proto/seal.h"

#define OUT_HIGH BUF_SIZE            /* streams read while less than this waits */
#define OUT_READ_STOP (4 * BUF_SIZE) /* the peer does not read: stop reading it */
#define DATA_MIN_ROOM 4096           /* a data read wants at least this much room */
#define WINDOW_STEP (MUX_WINDOW_INIT / 4)
#define IDLE_CLOSE_MS 60000          /* client: a carrier without streams this long goes */
#define SPLICE_MIN 16384             /* smaller DATA remainders are cheaper to copy */
#define HEADERS_ALONE 18             /* WebSocket (8-byte length) + mux headers */

struct mux_seal {
	struct seal s;
	const uint8_t *base;          /* auth_keys.payload */
	uint8_t cnonce[TUNNEL_NONCE_LEN]; /* the carrier upgrade's */
	uint8_t snonce[SEAL_NONCE_LEN];   /* server: announced right behind the 101 */
	bool keyed;                   /* client: the server's nonce came */
};

#define CARRIER_OF(field, p) \
	((struct mux_carrier *)((char *)(p) - offsetof(struct mux_carrier, field)))

/* ---- queues ---- */

static struct buf *q_last(struct mux_q *q)
{
	return q->n ? &q->b[(q->head + q->n - 1) % MUX_Q_BUFS] : NULL;
}

/* Contiguous room of at least min bytes at the queue's tail (a new buffer
 * when the last one is short of it), or NULL. */
static uint8_t *q_reserve(struct mux_q *q, size_t min, size_t *room)
{
	struct buf *b = q_last(q);
	if (!b || buf_room(b) < min) {
		if (q->n == MUX_Q_BUFS)
			return NULL;
		b = &q->b[(q->head + q->n) % MUX_Q_BUFS];
		*b = (struct buf){0};
		if (buf_alloc(b) < 0)
			return NULL;
		q->n++;
	}
	*room = buf_room(b);
	return buf_tail(b);
}

static void q_produced(struct mux_q *q, size_t n)
{
	buf_produced(q_last(q), n);
	q->len += (uint32_t)n;
}

static int q_append(struct mux_q *q, const void *p, size_t n)
{
	const uint8_t *s = p;
	while (n) {
		size_t room;
		uint8_t *t = q_reserve(q, 1, &room);
		if (!t)
			return -1;
		size_t k = room < n ? room : n;
		memcpy(t, s, k);
		q_produced(q, k);
		s += k;
		n -= k;
	}
	return 0;
}

static size_t q_front(struct mux_q *q, uint8_t **p)
{
	if (!q->n)
		return 0;
	*p = buf_data(&q->b[q->head]);
	return buf_len(&q->b[q->head]);
}

static void q_consume(struct mux_q *q, size_t n)
{
	struct buf *b = &q->b[q->head];
	buf_consume(b, n);
	q->len -= (uint32_t)n;
	if (buf_len(b) == 0) {
		buf_free(b);
		q->head = (uint8_t)((q->head + 1) % MUX_Q_BUFS);
		q->n--;
	}
}

static void q_free(struct mux_q *q)
{
	while (q->n) {
		buf_free(&q->b[q->head]);
		q->head = (uint8_t)((q->head + 1) % MUX_Q_BUFS);
		q->n--;
	}
	q->len = 0;
}

/* ---- framing out ---- */

/* The WebSocket header in front of a frame of n payload bytes (none on
 * tls://), masking p in place in client role. Its size. */
static size_t ws_wrap(struct mux_carrier *c, uint8_t *hdr, uint8_t *p, size_t n)
{
	if (c->raw)
		return 0;
	uint8_t key[4];
	const uint8_t *mask = NULL;
	if (c->client) {
		rand_bytes(key, sizeof(key));
		ws_mask(p, n, key, 0);
		mask = key;
	}
	return ws_frame_header(hdr, WS_OP_BINARY, true, n, mask);
}

/* --encrypt: seals the len bytes of frame at p in place, the tag behind
 * them; the sealed length, or 0 after the last record number (the carrier
 * ends). Unsealed carriers: len. */
static size_t seal_frame(struct mux_carrier *c, uint8_t *p, size_t len)
{
	if (!c->seal)
		return len;
	if (seal_encrypt(&c->seal->s, p, len) < 0) {
		c->dead = true;
		return 0;
	}
	return len + SEAL_TAG_LEN;
}

/* Queues the mux frame at frame (len bytes, SEAL_TAG_LEN more of room
 * behind them) as one message, copied. 0 or -1 (the carrier is dead). */
static int queue_frame(struct mux_carrier *c, uint8_t *frame, size_t len)
{
	uint8_t hdr[WS_MAX_HEADER];
	len = seal_frame(c, frame, len);
	size_t hn = len ? ws_wrap(c, hdr, frame, len) : 0;
	if (!len || q_append(&c->out, hdr, hn) < 0 || q_append(&c->out, frame, len) < 0) {
		c->dead = true; /* a stream of frames cut short: nothing after it parses */
		return -1;
	}
	return 0;
}

bool mux_carrier_ready(const struct mux_carrier *c)
{
	return !c->connecting && !c->handshake && (!c->seal || c->seal->keyed);
}

int mux_carrier_frame(struct mux_carrier *c, enum mux_type type, uint32_t id, const void *p,
                      size_t n)
{
	uint8_t frame[MUX_HEADER + MUX_MAX_CTRL + SEAL_TAG_LEN];
	if (c->seal && !c->seal->keyed)
		return 0; /* client before the server's nonce: no stream is open there yet */
	mux_header(frame, type, id, (uint32_t)n);
	if (n) /* FIN, RST: no payload, p may be NULL */
		memcpy(frame + MUX_HEADER, p, n);
	return queue_frame(c, frame, MUX_HEADER + n);
}

/* Header room in front of a DATA payload: WebSocket (2 + 2 length bytes,
 * + 4 mask in client role; payloads stay under 64 KiB) and mux. */
static size_t data_reserve(const struct mux_carrier *c)
{
	return (c->raw ? 0 : c->client ? 8 : 4) + MUX_HEADER;
}

/* Reads one DATA frame from s's socket into the carrier's queue. >0 bytes,
 * 0 nothing now (EAGAIN, no room), -1 EOF, -2 error; *drained when the
 * read came back short of its room (the socket held no more just now). */
static long stream_read_frame(struct mux_stream *s, bool *drained)
{
	struct mux_carrier *c = s->car;
	size_t res = data_reserve(c), room;
	uint8_t *t = q_reserve(&c->out, res + DATA_MIN_ROOM, &room);
	if (!t)
		return 0;
	size_t tag = c->seal ? SEAL_TAG_LEN : 0;
	size_t max = room - res - tag;
	if (max > MUX_MAX_DATA - MUX_HEADER - tag) /* the WebSocket length stays 16-bit */
		max = MUX_MAX_DATA - MUX_HEADER - tag;
	if (max > s->credit)
		max = s->credit;
	long n = net_read(s->fd, t + res, max);
	if (n == -EAGAIN)
		return 0;
	if (n == 0)
		return -1;
	if (n < 0)
		return -2;
	*drained = (size_t)n < max;
	uint8_t *m = t + res - MUX_HEADER;
	mux_header(m, MUX_DATA, s->id, (uint32_t)n);
	uint8_t hdr[WS_MAX_HEADER];
	size_t len = seal_frame(c, m, MUX_HEADER + (size_t)n);
	if (!len)
		return -2;
	size_t hn = ws_wrap(c, hdr, m, len);
	if (hn && hn != res - MUX_HEADER) {
		/* under 126 bytes the length takes 2 bytes less: close the gap */
		memmove(t + hn, m, len);
		m = t + hn;
	}
	memcpy(m - hn, hdr, hn);
	q_produced(&c->out, hn + len);
	s->credit -= (uint32_t)n;
	s->up += (uint64_t)n;
	return n;
}

/* ---- up by splice (server role, plain ws://) ---- */

/* Streams wait while the carrier has a full queue or a spliced frame the
 * socket did not take yet. */
static bool carrier_busy(const struct mux_carrier *c)
{
	return c->out.len >= OUT_HIGH || c->usp_hdr_len;
}

static bool up_can_splice(const struct mux_carrier *c)
{
	return !c->client && c->peer_big && !c->raw && !c->s.tls && !c->seal && !c->splice_off &&
	       !c->dead &&
	       c->out.len == 0 && c->usp_left == 0 && c->usp_hdr_len == 0;
}

/* Moves one DATA payload from s's socket into the carrier's pipe, its
 * headers ready in usp_hdr: as stream_read_frame, and 1 << 30 when splice
 * cannot be used here (the caller copies instead). */
#define SPLICE_NOT_HERE (1L << 30)
static long stream_splice_frame(struct mux_stream *s, bool *drained)
{
	struct mux_carrier *c = s->car;
	if (c->usp[0] < 0 && splice_pipe_get(c->usp) < 0)
		return SPLICE_NOT_HERE;
	size_t max = MUX_MAX_DATA_BIG;
	if (max > s->credit)
		max = s->credit;
	long n = splice_move(s->fd, c->usp[1], max);
	if (n == -EINVAL || n == -ENOSYS)
		c->splice_off = true;
	if (n <= 0)
		splice_pipe_put(c->usp); /* empty: an idle carrier holds no pipe */
	if (n == -EINVAL || n == -ENOSYS)
		return SPLICE_NOT_HERE;
	if (n == -EAGAIN)
		return 0;
	if (n == 0)
		return -1;
	if (n < 0)
		return -2;
	*drained = (size_t)n < max;
	size_t hn = ws_frame_header(c->usp_hdr, WS_OP_BINARY, true, MUX_HEADER + (size_t)n, NULL);
	mux_header(c->usp_hdr + hn, MUX_DATA, s->id, (uint32_t)n);
	c->usp_hdr_len = (uint8_t)(hn + MUX_HEADER);
	c->usp_hdr_off = 0;
	c->usp_left = (uint32_t)n;
	c->flush_now = true; /* the pipe's bytes leave at once, ahead of the queue */
	s->credit -= (uint32_t)n;
	s->up += (uint64_t)n;
	return n;
}

/* Writes the spliced frame: headers, then the pipe. 1 all out, 0 the
 * socket is full, -1 failed. */
static int carrier_flush_splice(struct mux_carrier *c)
{
	while (c->usp_hdr_off < c->usp_hdr_len) {
		long w = net_write_more(c->s.fd, c->usp_hdr + c->usp_hdr_off,
		                        c->usp_hdr_len - c->usp_hdr_off);
		if (w == -EAGAIN)
			return 0;
		if (w < 0)
			return -1;
		c->usp_hdr_off = (uint8_t)(c->usp_hdr_off + w);
	}
	while (c->usp_left) {
		long w = splice_move(c->usp[0], c->s.fd, c->usp_left);
		if (w == -EAGAIN)
			return 0;
		if (w <= 0)
			return -1;
		c->usp_left -= (uint32_t)w;
	}
	c->usp_hdr_len = c->usp_hdr_off = 0;
	splice_pipe_put(c->usp);
	return 1;
}

/* ---- streams ---- */

static void stream_on_io(struct rx *rx, struct rx_io *io, unsigned events);
static int stream_flush(struct mux_stream *s);

int mux_stream_attach(struct mux_carrier *c, struct mux_stream *s)
{
	for (unsigned i = 0; i < MUX_MAX_STREAMS; i++) {
		if (c->streams[i])
			continue;
		c->streams[i] = s;
		c->nstreams++;
		s->car = c;
		s->credit = MUX_WINDOW_INIT;
		s->recv_left = MUX_WINDOW_INIT;
		return 0;
	}
	return -1;
}

static void stream_detach(struct mux_stream *s)
{
	struct mux_carrier *c = s->car;
	for (unsigned i = 0; i < MUX_MAX_STREAMS; i++)
		if (c->streams[i] == s) {
			c->streams[i] = NULL;
			c->nstreams--;
		}
	if (c->nstreams == 0)
		c->idle_since_ms = rx_now(c->rx);
}

static struct mux_stream *stream_find(struct mux_carrier *c, uint32_t id)
{
	for (unsigned i = 0; i < MUX_MAX_STREAMS; i++)
		if (c->streams[i] && c->streams[i]->id == id)
			return c->streams[i];
	return NULL;
}

int mux_stream_connected(struct mux_stream *s, int fd)
{
	s->fd = fd;
	s->opened = true;
	if (!s->io.fn && rx_io_add(s->car->rx, &s->io, fd, stream_on_io) < 0)
		return -1;
	return stream_flush(s); /* what arrived while it was dialled */
}

void mux_stream_end(struct mux_stream *s, bool reset, bool tell_peer)
{
	struct mux_carrier *c = s->car;
	if (tell_peer && !c->dead)
		mux_carrier_frame(c, MUX_RST, s->id, NULL, 0);
	if (c->client && !s->opened && s->on_open) {
		/* nobody else will answer the local client */
		relay_open_fn fn = s->on_open;
		s->on_open = NULL;
		fn(s->owner, s->fd, c->err ? c->err : TUNNEL_ERR_GENERAL);
	}
	if (!c->client && !s->opened)
		dial_cancel(&s->dial);
	if (s->io.fn && s->io.fd != s->fd)
		rx_io_del(c->rx, &s->io);
	if (s->fd >= 0) {
		if (reset) {
			struct linger lg = {.l_onoff = 1, .l_linger = 0};
			setsockopt(s->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		}
		if (s->io.fn)
			rx_io_close(c->rx, &s->io);
		else
			close(s->fd);
	}
	log_debug("c%u stream %u on carrier c%u ended%s: %llu bytes up, %llu down", s->log_id,
	          s->id, c->link.id, reset ? " (reset)" : "", (unsigned long long)s->up,
	          (unsigned long long)s->down);
	q_free(&s->pending);
	buf_free(&s->early);
	stream_detach(s);
	free(s);
}

/* Bytes written to the stream's socket: their credit goes back to the
 * peer in quarter-window steps. */
static void stream_consumed(struct mux_stream *s, size_t n)
{
	s->down += n;
	s->unacked += (uint32_t)n;
	if (s->unacked >= WINDOW_STEP || (s->fin_rcvd && s->unacked)) {
		uint8_t inc[4] = {(uint8_t)(s->unacked >> 24), (uint8_t)(s->unacked >> 16),
		                  (uint8_t)(s->unacked >> 8), (uint8_t)s->unacked};
		if (!s->fin_rcvd)
			mux_carrier_frame(s->car, MUX_WINDOW, s->id, inc, 4);
		s->recv_left += s->unacked;
		s->unacked = 0;
	}
}

/* Writes the stream's queue. 0, or -1 when its socket broke. */
static int stream_flush(struct mux_stream *s)
{
	uint8_t *p;
	size_t n;
	while (s->fd >= 0 && (n = q_front(&s->pending, &p)) > 0) {
		long w = net_write(s->fd, p, n);
		if (w == -EAGAIN)
			return 0;
		if (w < 0)
			return -1;
		q_consume(&s->pending, (size_t)w);
		stream_consumed(s, (size_t)w);
	}
	if (s->fin_rcvd && !s->shut_wr && s->fd >= 0 && s->opened && s->pending.len == 0) {
		shutdown(s->fd, SHUT_WR); /* the peer's FIN, in order behind its data */
		s->shut_wr = true;
	}
	return 0;
}

/* Over both ways: both FINs through and every byte out. */
static bool stream_done(const struct mux_stream *s)
{
	return s->fin_sent && s->fin_rcvd && s->shut_wr && s->pending.len == 0;
}

static void stream_want(struct mux_stream *s)
{
	struct mux_carrier *c = s->car;
	if (!s->io.fn || s->fd < 0)
		return;
	unsigned want = 0;
	if (!s->fin_sent && s->credit && !carrier_busy(c) && !c->dead)
		want |= RX_READ;
	if (s->pending.len && s->opened)
		want |= RX_WRITE;
	rx_io_want(c->rx, &s->io, want);
	if (s->pending.len == 0)
		q_free(&s->pending);
}

/* Reads the socket into frames while credit and carrier room last. A
 * short read ends the turn: another would mostly find nothing (one wasted
 * syscall a small request costs), and what comes later wakes the stream
 * again (level-triggered). 0, or -1 when the stream was ended. */
static int stream_pump_up(struct mux_stream *s)
{
	struct mux_carrier *c = s->car;
	bool drained = false;
	for (int i = 0; i < 4 && !drained && !s->fin_sent && s->credit && !carrier_busy(c); i++) {
		long n = up_can_splice(c) ? stream_splice_frame(s, &drained) : SPLICE_NOT_HERE;
		if (n == SPLICE_NOT_HERE)
			n = stream_read_frame(s, &drained);
		else if (n > 0 && carrier_flush_splice(c) <= 0)
			break; /* the carrier is full (or broke: its flush says so) */
		if (n == 0)
			break;
		if (n == -2) {
			mux_stream_end(s, true, true);
			return -1;
		}
		if (n == -1) {
			s->fin_sent = true;
			mux_carrier_frame(c, MUX_FIN, s->id, NULL, 0);
		}
	}
	return 0;
}

static void stream_on_io(struct rx *rx, struct rx_io *io, unsigned events)
{
	struct mux_stream *s = (struct mux_stream *)((char *)io - offsetof(struct mux_stream, io));
	struct mux_carrier *c = s->car;
	(void)rx;
	if ((events & RX_WRITE) && stream_flush(s) < 0) {
		mux_stream_end(s, true, true);
		return mux_carrier_update(c);
	}
	if ((events & RX_READ) && stream_pump_up(s) < 0)
		return mux_carrier_update(c);
	if (stream_done(s))
		mux_stream_end(s, false, false);
	mux_carrier_update(c);
}

void mux_stream_send_early(struct mux_stream *s)
{
	const uint8_t *p = buf_data(&s->early);
	size_t n = s->early.mem ? buf_len(&s->early) : 0;
	while (n) {
		size_t k = n < 16384 ? n : 16384;
		/* a control-sized copy per 16 KiB: early bytes are few */
		uint8_t frame[MUX_HEADER + 16384 + SEAL_TAG_LEN];
		mux_header(frame, MUX_DATA, s->id, (uint32_t)k);
		memcpy(frame + MUX_HEADER, p, k);
		if (queue_frame(s->car, frame, MUX_HEADER + k) < 0)
			break;
		s->credit -= (uint32_t)k;
		s->up += k;
		p += k;
		n -= k;
	}
	buf_free(&s->early);
	/* 0-RTT on the carrier: the local socket is read from now on, its bytes
	 * wait at the server (within the window) until the target answers */
	s->open_sent = true;
	if (!s->io.fn && rx_io_add(s->car->rx, &s->io, s->fd, stream_on_io) < 0)
		mux_stream_end(s, true, true);
}

/* ---- down: carrier -> streams ---- */

static void deliver(struct mux_carrier *c, struct mux_stream *s, const uint8_t *p, size_t n)
{
	if (n > s->recv_left) {
		log_info("c%u peer overran stream %u's window: carrier closed", c->link.id, s->id);
		c->dead = true;
		return;
	}
	s->recv_left -= (uint32_t)n;
	if (s->fin_rcvd)
		return; /* DATA after FIN: ignored (the peer broke the rules) */
	if (s->fd >= 0 && s->opened && s->pending.len == 0) {
		long w = net_write(s->fd, p, n);
		if (w < 0 && w != -EAGAIN) {
			mux_stream_end(s, true, true);
			return;
		}
		if (w > 0) {
			stream_consumed(s, (size_t)w);
			p += w;
			n -= (size_t)w;
		}
	}
	if (n && q_append(&s->pending, p, n) < 0)
		mux_stream_end(s, true, true); /* out of memory: this stream only */
}

static void on_reply(struct mux_carrier *c, struct mux_stream *s, uint8_t code)
{
	if (!c->client || s->opened || !s->on_open) {
		c->dead = true;
		return;
	}
	enum tunnel_err err = code <= TUNNEL_ERR_TLS ? (enum tunnel_err)code : TUNNEL_ERR_GENERAL;
	relay_open_fn fn = s->on_open;
	s->on_open = NULL;
	fn(s->owner, s->fd, err);
	if (err != TUNNEL_OK) {
		log_debug("c%u server refused the stream: %s", s->log_id, tunnel_err_text(err));
		s->opened = true; /* answered: no second on_open */
		mux_stream_end(s, false, false);
		return;
	}
	if (mux_stream_connected(s, s->fd) < 0)
		mux_stream_end(s, true, true);
}

static void on_event(struct mux_carrier *c, const struct mux_event *ev)
{
	if (ev->type == MUX_PING) {
		if (mux_carrier_frame(c, MUX_PONG, 0, ev->data, MUX_PING_LEN) < 0)
			c->dead = true;
		return;
	}
	if (ev->type == MUX_PONG)
		return; /* any byte proved the peer alive already */
	if (ev->type == MUX_OPEN) {
		if (c->client || ev->id <= c->last_id || c->nstreams >= MUX_MAX_STREAMS) {
			log_info("c%u mux OPEN out of order or over %u streams: carrier closed",
			         c->link.id, MUX_MAX_STREAMS);
			c->dead = true;
			return;
		}
		c->last_id = ev->id;
		return c->ops->open(c, ev->id, ev->data, ev->len);
	}
	struct mux_stream *s = stream_find(c, ev->id);
	if (!s)
		return; /* a stream already ended here: its late frames mean nothing */
	switch (ev->type) {
	case MUX_REPLY:
		return on_reply(c, s, ev->data[0]);
	case MUX_DATA:
		return deliver(c, s, ev->data, ev->len);
	case MUX_FIN:
		s->fin_rcvd = true;
		if (stream_flush(s) < 0)
			return mux_stream_end(s, true, true);
		if (stream_done(s))
			mux_stream_end(s, false, false);
		return;
	case MUX_RST:
		return mux_stream_end(s, true, false);
	case MUX_WINDOW:
		if ((uint64_t)s->credit + ev->window > 0x7fffffffu) {
			c->dead = true;
			return;
		}
		s->credit += ev->window;
		return;
	default:
		return;
	}
}

/* Feeds carrier payload bytes to the mux parser. */
static void mux_feed(struct mux_carrier *c, const uint8_t *p, size_t n)
{
	while (n && !c->dead) {
		struct mux_event ev;
		size_t used;
		enum mux_rc rc = mux_parser_feed(&c->mp, p, n, &used, &ev);
		p += used;
		n -= used;
		if (rc < 0) {
			log_info("c%u peer broke the mux framing: %s", c->link.id, mux_strerror(rc));
			c->dead = true;
			return;
		}
		if (rc == MUX_EVENT)
			on_event(c, &ev);
	}
}

/* --encrypt: one whole message (its frame fed alone). The client's first
 * is the server's nonce, which keys it and makes it ready; every other is
 * a record to open in place and parse. 0, or -1 (logged). */
static int carrier_unseal(struct mux_carrier *c, const struct ws_event *ev)
{
	struct mux_seal *sl = c->seal;
	if (!ev->first || !ev->fin) {
		log_warn("c%u --encrypt: a carrier record in pieces: carrier closed", c->link.id);
		return -1;
	}
	if (!sl->keyed) {
		if (ev->len != SEAL_NONCE_LEN) {
			log_warn("c%u --encrypt: the server sent no record nonce on the --mux carrier: "
			         "closing", c->link.id);
			return -1;
		}
		seal_init(&sl->s, sl->base, sl->cnonce, ev->data, true);
		sl->keyed = true;
		c->ops->ready(c, TUNNEL_OK);
		return c->dead ? -1 : 0;
	}
	long n = seal_open(&sl->s, ev->data, ev->len);
	if (n < 0) {
		log_warn("c%u --encrypt: a carrier record failed authentication (tampered on the way, "
		         "or the other side has another key): carrier closed", c->link.id);
		return -1;
	}
	mux_feed(c, ev->data, (size_t)n);
	return c->dead ? -1 : 0;
}

/* How much of the receive buffer the next parse may take: all of it, or
 * with --encrypt one whole frame (0: not all here yet; -1: larger than
 * the buffer, which a sealing peer never sends). */
static long parse_span(struct mux_carrier *c)
{
	size_t have = buf_len(&c->in);
	if (!c->seal)
		return (long)have;
	uint64_t span = ws_frame_span(buf_data(&c->in), have);
	if (span > BUF_SIZE) {
		log_warn("c%u --encrypt: a carrier message over %u bytes: carrier closed", c->link.id,
		         (unsigned)BUF_SIZE);
		return -1;
	}
	return span <= have ? (long)span : 0;
}

/* Parses what the receive buffer holds. 0, or -1 when the carrier ended
 * (a Close, a protocol error). */
static int carrier_process(struct mux_carrier *c)
{
	if (c->raw) {
		mux_feed(c, buf_data(&c->in), buf_len(&c->in));
		buf_consume(&c->in, buf_len(&c->in));
		return c->dead ? -1 : 0;
	}
	while (!c->dead && buf_len(&c->in)) {
		struct ws_event ev;
		size_t used;
		long span = parse_span(c);
		if (span <= 0)
			return (int)span;
		enum ws_rc rc = ws_parser_feed(&c->wsp, buf_data(&c->in), (size_t)span, &used, &ev);
		if (rc < 0) {
			log_info("c%u peer broke the WebSocket protocol: %s", c->link.id, ws_strerror(rc));
			return -1;
		}
		if (rc == WS_NEED_MORE) {
			buf_consume(&c->in, used);
			return 0;
		}
		if (ev.type == WS_EV_DATA && c->seal) {
			if (carrier_unseal(c, &ev) < 0)
				return -1;
		} else if (ev.type == WS_EV_DATA) {
			mux_feed(c, ev.data, ev.len);
		} else if (ev.type == WS_EV_PING) {
			uint8_t f[WS_MAX_HEADER + WS_MAX_CTRL_PAYLOAD], key[4];
			rand_bytes(key, sizeof(key));
			size_t fn = ws_control_frame(f, WS_OP_PONG, ev.data, ev.len,
			                             c->client ? key : NULL);
			if (q_append(&c->out, f, fn) < 0)
				c->dead = true;
		} else if (ev.type == WS_EV_CLOSE) {
			return -1;
		}
		buf_consume(&c->in, used);
	}
	return c->dead ? -1 : 0;
}

/* Client: the server's answer to the upgrade. 0 waiting or open, -1 failed. */
static int carrier_handshake(struct mux_carrier *c)
{
	const char *p = (const char *)buf_data(&c->in);
	int end = http_head_end(p, buf_len(&c->in), &c->head_scanned);
	if (end == HTTP_NEED_MORE)
		return 0;
	struct http_response resp;
	enum tunnel_err err = TUNNEL_ERR_NOT_WSFERRY;
	if (end > 0 && http_parse_response(p, (size_t)end, &resp) > 0)
		err = tunnel_response_err(&resp, &c->expect);
	if (err != TUNNEL_OK) {
		c->err = err;
		return -1;
	}
	buf_consume(&c->in, (size_t)end);
	c->handshake = false;
	if (!c->seal) /* else ready once the server's nonce came (carrier_unseal) */
		c->ops->ready(c, TUNNEL_OK);
	return c->dead ? -1 : 0;
}

/* ---- down by splice (client role, plain ws://) ----
 * The server's frames are unmasked, so the payload of a big DATA frame can
 * go carrier socket -> pipe -> stream socket untouched, as relay.c does for
 * a single tunnel. What the stream's socket cannot take at once is copied
 * from the pipe into its queue at once (the pipe is the carrier's: a slow
 * stream must never hold it). */

/* The stream whose DATA payload comes next and how much of it may be
 * spliced, or NULL. */
static bool down_can_splice(const struct mux_carrier *c)
{
	return c->client && !c->raw && !c->s.tls && !c->seal && !c->handshake && !c->splice_off;
}

static struct mux_stream *splice_target(struct mux_carrier *c, size_t *n)
{
	if (!down_can_splice(c) || buf_len(&c->in))
		return NULL;
	uint32_t id = 0;
	uint64_t wl = ws_parser_payload_left(&c->wsp);
	uint64_t ml = mux_parser_data_left(&c->mp, &id);
	uint64_t k = wl < ml ? wl : ml;
	if (k > SPLICE_PIPE_SIZE)
		k = SPLICE_PIPE_SIZE;
	struct mux_stream *s = k >= SPLICE_MIN ? stream_find(c, id) : NULL;
	if (!s || !s->opened || s->fd < 0 || s->pending.len || s->fin_rcvd || k > s->recv_left)
		return NULL;
	*n = (size_t)k;
	return s;
}

/* Moves what the pipe holds (left bytes) into s's queue; with s NULL
 * (its socket broke) or out of memory, drops it (s is reset then). */
static void splice_rest(struct mux_carrier *c, struct mux_stream *s, size_t left)
{
	uint8_t sink[4096];
	bool lost = false;
	while (left) {
		size_t room = sizeof(sink);
		uint8_t *t = s && !lost ? q_reserve(&s->pending, 1, &room) : NULL;
		lost = lost || (s && !t);
		long r = net_read(c->dsp[0], t ? t : sink, room < left ? room : left);
		if (r <= 0) {
			splice_pipe_close(c->dsp); /* what it holds is unknown: never reused */
			lost = true;
			break;
		}
		if (t)
			q_produced(&s->pending, (size_t)r);
		left -= (size_t)r;
	}
	if (s && lost)
		mux_stream_end(s, true, true);
}

/* One DATA payload spliced: 1 moved, 0 nothing now (copy instead, or
 * EAGAIN), -1 the carrier broke (EOF inside a frame). */
static int carrier_splice(struct mux_carrier *c, struct mux_stream *s, size_t n)
{
	if (c->dsp[0] < 0 && splice_pipe_get(c->dsp) < 0)
		return 0;
	long m = splice_move(c->s.fd, c->dsp[1], n);
	if (m == -EINVAL || m == -ENOSYS) {
		c->splice_off = true;
		splice_pipe_put(c->dsp);
		return 0;
	}
	if (m == -EAGAIN)
		return 0;
	if (m <= 0)
		return -1;
	ws_parser_skip(&c->wsp, (uint64_t)m);
	mux_parser_skip(&c->mp, (uint32_t)m);
	s->recv_left -= (uint32_t)m;
	c->last_rx_ms = rx_now(c->rx);
	c->ping_outstanding = false;
	c->splice_hint = true;
	long k = splice_move(c->dsp[0], s->fd, (size_t)m);
	if (k == -EAGAIN)
		k = 0;
	if (k < 0) {
		splice_rest(c, NULL, (size_t)m);
		mux_stream_end(s, true, true);
		return 1;
	}
	if (k)
		stream_consumed(s, (size_t)k);
	if (k < m)
		splice_rest(c, s, (size_t)(m - k));
	return 1;
}

/* How much the next read may take. After a spliced frame, the next
 * headers alone: a big DATA behind them is spliced too (a small frame
 * costs one more read). A DATA frame's tail that a full read cut (*tail)
 * is read alone, so the headers after it come alone as well: reads of a
 * whole buffer would otherwise stay out of step with the frames,
 * each leaving a tail too short to splice, and nothing would ever be. */
static size_t read_room(struct mux_carrier *c, size_t room, bool *tail)
{
	uint32_t id;
	*tail = false;
	if (!down_can_splice(c) || buf_len(&c->in))
		return room;
	if (c->splice_hint)
		return room > HEADERS_ALONE ? HEADERS_ALONE : room;
	uint64_t wl = ws_parser_payload_left(&c->wsp);
	if (wl == 0 || wl >= room || mux_parser_data_left(&c->mp, &id) == 0)
		return room;
	*tail = true;
	return (size_t)wl;
}

/* Reads and parses. 0, or -1 when the carrier is over. */
static int carrier_read(struct mux_carrier *c)
{
	for (int i = 0; i < 16 && c->out.len < OUT_READ_STOP; i++) {
		size_t sn = 0;
		struct mux_stream *ss = splice_target(c, &sn);
		int rc = ss ? carrier_splice(c, ss, sn) : 0;
		if (rc < 0)
			return -1;
		if (rc > 0)
			continue;
		if (buf_alloc(&c->in) < 0)
			return -1;
		size_t room = buf_room(&c->in);
		if (room == 0)
			return 0;
		bool tail;
		room = read_room(c, room, &tail);
		long n = stream_read(&c->s, buf_tail(&c->in), room);
		if (n == -EAGAIN)
			break;
		if (n <= 0) {
			if (c->handshake)
				c->err = n == 0 || n == -ECONNRESET ? TUNNEL_ERR_SERVER_SILENT
				                                    : TUNNEL_ERR_SERVER_DOWN;
			return -1;
		}
		buf_produced(&c->in, (size_t)n);
		c->last_rx_ms = rx_now(c->rx);
		c->ping_outstanding = false;
		if (c->handshake && carrier_handshake(c) < 0)
			return -1;
		if (!c->handshake && carrier_process(c) < 0)
			return -1;
		if (tail && (size_t)n == room) /* the frame is over: its successor's headers next */
			c->splice_hint = true;
		else if (c->splice_hint) /* headers alone: on while they lead to splices */
			c->splice_hint = splice_target(c, &sn) != NULL;
		/* short of its room: the socket is empty for now (not over TLS,
		 * whose engine may hold more than the socket shows) */
		if ((size_t)n < room && !c->s.tls)
			break;
	}
	buf_release_if_empty(&c->in);
	return 0;
}

/* Writes the queue. 0, or -1 when the connection failed. */
static int carrier_flush(struct mux_carrier *c)
{
	uint8_t *p;
	size_t n;
	if (c->usp_hdr_len) {
		int rc = carrier_flush_splice(c);
		if (rc <= 0)
			return rc;
	}
	while ((n = q_front(&c->out, &p)) > 0) {
		long w = stream_write(&c->s, p, n);
		if (w == -EAGAIN)
			return 0;
		if (w < 0)
			return -1;
		q_consume(&c->out, (size_t)w);
	}
	return 0;
}

/* ---- lifecycle ---- */

static void carrier_free(struct mux_carrier *c)
{
	for (unsigned i = 0; i < MUX_MAX_STREAMS; i++)
		if (c->streams[i])
			mux_stream_end(c->streams[i], true, false);
	rx_timer_cancel(c->rx, &c->timer);
	rx_timer_cancel(c->rx, &c->kick);
	rx_timer_cancel(c->rx, &c->flush);
	if (!c->connecting) {
		rx_io_del(c->rx, &c->io);
		stream_close(&c->s);
	}
	if (c->dsp[0] >= 0)
		splice_pipe_put(c->dsp); /* always emptied after each move */
	if (c->usp[0] >= 0 && c->usp_left)
		splice_pipe_close(c->usp); /* holds bytes: never back to the pool */
	else if (c->usp[0] >= 0)
		splice_pipe_put(c->usp);
	buf_free(&c->in);
	q_free(&c->out);
	if (c->seal) {
		seal_wipe(&c->seal->s);
		free(c->seal);
	}
	conn_list_remove(c->conns, &c->link);
	c->ops->gone(c);
	free(c);
}

/* A stop: every connection goes, the tunnels' owners too (in any order),
 * so nobody is told of an outcome, as relay.c does at a stop. */
static void carrier_destroy_link(struct conn_link *link)
{
	struct mux_carrier *c = (struct mux_carrier *)link;
	for (unsigned i = 0; i < MUX_MAX_STREAMS; i++)
		if (c->streams[i])
			c->streams[i]->on_open = NULL;
	c->dead = true;
	if (!c->err)
		c->err = TUNNEL_ERR_SERVER_DOWN;
	carrier_free(c);
}

void mux_carrier_fail(struct mux_carrier *c, const char *why)
{
	c->dead = true;
	if (!c->err)
		c->err = c->handshake || c->connecting ? TUNNEL_ERR_SERVER_SILENT
		                                       : TUNNEL_ERR_SERVER_DOWN;
	if (c->nstreams || c->handshake)
		log_info("c%u mux carrier ended (%s): %u stream%s reset", c->link.id, why, c->nstreams,
		         c->nstreams == 1 ? "" : "s");
	else
		log_debug("c%u mux carrier ended (%s)", c->link.id, why);
	if (c->client && !mux_carrier_ready(c))
		c->ops->ready(c, c->err);
	carrier_free(c);
}

static void carrier_on_timer(struct rx *rx, struct rx_timer *t);

static void carrier_arm(struct mux_carrier *c)
{
	const struct relay_opts *o = c->opts;
	uint64_t due = 0;
	if (o->keepalive_ms)
		due = c->last_rx_ms + o->keepalive_ms + (c->ping_outstanding ? o->pong_timeout_ms : 0);
	if (c->client && c->nstreams == 0 && !c->handshake) {
		uint64_t idle = c->idle_since_ms + IDLE_CLOSE_MS;
		if (!due || idle < due)
			due = idle;
	}
	if (due && !c->timer.armed) /* traffic never re-arms: expiry re-checks */
		rx_timer_arm(c->rx, &c->timer, due, carrier_on_timer);
}

static void carrier_on_timer(struct rx *rx, struct rx_timer *t)
{
	struct mux_carrier *c = CARRIER_OF(timer, t);
	uint64_t now = rx_now(rx);
	const struct relay_opts *o = c->opts;
	if (c->client && c->nstreams == 0 && !c->handshake &&
	    now - c->idle_since_ms >= IDLE_CLOSE_MS) {
		c->err = TUNNEL_ERR_SERVER_DOWN;
		return mux_carrier_fail(c, "idle");
	}
	if (c->ping_outstanding && now - c->last_rx_ms >= o->keepalive_ms + o->pong_timeout_ms)
		return mux_carrier_fail(c, "no answer to a ping");
	if (o->keepalive_ms && !c->ping_outstanding && mux_carrier_ready(c) &&
	    now - c->last_rx_ms >= o->keepalive_ms) {
		uint8_t data[MUX_PING_LEN];
		rand_bytes(data, sizeof(data));
		c->ping_outstanding = true;
		mux_carrier_frame(c, MUX_PING, 0, data, sizeof(data));
	}
	mux_carrier_update(c);
}

static void carrier_on_kick(struct rx *rx, struct rx_timer *t);

static void carrier_on_flush(struct rx *rx, struct rx_timer *t)
{
	struct mux_carrier *c = CARRIER_OF(flush, t);
	(void)rx;
	c->flush_now = true;
	mux_carrier_update(c);
}

void mux_carrier_update(struct mux_carrier *c)
{
	if (c->connecting)
		return;
	if (c->dead)
		return mux_carrier_fail(c, "protocol error");
	/* Timers run right after the loop turn's I/O: the frames every stream
	 * queued in this turn leave in one write (bench/RESULTS-mux.md); a
	 * full queue (bulk) leaves at once. */
	bool now = c->flush_now || c->out.len >= OUT_HIGH || c->usp_hdr_len;
	c->flush_now = false;
	if (now && c->flush.armed)
		rx_timer_cancel(c->rx, &c->flush);
	if (!now && c->out.len && !c->flush.armed)
		rx_timer_arm(c->rx, &c->flush, rx_now(c->rx), carrier_on_flush);
	if (now && carrier_flush(c) < 0)
		return mux_carrier_fail(c, "connection failed");
	for (unsigned i = 0; i < MUX_MAX_STREAMS; i++)
		if (c->streams[i])
			stream_want(c->streams[i]);
	unsigned want = (c->out.len && !c->flush.armed) || c->usp_hdr_len ? RX_WRITE : 0;
	if (c->out.len < OUT_READ_STOP)
		want |= RX_READ;
	rx_io_want(c->rx, &c->io, stream_interest(&c->s, want));
	if (stream_readable_now(&c->s) && c->out.len < OUT_READ_STOP)
		rx_timer_arm(c->rx, &c->kick, rx_now(c->rx), carrier_on_kick);
	carrier_arm(c);
}

static void carrier_pump(struct mux_carrier *c, unsigned events)
{
	if (stream_pump(&c->s, events) < 0)
		return mux_carrier_fail(c, stream_error(&c->s) ? stream_error(&c->s) : "TLS failed");
	if (carrier_read(c) < 0)
		return mux_carrier_fail(c, c->dead ? "protocol error" : "closed by the peer");
	c->flush_now = c->flush_now || (events & RX_WRITE); /* asked for: it had to wait */
	mux_carrier_update(c);
}

static void carrier_on_kick(struct rx *rx, struct rx_timer *t)
{
	(void)rx;
	carrier_pump(CARRIER_OF(kick, t), 0);
}

static void carrier_on_io(struct rx *rx, struct rx_io *io, unsigned events)
{
	(void)rx;
	carrier_pump(CARRIER_OF(io, io), events);
}

void mux_carrier_init(struct mux_carrier *c, struct rx *rx, struct conn_list *conns,
                      const struct relay_opts *opts, bool client, bool raw,
                      struct conn_peer *peer, unsigned id)
{
	c->rx = rx;
	c->conns = conns;
	c->opts = opts;
	c->client = client;
	c->raw = raw;
	c->connecting = client;
	c->handshake = client;
	c->s.fd = -1;
	c->dsp[0] = c->dsp[1] = -1;
	c->usp[0] = c->usp[1] = -1;
	ws_parser_init(&c->wsp, client ? WS_ROLE_CLIENT : WS_ROLE_SERVER, 0);
	if (client)
		conn_list_add(conns, &c->link, carrier_destroy_link);
	else
		conn_list_add_as(conns, &c->link, carrier_destroy_link, id, peer);
	c->link.lingers = true;
}

int mux_carrier_seal(struct mux_carrier *c, const uint8_t *base,
                     const uint8_t cnonce[TUNNEL_NONCE_LEN])
{
	struct mux_seal *sl = calloc(1, sizeof(*sl));
	if (!sl)
		return -1;
	c->seal = sl;
	sl->base = base;
	memcpy(sl->cnonce, cnonce, sizeof(sl->cnonce));
	if (c->client)
		return 0;
	if (rand_bytes(sl->snonce, sizeof(sl->snonce)) < 0)
		return -1;
	seal_init(&sl->s, base, sl->cnonce, sl->snonce, false);
	sl->keyed = true;
	return 0;
}

/* Server, --encrypt: its nonce as the first message behind the 101. */
static int seal_announce(struct mux_carrier *c)
{
	if (!c->seal || c->client)
		return 0;
	uint8_t hdr[WS_MAX_HEADER];
	size_t hn = ws_frame_header(hdr, WS_OP_BINARY, true, SEAL_NONCE_LEN, NULL);
	return q_append(&c->out, hdr, hn) < 0 ||
	               q_append(&c->out, c->seal->snonce, SEAL_NONCE_LEN) < 0
	           ? -1
	           : 0;
}

int mux_carrier_run(struct mux_carrier *c, struct stream *s, const void *preamble, size_t n,
                    struct buf *in)
{
	c->s = *s;
	c->connecting = false;
	c->last_rx_ms = c->idle_since_ms = rx_now(c->rx);
	if (in) {
		c->in = *in;
		*in = (struct buf){0};
	}
	if (rx_io_add(c->rx, &c->io, c->s.fd, carrier_on_io) < 0 ||
	    q_append(&c->out, preamble, n) < 0 || seal_announce(c) < 0) {
		mux_carrier_fail(c, "out of memory");
		return -1;
	}
	if (buf_len(&c->in) && !c->handshake && carrier_process(c) < 0) {
		mux_carrier_fail(c, "protocol error");
		return -1;
	}
	mux_carrier_update(c);
	return 0;
}
