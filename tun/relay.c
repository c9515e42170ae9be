/* relay.c — the hot path: TCP bytes <-> binary WebSocket frames.
 * Up (TCP -> ws): one read becomes one frame, built in place in front of the
 * payload (header room reserved), masked in place in client role, one write.
 * Down (ws -> TCP): frames parsed and unmasked in place in the receive buffer;
 * each payload slice is written straight from there. No per-frame malloc,
 * no copy of payload bytes; buffers exist only while bytes are in transit.
 * Over TLS "there" is the engine's own buffer (issue 17): up reads into the
 * next record's plaintext, framed in place; down parses, unmasks and writes
 * each slice where the engine decrypted it, so up and down stay empty. */
#include "tun/relay.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/log.h"
#include "core/net.h"
#include "core/rand.h"
#include "core/splice.h"
#include "proto/seal.h"

#define HDR_ROOM WS_MAX_HEADER /* reserved in front of each up payload */
#define DOWN_SPLICE_MIN 16384  /* smaller payload remainders are cheaper to copy */
/* A peer that does not finish a close it was asked for (its Close after a
 * broken tunnel's, its FIN after both) within this long is cut (issue 18). */
#define RELAY_CLOSE_MS 5000
#define SEAL_MAX_RECORD (BUF_SIZE - HDR_ROOM) /* the largest a sealing relay sends */

/* --encrypt (proto/seal.h): each message is one record, gathered whole at
 * the front of down and opened before a byte of it goes out. Allocated only
 * for sealed tunnels, so plain ones stay as small as they were. */
struct relay_seal {
	struct seal s;
	const uint8_t *base;   /* auth_keys.payload */
	uint8_t cnonce[16];    /* the request's */
	uint32_t have;         /* bytes of the record gathered at the front of down */
	uint8_t drop;          /* tag bytes behind the plaintext being written */
	bool keyed;            /* client: the server's nonce has arrived */
	bool eof_sent;         /* our empty record: "no more data", before Close */
	bool eof_rcvd;         /* the peer's: its Close is a true end of data */
};

struct relay {
	struct conn_link link;
	struct conn_list *list;
	struct rx *rx;
	unsigned twin_id;           /* relay_args.twin_id, 0 once told */
	struct rx_io tcp_io, ws_io;
	struct rx_timer timer;      /* keepalive / pong deadline / idle */
	int tcp_fd;
	struct stream ws;           /* plain TCP or TLS */
	struct ws_parser parser;
	struct buf up;              /* one frame (or the preamble) for ws */
	struct buf down;            /* [payload for tcp_fd][unparsed ws bytes] */
	struct buf early;           /* TCP bytes not framed yet: read before the relay
	                             * began, or (plain HTTP proxying) not filtered yet */
	struct relay_filter *filter; /* plain HTTP proxying: rewrites request heads */
	uint32_t down_pending;      /* payload bytes at the front of down */
	const struct relay_opts *opts;
	relay_open_fn on_open;
	void *owner;
	uint64_t last_rx_ms;        /* last byte from the ws peer */
	uint64_t last_tx_ms;        /* last byte either way, for idle */
	uint64_t close_at;          /* ending: the peer must finish by then (0: no deadline) */
	uint64_t bytes_up, bytes_down; /* payload handed to the other socket */
	uint32_t up_payload;        /* payload of the frame in up, counted once written */
	const char *broke;          /* why the tunnel broke; NULL while it may end clean */
	uint16_t close_code;        /* to send when close_queued */
	uint16_t peer_code;         /* the code of the peer's Close */
	uint8_t pong_len;
	bool handshake;             /* client: waiting for the 101 */
	uint8_t hs_err;             /* enum tunnel_err if the handshake breaks */
	bool tcp_eof, close_queued, close_sent, close_rcvd, tcp_shut;
	bool ping_queued, ping_outstanding, pong_queued;
	bool early_stalled;         /* the filter needs more bytes than early holds */
	bool switching;             /* next request is for another host: hand over */
	bool raw;                   /* tls:// — bytes as they are, no WebSocket frames */
	bool hold_early;            /* client: TCP bytes wait for the proven 101 */
	bool lingering;             /* over: close_notify and FIN sent, the peer's FIN awaited */
	bool ws_fin;                /* lingering over TLS: our FIN is out */
	bool ws_reset;              /* tls:// broke: reset the TLS connection too */
	bool splice_off;            /* splice(2) refused here: copy */
	bool down_in_engine;        /* TLS: the pending payload sits in the engine, not in down */
	bool down_hdr_only;         /* plain client: bulk goes by splice: the rest of a frame
	                             * does too, however short, and the next read takes a
	                             * header only, so its payload stays for splice */
	bool up_engine_wait;        /* TLS: no room in the engine for a record yet: TCP is not read */
	uint8_t sp_hdr[10];         /* spliced frame: its header, not yet written */
	uint8_t sp_hdr_len, sp_hdr_off;
	uint32_t sp_len;            /* spliced frame: payload bytes still in the pipe */
	int sp_pipe[2];             /* from the pool while a frame is in flight */
	uint32_t dsp_len;           /* down: spliced payload still in dsp_pipe */
	int dsp_pipe[2];
	size_t head_scanned;
	struct tunnel_expect expect; /* client role, until the 101 */
	struct relay_seal *seal;     /* --encrypt, else NULL */
	struct tun_stats *stats;     /* --metrics (enum relay_count), else NULL */
	uint8_t up_dir;              /* enum stats_dir of up (TCP -> ws) */
	bool open_counted;           /* in stats->tunnels_open (client: once its 101 came) */
	bool announced;              /* list->events: opened told, closed not yet */
	uint8_t pong[WS_MAX_CTRL_PAYLOAD];
};

#define RELAY_OF(field, ptr) ((struct relay *)((char *)(ptr) - offsetof(struct relay, field)))

void relay_filter_free(struct relay_filter *f)
{
	if (f)
		f->ops->free(f);
}

/* --metrics: a tunnel opened (the server's 101 queued, or the client's
 * arrived), or the client's refused with err. */
static void relay_count_open(struct relay *r, enum tunnel_err err)
{
	if (!r->stats)
		return;
	if (err != TUNNEL_OK) {
		r->stats->ws_failed++;
		r->stats->dial_failed[(unsigned)err < STATS_ERR_N ? err : TUNNEL_ERR_GENERAL]++;
		return;
	}
	r->stats->ws_ok++;
	r->stats->tunnels_open++;
	r->stats->tunnels_total++;
	r->open_counted = true;
}

/* --metrics: bytes as each read/write/splice returns them, one add. */
static inline void count_up(struct relay *r, uint64_t n)
{
	if (r->stats)
		r->stats->bytes[r->up_dir] += n;
}

static inline void count_down(struct relay *r, uint64_t n)
{
	if (r->stats)
		r->stats->bytes[r->up_dir ^ 1] += n;
}

uint64_t relay_bytes_up(const struct relay *r) { return r->bytes_up; }
uint64_t relay_bytes_down(const struct relay *r) { return r->bytes_down; }

/* Splice pipes back to the pool, or closed when they hold bytes. */
static void relay_pipes_release(struct relay *r)
{
	if (r->sp_len)
		splice_pipe_close(r->sp_pipe); /* holds bytes: never back to the pool */
	else
		splice_pipe_put(r->sp_pipe);
	if (r->dsp_len)
		splice_pipe_close(r->dsp_pipe);
	else
		splice_pipe_put(r->dsp_pipe);
	r->sp_len = r->dsp_len = 0;
}

unsigned relay_id(const struct relay *r) { return r->link.id; }
const char *relay_broke(const struct relay *r) { return r->broke; }

/* conn_events (an embedding program's): opened once, closed once after. */
static void relay_tell(struct relay *r, bool open)
{
	const struct conn_events *ev = r->list->events;
	if (ev && r->announced != open) {
		r->announced = open;
		ev->tell(ev->arg, r, open);
	}
}

/* The TCP socket leaves the reactor and closes, in one syscall where it
 * is still registered (rx_io_close). */
static void relay_tcp_release(struct relay *r)
{
	if (r->tcp_io.fn && r->tcp_io.fd == r->tcp_fd) {
		rx_io_close(r->rx, &r->tcp_io);
	} else {
		rx_io_del(r->rx, &r->tcp_io);
		if (r->tcp_fd >= 0)
			close(r->tcp_fd);
	}
	r->tcp_fd = -1;
}

static void relay_free(struct relay *r)
{
	relay_tell(r, false); /* a stop, or an end without relay_log_end */
	rx_timer_cancel(r->rx, &r->timer);
	relay_tcp_release(r);
	if (r->ws_reset && r->ws.fd >= 0) {
		struct linger lg = {.l_onoff = 1, .l_linger = 0};
		setsockopt(r->ws.fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	}
	if (r->ws_io.fn && r->ws_io.fd == r->ws.fd) {
		rx_io_close(r->rx, &r->ws_io); /* stream_close below frees its TLS state */
		r->ws.fd = -1;
	} else {
		rx_io_del(r->rx, &r->ws_io);
	}
	relay_pipes_release(r);
	stream_close(&r->ws);
	relay_filter_free(r->filter);
	if (r->seal) {
		seal_wipe(&r->seal->s);
		free(r->seal);
	}
	buf_free(&r->up);
	buf_free(&r->down);
	buf_free(&r->early);
	if (r->open_counted)
		r->stats->tunnels_open--;
	conn_list_remove(r->list, &r->link);
	free(r);
}

static void relay_destroy_link(struct conn_link *link)
{
	relay_free((struct relay *)link);
}

static void relay_break(struct relay *r, uint16_t code, const char *why);

/* A draining server's time ran out: Close 1001, then the usual close. */
static void relay_going_away_link(struct conn_link *link)
{
	relay_break((struct relay *)link, WS_CLOSE_GOING_AWAY, "server shutting down");
}

static void relay_tcp_broke(struct relay *r);

/* A joined pair's TCP sides are the two ends of one socketpair, on which a
 * reset arrives as a mere EOF: the relay at the other end is told directly
 * and breaks as if its own TCP side had reset (so its WebSocket peer resets
 * its TCP side in turn). Once, and never back. May free the twin. */
static void relay_reset_twin(struct relay *r)
{
	unsigned id = r->twin_id;
	r->twin_id = 0;
	for (struct conn_link *k = r->list->head.next; id && k != &r->list->head; k = k->next) {
		struct relay *t = (struct relay *)k;
		if (k->destroy == relay_destroy_link && k->id == id && t->twin_id == r->link.id) {
			t->twin_id = 0;
			relay_tcp_broke(t);
			return;
		}
	}
}

/* Closes the TCP side; reset: SO_LINGER 0, so its peer gets a RST, the
 * honest signal that the tunnel broke and bytes may be missing (a FIN would
 * claim a clean end). */
static void relay_tcp_close(struct relay *r, bool reset)
{
	if (r->tcp_fd < 0)
		return;
	if (reset) {
		struct linger lg = {.l_onoff = 1, .l_linger = 0};
		setsockopt(r->tcp_fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	}
	relay_tcp_release(r);
	if (reset)
		relay_reset_twin(r);
}

/* One line per tunnel, once its bytes are settled: the words tell a clean
 * end from a break, the counts are payload that reached the other socket. */
static void relay_log_end(struct relay *r)
{
	relay_tell(r, false);
	if (r->broke)
		log_debug("c%u tunnel aborted after %llu up / %llu down bytes: %s", r->link.id,
		          (unsigned long long)r->bytes_up, (unsigned long long)r->bytes_down, r->broke);
	else
		log_debug("c%u tunnel closed: %llu up / %llu down bytes", r->link.id,
		          (unsigned long long)r->bytes_up, (unsigned long long)r->bytes_down);
}

/* The WebSocket leg itself failed (EOF without a Close, reset, TLS error,
 * silence): nothing more can be said on it. The TCP side is reset. */
static void relay_drop(struct relay *r, const char *why)
{
	if (r->handshake) {
		/* Never got a 101: the owner answers its client, then we close. */
		r->handshake = false;
		if (stream_error(&r->ws)) { /* TLS failed, whichever call saw it */
			log_info("c%u TLS: %s", r->link.id, stream_error(&r->ws));
			r->hs_err = TUNNEL_ERR_TLS;
		}
		relay_count_open(r, (enum tunnel_err)r->hs_err);
		r->on_open(r->owner, r->tcp_fd, (enum tunnel_err)r->hs_err);
		relay_free(r);
		return;
	}
	if (!r->broke)
		r->broke = why;
	relay_tcp_close(r, true);
	relay_log_end(r);
	relay_free(r);
}

static void relay_linger(struct relay *r);
static void relay_linger_pump(struct relay *r);
static void relay_pump(struct relay *r, bool tcp_readable, bool ws_readable);
static void relay_on_timer(struct rx *rx, struct rx_timer *t);

/* The TCP side broke (reset, or it could not take our bytes) or a limit cut
 * the tunnel: the TCP side is reset now, and the peer is told with a Close
 * that carries code (never 1000), so that it resets its own TCP side; both
 * Closes and close_notify still end the WebSocket properly, within
 * RELAY_CLOSE_MS. tls:// has no frame for it: its TLS connection is reset.
 * May free r: return right after. */
static void relay_break(struct relay *r, uint16_t code, const char *why)
{
	if (!r->broke)
		r->broke = why;
	relay_tcp_close(r, true);
	buf_free(&r->early); /* never framed now */
	r->switching = false;
	if (!r->close_at) {
		r->close_at = rx_now(r->rx) + RELAY_CLOSE_MS;
		rx_timer_arm(r->rx, &r->timer, r->close_at, relay_on_timer);
	}
	if (r->raw) {
		r->ws_reset = true;
		relay_log_end(r);
		relay_free(r);
		return;
	}
	if (!r->close_sent) { /* our Close says it, even after a 1000 was queued */
		r->close_queued = true;
		r->close_code = code;
	}
	relay_pump(r, false, false); /* sends it */
}

/* Client role: the local client reset before the server answered. The
 * owner is released (tcp_fd -1: nobody to answer), and the server connection
 * ends at once (close_notify, FIN), which stops the server's dial too. (A FIN
 * is a half-close that may still want the answer: it travels as a Close.) */
static void relay_leave(struct relay *r, const char *why)
{
	r->handshake = false;
	r->on_open(r->owner, -1, TUNNEL_ERR_GENERAL);
	r->broke = why;
	relay_tcp_close(r, true);
	relay_log_end(r);
	relay_linger(r);
}

/* Both Closes are through and every byte delivered (or dropped, after a
 * break). */
static void relay_finish(struct relay *r)
{
	if (r->switching) {
		/* The origin answered everything sent; the client's connection goes on
		 * in a new tunnel with the request that named another host. */
		struct relay_filter *f = r->filter;
		int fd = r->tcp_fd;
		struct buf rest = r->early;
		r->filter = NULL;
		r->early = (struct buf){0};
		rx_io_del(r->rx, &r->tcp_io);
		r->tcp_fd = -1;
		relay_linger(r);
		f->ops->handover(f, fd, &rest);
		return;
	}
	relay_log_end(r);
	if (r->raw) {
		/* tls://: both FINs were exchanged under the last records and the
		 * peer's was read; TLS 1.2 has nothing to add (no half-close). */
		relay_free(r);
		return;
	}
	relay_linger(r);
}

/* ---- up: TCP -> WebSocket ---- */

static bool is_client(const struct relay *r)
{
	return r->parser.role == WS_ROLE_CLIENT;
}

/* Turns len payload bytes at mem + HDR_ROOM into one frame, in place. */
static void queue_close(struct relay *r, uint16_t code);

static void up_frame(struct relay *r, size_t len)
{
	uint8_t hdr[WS_MAX_HEADER], key[4];
	const uint8_t *mask = NULL;
	r->up_payload = (uint32_t)len; /* counted in bytes_up once written */
	if (r->raw) { /* tls://: the payload goes out as it is */
		r->up.off = HDR_ROOM;
		r->up.len = (uint32_t)len;
		return;
	}
	if (r->seal) {
		/* Past 2^64 records the key is spent: the tunnel must end (never
		 * reached in practice; a Close without end record reads as broken). */
		if (seal_encrypt(&r->seal->s, r->up.mem + HDR_ROOM, len) < 0)
			queue_close(r, WS_CLOSE_POLICY);
		len += SEAL_TAG_LEN;
	}
	if (is_client(r)) {
		rand_bytes(key, sizeof(key)); /* RFC 6455 §5.3: fresh key per frame */
		mask = key;
		ws_mask(r->up.mem + HDR_ROOM, len, key, 0);
	}
	size_t hn = ws_frame_header(hdr, WS_OP_BINARY, true, len, mask);
	memcpy(r->up.mem + HDR_ROOM - hn, hdr, hn);
	r->up.off = (uint32_t)(HDR_ROOM - hn);
	r->up.len = (uint32_t)(hn + len);
}

/* Payload bytes one up frame may carry (room for the tag when sealing). */
static size_t up_room(const struct relay *r)
{
	return BUF_SIZE - HDR_ROOM - (r->seal ? SEAL_TAG_LEN : 0);
}

/* Appends a control frame to the (empty) up buffer. */
static void up_control(struct relay *r, enum ws_opcode op, const uint8_t *p, size_t n)
{
	uint8_t frame[WS_MAX_HEADER + WS_MAX_CTRL_PAYLOAD], key[4];
	const uint8_t *mask = NULL;
	if (is_client(r)) {
		rand_bytes(key, sizeof(key));
		mask = key;
	}
	buf_append(&r->up, frame, ws_control_frame(frame, op, p, n, mask));
}

/* Nothing of a frame is on its way to the ws side (a control frame may go). */
static bool up_idle(const struct relay *r)
{
	return buf_len(&r->up) == 0 && r->sp_hdr_len == 0 && r->sp_len == 0;
}

/* Client role with hold_early: until the server proved the key, local
 * bytes stay where they are (kernel buffer or early), only the upgrade
 * request goes out. */
static bool up_gated(const struct relay *r)
{
	return (r->handshake && r->hold_early) || (r->seal && !r->seal->keyed);
}

/* Between data frames: pong, keepalive ping, then close (always last). */
static void up_queue_controls(struct relay *r)
{
	if (!up_idle(r) || r->close_sent || up_gated(r))
		return;
	if (r->raw) {
		/* tls://: TLS 1.2 has no half-close (a close_notify must be answered
		 * at once, RFC 5246 §7.2.1), so our FIN is a TCP FIN under the last
		 * record, once every record is out. There are no pings. */
		if (r->close_queued && buf_len(&r->early) == 0 && stream_flushed(&r->ws)) {
			shutdown(r->ws.fd, SHUT_WR);
			r->close_sent = true;
		}
		r->ping_queued = r->pong_queued = false;
		return;
	}
	bool closing = r->close_queued &&
	               (buf_len(&r->early) == 0 || r->early_stalled || r->switching);
	if (closing && r->seal && r->seal->keyed && !r->seal->eof_sent &&
	    r->close_code == WS_CLOSE_NORMAL && buf_alloc(&r->up) == 0) {
		/* --encrypt: an empty record says "that was all", so a Close forged
		 * on the path cannot pass for the end of the stream (truncation). */
		up_frame(r, 0);
		r->seal->eof_sent = true;
	}
	if (r->pong_queued) {
		up_control(r, WS_OP_PONG, r->pong, r->pong_len);
		r->pong_queued = false;
	}
	if (r->ping_queued) {
		up_control(r, WS_OP_PING, NULL, 0);
		r->ping_queued = false;
	}
	if (closing) {
		uint8_t code[2] = {(uint8_t)(r->close_code >> 8), (uint8_t)r->close_code};
		up_control(r, WS_OP_CLOSE, code, r->close_code ? 2 : 0);
		r->close_sent = true;
	}
}

static void queue_close(struct relay *r, uint16_t code)
{
	if (r->close_queued)
		return;
	r->close_queued = true;
	r->close_code = code;
}

/* Plain HTTP proxying: bytes go to early first, the filter frames them. */
static int up_read_filtered(struct relay *r)
{
	if (buf_alloc(&r->early) < 0)
		return -1;
	size_t room = buf_room(&r->early);
	long n = room ? net_read(r->tcp_fd, buf_tail(&r->early), room) : -ENOBUFS;
	if (n == -EAGAIN)
		return 0;
	if (n < 0)
		return -1;
	if (n == 0) {
		r->tcp_eof = true;
		queue_close(r, WS_CLOSE_NORMAL);
		return 0;
	}
	buf_produced(&r->early, (size_t)n);
	r->early_stalled = false;
	return 0;
}

/* Server role over plain TCP: frames leave unmasked, so the payload can
 * travel target socket -> pipe -> client socket without being copied
 * (STYLE: splice where bytes pass unchanged). Client frames are masked and
 * TLS encrypts: both copy. */
static bool up_can_splice(const struct relay *r)
{
	return !is_client(r) && !r->ws.tls && !r->raw && !r->splice_off && !r->filter &&
	       !r->seal && buf_len(&r->early) == 0;
}

/* 0, -1 to abort, or 1 when splice is not possible here (copy instead). */
static int up_read_splice(struct relay *r)
{
	if (r->sp_pipe[0] < 0 && splice_pipe_get(r->sp_pipe) < 0)
		return 1; /* out of descriptors for a pipe: copy this time */
	long n = splice_move(r->tcp_fd, r->sp_pipe[1], SPLICE_PIPE_SIZE);
	if (n == -EINVAL || n == -ENOSYS) {
		r->splice_off = true;
		splice_pipe_put(r->sp_pipe);
		return 1;
	}
	if (n == -EAGAIN) {
		splice_pipe_put(r->sp_pipe); /* empty: an idle relay holds no pipe */
		return 0;
	}
	if (n < 0)
		return -1;
	if (n == 0) {
		splice_pipe_put(r->sp_pipe);
		r->tcp_eof = true;
		queue_close(r, WS_CLOSE_NORMAL);
		return 0;
	}
	r->sp_hdr_len = (uint8_t)ws_frame_header(r->sp_hdr, WS_OP_BINARY, true, (uint64_t)n, NULL);
	r->sp_hdr_off = 0;
	r->sp_len = (uint32_t)n;
	return 0;
}

/* Writes a spliced frame: header, then the pipe's payload. 1 when it is
 * all out, 0 when the socket is full, -1 on error. */
static int up_flush_splice(struct relay *r)
{
	while (r->sp_hdr_off < r->sp_hdr_len) {
		long n = net_write_more(r->ws.fd, r->sp_hdr + r->sp_hdr_off, r->sp_hdr_len - r->sp_hdr_off);
		if (n == -EAGAIN)
			return 0;
		if (n < 0)
			return -1;
		r->sp_hdr_off = (uint8_t)(r->sp_hdr_off + n);
	}
	while (r->sp_len) {
		long n = splice_move(r->sp_pipe[0], r->ws.fd, r->sp_len);
		if (n == -EAGAIN)
			return 0;
		if (n <= 0)
			return -1;
		r->sp_len -= (uint32_t)n;
		r->bytes_up += (uint64_t)n;
		count_up(r, (uint64_t)n);
	}
	r->sp_hdr_len = r->sp_hdr_off = 0;
	splice_pipe_put(r->sp_pipe);
	r->last_tx_ms = rx_now(r->rx);
	return 1;
}

#define UP_WS_FAILED (-2) /* up_read: the WebSocket leg failed, not the TCP side */
/* Header bytes reserved in front of a payload read into the engine: its
 * records carry at most TLS_OUT_FRAG (<= 16384) bytes, so the length always
 * fits the 16-bit form. */
#define UP_DIRECT_HDR(r) ((r)->raw ? 0u : is_client(r) ? 8u : 4u)

/* TLS with nothing buffered, no filter and no seal: the payload is read
 * straight into the engine's next record and framed there. */
static bool up_can_direct(const struct relay *r)
{
	return r->ws.tls && !r->seal && !r->filter && buf_len(&r->early) == 0;
}

/* Frames n payload bytes read into p + UP_DIRECT_HDR in place; returns the
 * frame's size from p. A payload under 126 bytes has the 2-byte header: it
 * moves up by 2 (small, so cheap). */
static size_t up_frame_direct(struct relay *r, uint8_t *p, size_t n)
{
	size_t room = UP_DIRECT_HDR(r);
	if (r->raw)
		return n;
	uint8_t hdr[WS_MAX_HEADER], key[4];
	const uint8_t *mask = NULL;
	if (is_client(r)) {
		rand_bytes(key, sizeof(key)); /* RFC 6455 §5.3: fresh key per frame */
		mask = key;
		ws_mask(p + room, n, key, 0);
	}
	size_t hn = ws_frame_header(hdr, WS_OP_BINARY, true, n, mask);
	if (hn < room)
		memmove(p + hn, p + room, n);
	memcpy(p, hdr, hn);
	return hn + n;
}

#define UP_DIRECT_BATCH 3 /* records read and sent per TCP readiness */

/* One record: 0 more may follow, 2 the read came short (the socket is
 * drained), 1 when the engine has too little room for it (copy instead),
 * -1 (TCP side) or UP_WS_FAILED. more: a full read lets the record leave
 * with MSG_MORE, so that the next one shares its segment and the peer
 * wakes once for both. */
static int up_read_record(struct relay *r, bool more)
{
	uint8_t *p;
	long room = stream_send_room(&r->ws, &p);
	r->up_engine_wait = room == -EAGAIN;
	if (room == -EAGAIN)
		return 2; /* the engine's record is still going out: a ws event follows */
	if (room < 0)
		return UP_WS_FAILED;
	size_t hdr = UP_DIRECT_HDR(r);
	if ((size_t)room < hdr + 126)
		return 1;
	size_t want = (size_t)room - hdr;
	long n = net_read(r->tcp_fd, p + hdr, want);
	if (n == -EAGAIN)
		return 2;
	if (n < 0)
		return -1;
	if (n == 0) {
		r->tcp_eof = true;
		queue_close(r, WS_CLOSE_NORMAL);
		return 2;
	}
	more = more && (size_t)n == want;
	if (stream_send_commit(&r->ws, up_frame_direct(r, p, (size_t)n), more) < 0)
		return UP_WS_FAILED;
	r->bytes_up += (uint64_t)n;
	count_up(r, (uint64_t)n);
	r->last_tx_ms = rx_now(r->rx);
	return more ? 0 : 2;
}

/* 0, 1 when the engine has too little room for it (copy instead), -1 (TCP
 * side) or UP_WS_FAILED. */
static int up_read_direct(struct relay *r)
{
	int rc = 0;
	for (int i = 0; i < UP_DIRECT_BATCH && rc == 0; i++)
		rc = up_read_record(r, i + 1 < UP_DIRECT_BATCH);
	stream_push(&r->ws); /* a record that waited for a successor that did not come */
	return rc == 2 ? 0 : rc;
}

/* 0, -1 when the relay must be aborted, or UP_WS_FAILED. */
static int up_read(struct relay *r)
{
	if (r->tcp_eof || r->close_queued)
		return 0;
	/* Held bytes wait in early, so that a local reset is seen before the
	 * 101 too (the server then stops dialling for us). */
	if (up_gated(r))
		return up_read_filtered(r);
	if (!up_idle(r) || (buf_len(&r->early) > 0 && !r->early_stalled))
		return 0;
	if (r->filter)
		return up_read_filtered(r);
	if (up_can_splice(r)) {
		int rc = up_read_splice(r);
		if (rc <= 0)
			return rc;
		/* 1: splice refused here, copy from now on */
	}
	if (up_can_direct(r)) {
		int rc = up_read_direct(r);
		if (rc <= 0)
			return rc;
		/* 1: a record too small for a frame: copy this once */
	}
	if (buf_alloc(&r->up) < 0)
		return -1;
	long n = net_read(r->tcp_fd, r->up.mem + HDR_ROOM, up_room(r));
	if (n == -EAGAIN)
		return 0;
	if (n < 0)
		return -1;
	if (n == 0) {
		r->tcp_eof = true; /* half-close travels as a close frame */
		queue_close(r, WS_CLOSE_NORMAL);
		return 0;
	}
	up_frame(r, (size_t)n);
	return 0;
}

/* Frames bytes that arrived before the relay began, as a read would. */
static int up_take_early(struct relay *r)
{
	if (buf_alloc(&r->up) < 0)
		return -1;
	size_t n = buf_len(&r->early);
	if (r->filter) {
		size_t used = 0;
		enum relay_filter_rc rc = r->filter->ops->run(r->filter, buf_data(&r->early), n,
		                                         r->up.mem + HDR_ROOM, up_room(r), &used,
		                                         &n);
		if (rc == RELAY_FILTER_ERROR)
			return -1;
		buf_consume(&r->early, used);
		if (rc == RELAY_FILTER_SWITCH) {
			r->switching = true;
			queue_close(r, WS_CLOSE_NORMAL);
		} else if (n == 0) {
			r->early_stalled = true;
		}
		if (n)
			up_frame(r, n);
		return 0;
	}
	if (n > up_room(r))
		n = up_room(r);
	memcpy(r->up.mem + HDR_ROOM, buf_data(&r->early), n);
	buf_consume(&r->early, n);
	buf_release_if_empty(&r->early);
	up_frame(r, n);
	return 0;
}

static int up_flush(struct relay *r)
{
	for (;;) {
		if (r->sp_hdr_len) {
			int rc = up_flush_splice(r);
			if (rc <= 0)
				return rc;
		}
		up_queue_controls(r);
		if (buf_len(&r->up) == 0) {
			if (!buf_len(&r->early) || r->early_stalled || r->close_sent || r->switching ||
			    up_gated(r))
				return 0;
			if (up_take_early(r) < 0)
				return -1;
			continue; /* framed data, or a switch that queued the close */
		}
		long n = stream_write(&r->ws, buf_data(&r->up), buf_len(&r->up));
		if (n == -EAGAIN)
			return 0;
		if (n < 0)
			return -1;
		buf_consume(&r->up, (size_t)n);
		r->last_tx_ms = rx_now(r->rx);
		if (buf_len(&r->up) == 0) {
			r->bytes_up += r->up_payload;
			count_up(r, r->up_payload);
			r->up_payload = 0;
		}
	}
}

/* ---- down: WebSocket -> TCP ---- */

/* Client role over plain TCP: the server's frames are unmasked, so a
 * binary payload already announced by its header can go ws socket -> pipe ->
 * local socket untouched, once nothing is buffered before it. */
static bool down_can_splice_kind(const struct relay *r)
{
	return is_client(r) && !r->ws.tls && !r->raw && !r->splice_off && !r->handshake &&
	       !r->seal && r->tcp_fd >= 0;
}

static bool down_can_splice(const struct relay *r)
{
	return down_can_splice_kind(r) && r->dsp_len == 0 && r->down_pending == 0 &&
	       buf_len(&r->down) == 0 &&
	       ws_parser_payload_left(&r->parser) >= (r->down_hdr_only ? 1 : DOWN_SPLICE_MIN);
}

/* 0, -1 to abort, 1 when splice is refused here (read instead). */
static int down_read_splice(struct relay *r)
{
	if (r->dsp_pipe[0] < 0 && splice_pipe_get(r->dsp_pipe) < 0)
		return 1;
	uint64_t left = ws_parser_payload_left(&r->parser);
	long n = splice_move(r->ws.fd, r->dsp_pipe[1],
	                     left < SPLICE_PIPE_SIZE ? (size_t)left : SPLICE_PIPE_SIZE);
	if (n == -EINVAL || n == -ENOSYS) {
		r->splice_off = true;
		splice_pipe_put(r->dsp_pipe);
		return 1;
	}
	if (n == -EAGAIN) {
		splice_pipe_put(r->dsp_pipe);
		return 0;
	}
	if (n <= 0) {
		r->hs_err = TUNNEL_ERR_SERVER_SILENT;
		return -1; /* EOF inside a frame: the tunnel broke */
	}
	ws_parser_skip(&r->parser, (uint64_t)n);
	r->dsp_len = (uint32_t)n;
	r->down_hdr_only = true;
	r->last_rx_ms = r->last_tx_ms = rx_now(r->rx);
	r->ping_outstanding = false;
	return 0;
}

#define DOWN_SERVER_HDR_MAX 10 /* unmasked: 2 + 8-byte length */

/* Plain client between frames, after a spliced one: bulk is flowing, so a
 * read of the next header alone lets its payload go by splice too, instead
 * of reading up to 64 KiB of it into down and writing it out again. */
static bool down_header_only(const struct relay *r)
{
	return r->down_hdr_only && !r->parser.in_frame && buf_len(&r->down) == 0 &&
	       down_can_splice_kind(r);
}

/* TLS past the handshake, no seal: frames are parsed where the engine
 * decrypted them (down_parse_engine); down only holds a header or control
 * frame that a record boundary cut. */
static bool down_direct(const struct relay *r)
{
	return r->ws.tls && !r->seal && !r->handshake;
}

/* Reads into down (or, direct, just makes the engine decrypt the next
 * record): 0, or -1 when the WebSocket leg ended or failed. */
static int down_read(struct relay *r)
{
	if (down_can_splice(r)) {
		int rc = down_read_splice(r);
		if (rc <= 0)
			return rc;
	}
	if (r->dsp_len || r->close_rcvd)
		return 0;
	long n;
	if (down_direct(r) && r->down_pending) {
		return 0; /* its record stays in the engine until the slice is out */
	} else if (down_direct(r) && buf_len(&r->down) == 0) {
		uint8_t *p;
		n = stream_peek(&r->ws, &p); /* parsed there by down_process */
	} else {
		if (buf_alloc(&r->down) < 0)
			return -1;
		size_t room = buf_room(&r->down);
		if (down_direct(r) && room > WS_MAX_HEADER + WS_MAX_CTRL_PAYLOAD)
			room = WS_MAX_HEADER + WS_MAX_CTRL_PAYLOAD; /* completes the cut frame */
		if (down_header_only(r))
			room = DOWN_SERVER_HDR_MAX; /* the payload behind it goes by splice */
		r->down_hdr_only = false;
		if (room == 0)
			return 0;
		n = stream_read(&r->ws, buf_tail(&r->down), room);
		if (n > 0)
			buf_produced(&r->down, (size_t)n);
	}
	if (n == -EAGAIN)
		return 0;
	if (n == 0 && r->raw && !r->handshake) {
		r->close_rcvd = true; /* tls://: the peer's close_notify is its FIN */
		return 0;
	}
	if (n <= 0) {
		/* ws EOF without a close frame: the tunnel broke (or, before the 101,
		 * the server would not talk to us). */
		/* A reset after the connect succeeded is a server that would not
		 * talk to us (a TLS port spoken to in plain text, say), not a server
		 * that is down. */
		r->hs_err = n == 0 || n == -ECONNRESET || n == -EPIPE ? TUNNEL_ERR_SERVER_SILENT
		                                                      : TUNNEL_ERR_SERVER_DOWN;
		return -1;
	}
	r->last_rx_ms = r->last_tx_ms = rx_now(r->rx);
	r->ping_outstanding = false;
	return 0;
}

/* n bytes of the pending slice are out (or dropped): from the engine or
 * from down, wherever it sits. */
static void down_consume(struct relay *r, size_t n)
{
	if (r->down_in_engine)
		stream_consume(&r->ws, n);
	else
		buf_consume(&r->down, n);
}

/* Writes the pending payload slice; 1 when it is all out, 0 when blocked,
 * -1 when the TCP side cannot take it. */
static int down_write_pending(struct relay *r)
{
	if (r->tcp_fd < 0) {
		/* Broke: the TCP side is gone; payload before the peer's Close is
		 * dropped. */
		down_consume(r, r->down_pending);
		r->down_pending = 0;
		r->down_in_engine = false;
		if (r->dsp_len)
			splice_pipe_close(r->dsp_pipe);
		r->dsp_len = 0;
		return 1;
	}
	while (r->dsp_len) {
		long n = splice_move(r->dsp_pipe[0], r->tcp_fd, r->dsp_len);
		if (n == -EAGAIN)
			return 0;
		if (n <= 0)
			return -1;
		r->dsp_len -= (uint32_t)n;
		r->bytes_down += (uint64_t)n;
		count_down(r, (uint64_t)n);
		if (!r->dsp_len)
			splice_pipe_put(r->dsp_pipe);
	}
	while (r->down_pending) {
		uint8_t *p = buf_data(&r->down);
		if (r->down_in_engine)
			stream_plaintext(&r->ws, &p);
		long n = net_write(r->tcp_fd, p, r->down_pending);
		if (n == -EAGAIN)
			return 0;
		if (n < 0)
			return -1;
		down_consume(r, (size_t)n);
		r->down_pending -= (uint32_t)n;
		r->bytes_down += (uint64_t)n;
		count_down(r, (uint64_t)n);
	}
	r->down_in_engine = false;
	return 1;
}

static void down_control(struct relay *r, const struct ws_event *ev)
{
	switch (ev->type) {
	case WS_EV_DATA:
		return;
	case WS_EV_PING:
		memcpy(r->pong, ev->data, ev->len);
		r->pong_len = (uint8_t)ev->len;
		r->pong_queued = true;
		break;
	case WS_EV_PONG:
		break;
	case WS_EV_CLOSE:
		r->close_rcvd = true;
		r->peer_code = ev->close_code;
		log_trace("c%u close %u from peer", r->link.id, ev->close_code);
		break;
	}
}

static void down_event(struct relay *r, const struct ws_event *ev, size_t used)
{
	if (ev->type == WS_EV_DATA) {
		/* The slice ends where parsing stopped: drop the header bytes before it
		 * and keep the payload at the front as pending. */
		buf_consume(&r->down, used - ev->len);
		r->down_pending = (uint32_t)ev->len;
		r->down_in_engine = false;
		return;
	}
	down_control(r, ev);
	buf_consume(&r->down, used);
}

#define DOWN_PROTOCOL (-2) /* down_process: the peer broke the protocol */

/* One event from the plaintext the engine holds, parsed and unmasked where
 * it lies; a data slice becomes the pending payload, left in the engine. A
 * header or control frame cut by the record's end moves to down, where the
 * next record's first bytes complete it. 1 when something was taken, 0
 * when the engine holds nothing, or DOWN_PROTOCOL. */
static int down_parse_engine(struct relay *r)
{
	uint8_t *p;
	size_t len = stream_plaintext(&r->ws, &p), used = 0;
	if (len == 0)
		return 0;
	struct ws_event ev;
	enum ws_rc rc = ws_parser_feed(&r->parser, p, len, &used, &ev);
	if (rc < 0) {
		log_info("c%u peer broke the WebSocket protocol: %s", r->link.id, ws_strerror(rc));
		return DOWN_PROTOCOL;
	}
	if (rc == WS_EVENT && ev.type == WS_EV_DATA) {
		stream_consume(&r->ws, used - ev.len);
		r->down_pending = (uint32_t)ev.len;
		r->down_in_engine = ev.len > 0;
		return 1;
	}
	if (rc == WS_EVENT)
		down_control(r, &ev);
	stream_consume(&r->ws, used);
	if (rc == WS_NEED_MORE && len > used) {
		if (buf_alloc(&r->down) < 0 || buf_append(&r->down, p + used, len - used) != len - used)
			return DOWN_PROTOCOL; /* cannot happen: down is empty and holds 64 KiB */
		stream_consume(&r->ws, len - used);
	}
	return 1;
}

/* tls://: everything after the 101 is payload, written from the engine
 * once down (what came with the 101) is out. */
static int down_process_raw(struct relay *r)
{
	for (;;) {
		int w = down_write_pending(r);
		if (w <= 0)
			return w;
		if (buf_len(&r->down) == 0) {
			uint8_t *p;
			size_t len = down_direct(r) ? stream_plaintext(&r->ws, &p) : 0;
			if (len == 0)
				return 0;
			r->down_pending = (uint32_t)len;
			r->down_in_engine = true;
			continue;
		}
		r->down_pending = (uint32_t)buf_len(&r->down);
		r->down_in_engine = false;
	}
}

/* Parses and delivers what is buffered. 0, -1 when the TCP side cannot
 * take the payload, or DOWN_PROTOCOL. */
/* Removes n bytes that sit right behind the gathered record (a frame
 * header, a control frame): the record moves up by n, at most once per
 * frame, and not at all for a record that arrives in one frame. */
static void seal_cut(struct relay *r, size_t n)
{
	if (!n)
		return;
	uint8_t *p = buf_data(&r->down);
	memmove(p + n, p, r->seal->have);
	buf_consume(&r->down, n);
}

/* A whole record is at the front of down: open it. 0, or -1 when it fails
 * (logged). */
static int seal_record(struct relay *r)
{
	struct relay_seal *sl = r->seal;
	uint8_t *p = buf_data(&r->down);
	size_t n = sl->have;
	sl->have = 0;
	if (!sl->keyed) { /* client: the server's first message is its nonce */
		if (n != SEAL_NONCE_LEN) {
			log_warn("c%u --encrypt: the server sent no record nonce (is --encrypt on at "
			         "both ends?): closing", r->link.id);
			return -1;
		}
		seal_init(&sl->s, sl->base, sl->cnonce, p, true);
		sl->keyed = true;
		buf_consume(&r->down, n);
		return 0;
	}
	long len = seal_open(&sl->s, p, n);
	if (len < 0 || sl->eof_rcvd) {
		log_warn("c%u --encrypt: %s: closing", r->link.id,
		         len < 0 ? "a record failed authentication (tampered on the way, or the "
		                   "other side has another key)"
		                 : "data after the end record");
		return -1;
	}
	if (len == 0) {
		sl->eof_rcvd = true;
		buf_consume(&r->down, n);
		return 0;
	}
	r->down_pending = (uint32_t)len;
	sl->drop = SEAL_TAG_LEN;
	return 0;
}

/* A sealed tunnel's control frame (its bytes are cut from behind the
 * record by the caller). 0, or -1 for a Close 1000 that does not follow
 * the end record: the end of the stream was forged or cut (logged). */
static int seal_control(struct relay *r, const struct ws_event *ev)
{
	if (ev->type == WS_EV_PING) {
		memcpy(r->pong, ev->data, ev->len);
		r->pong_len = (uint8_t)ev->len;
		r->pong_queued = true;
	} else if (ev->type == WS_EV_CLOSE) {
		bool clean = ev->close_code == WS_CLOSE_NORMAL || ev->close_code == WS_CLOSE_NONE;
		if (clean && r->seal->keyed && !r->seal->eof_rcvd) {
			log_warn("c%u --encrypt: Close without the end record (cut on the way?): "
			         "closing as broken", r->link.id);
			return -1;
		}
		r->close_rcvd = true;
		r->peer_code = ev->close_code; /* another code: its side broke */
	}
	return 0;
}

/* --encrypt: parses behind the record being gathered; only opened records
 * reach the TCP side. As down_process; a failed record is DOWN_PROTOCOL. */
static int down_process_sealed(struct relay *r)
{
	struct relay_seal *sl = r->seal;
	for (;;) {
		int w = down_write_pending(r);
		if (w <= 0)
			return w;
		if (sl->drop) {
			buf_consume(&r->down, sl->drop);
			sl->drop = 0;
		}
		size_t len = buf_len(&r->down);
		if (r->close_rcvd || len <= sl->have)
			return 0;
		size_t used = 0;
		struct ws_event ev;
		enum ws_rc rc = ws_parser_feed(&r->parser, buf_data(&r->down) + sl->have,
		                               len - sl->have, &used, &ev);
		if (rc < 0) {
			log_info("c%u peer broke the WebSocket protocol: %s", r->link.id, ws_strerror(rc));
			return DOWN_PROTOCOL;
		}
		bool data = rc == WS_EVENT && ev.type == WS_EV_DATA;
		if (rc == WS_EVENT && !data && seal_control(r, &ev) < 0)
			return DOWN_PROTOCOL;
		seal_cut(r, used - (data ? ev.len : 0));
		if (rc == WS_NEED_MORE) {
			if (buf_room(&r->down) == 0) { /* full, and the record still open */
				log_warn("c%u --encrypt: a record larger than %u bytes: closing",
				         r->link.id, (unsigned)SEAL_MAX_RECORD);
				return DOWN_PROTOCOL;
			}
			return 0;
		}
		if (!data)
			continue;
		sl->have += (uint32_t)ev.len;
		if (sl->have > SEAL_MAX_RECORD) {
			log_warn("c%u --encrypt: a record larger than %u bytes: closing", r->link.id,
			         (unsigned)SEAL_MAX_RECORD);
			return DOWN_PROTOCOL;
		}
		if (ev.fin && seal_record(r) < 0)
			return DOWN_PROTOCOL;
	}
}

static int down_process(struct relay *r)
{
	if (r->raw)
		return down_process_raw(r);
	if (r->seal)
		return down_process_sealed(r);
	for (;;) {
		int w = down_write_pending(r);
		if (w <= 0)
			return w;
		if (r->close_rcvd)
			return 0;
		if (buf_len(&r->down) == 0) {
			int e = down_direct(r) ? down_parse_engine(r) : 0;
			if (e <= 0)
				return e;
			continue;
		}
		size_t used = 0;
		struct ws_event ev;
		enum ws_rc rc = ws_parser_feed(&r->parser, buf_data(&r->down), buf_len(&r->down),
		                               &used, &ev);
		if (rc == WS_EVENT) {
			down_event(r, &ev, used);
			continue;
		}
		buf_consume(&r->down, used);
		if (rc == WS_NEED_MORE)
			return 0;
		log_info("c%u peer broke the WebSocket protocol: %s", r->link.id, ws_strerror(rc));
		return DOWN_PROTOCOL;
	}
}

/* Client role: reads the server's answer to the upgrade. 0 while waiting or
 * open, -1 when the owner was told of a refusal (or must abort). */
static int down_handshake(struct relay *r)
{
	const char *p = (const char *)buf_data(&r->down);
	int end = http_head_end(p, buf_len(&r->down), &r->head_scanned);
	if (end == HTTP_NEED_MORE)
		return 0;
	struct http_response resp;
	enum tunnel_err err = TUNNEL_ERR_GENERAL;
	if (end > 0 && http_parse_response(p, (size_t)end, &resp) > 0) {
		err = tunnel_response_err(&resp, &r->expect);
	}
	r->handshake = false;
	relay_count_open(r, err);
	r->on_open(r->owner, r->tcp_fd, err);
	if (err != TUNNEL_OK) {
		log_debug("c%u server refused the tunnel: %s", r->link.id, tunnel_err_text(err));
		relay_free(r);
		return -1;
	}
	relay_tell(r, true);
	buf_consume(&r->down, (size_t)end);
	return 0;
}

/* ---- lifecycle ---- */

/* TLS: plaintext the engine already decrypted (while we wrote, say), or the
 * end it already met, gets no readiness of its own; take it now. */
static bool ws_plaintext_waiting(const struct relay *r)
{
	return stream_readable_now(&r->ws) && !r->close_rcvd && r->down_pending == 0 &&
	       r->dsp_len == 0 &&
	       (!r->down.mem || buf_len(&r->down) < BUF_SIZE);
}

static void relay_arm(struct relay *r);

static bool relay_done(const struct relay *r)
{
	return r->close_sent && r->close_rcvd && up_idle(r) && r->down_pending == 0 &&
	       r->dsp_len == 0;
}

static void relay_update(struct relay *r)
{
	if (r->close_rcvd && r->down_pending == 0 && r->dsp_len == 0 && !r->tcp_shut &&
	    !r->switching && r->tcp_fd >= 0) {
		shutdown(r->tcp_fd, SHUT_WR); /* peer's close = its half-close */
		r->tcp_shut = true;
	}
	unsigned tcp = 0, ws = 0;
	if (up_gated(r) ? !r->tcp_eof && !r->close_queued && (!r->early.mem || buf_room(&r->early))
	                : up_idle(r) && (buf_len(&r->early) == 0 || r->early_stalled) &&
	                      !r->tcp_eof && !r->close_queued && !r->up_engine_wait)
		tcp |= RX_READ;
	if (r->down_pending || r->dsp_len)
		tcp |= RX_WRITE;
	if (!r->close_rcvd && r->dsp_len == 0 && (!r->down.mem || buf_room(&r->down) > 0))
		ws |= RX_READ; /* not while a spliced payload waits: it would spin */
	if (!up_idle(r))
		ws |= RX_WRITE;
	buf_release_if_empty(&r->up);
	buf_release_if_empty(&r->early);
	if (r->down_pending == 0)
		buf_release_if_empty(&r->down);
	rx_io_want(r->rx, &r->tcp_io, tcp);
	rx_io_want(r->rx, &r->ws_io, stream_interest(&r->ws, ws));
	/* TLS plaintext left in the engine (a long burst, see relay_pump) wakes
	 * us on the next loop turn: no socket event will. */
	if (ws_plaintext_waiting(r))
		rx_timer_arm(r->rx, &r->timer, rx_now(r->rx), relay_on_timer);
	else if (!r->timer.armed)
		relay_arm(r);
}

/* The TCP side reset, or could not take the payload (its reader is gone). */
static void relay_tcp_broke(struct relay *r)
{
	if (r->handshake)
		return relay_leave(r, "the local client reset before the tunnel opened");
	relay_break(r, WS_CLOSE_GOING_AWAY,
	            is_client(r) ? "local connection reset" : "target connection reset");
}

/* The peer's Close carried another code than 1000: its side broke. */
static bool peer_broke(const struct relay *r)
{
	return r->close_rcvd && !r->raw && r->peer_code != WS_CLOSE_NONE &&
	       r->peer_code != WS_CLOSE_NORMAL;
}

/* One pass over both directions after any readiness. */
static void relay_pump(struct relay *r, bool tcp_readable, bool ws_readable)
{
	int up = tcp_readable ? up_read(r) : 0;
	if (up == UP_WS_FAILED)
		return relay_drop(r, "the WebSocket connection failed");
	if (up < 0)
		return relay_tcp_broke(r);
	for (int i = 0; i < 16; i++) {
		bool hdr_only = ws_readable && down_header_only(r);
		if (ws_readable && down_read(r) < 0) /* tls://: a RST is how the peer aborts */
			return relay_drop(r, r->raw ? "the peer reset the connection"
			                            : "the WebSocket connection ended without a Close");
		if (r->handshake && down_handshake(r) < 0)
			return; /* refused: the owner answered, the relay is gone */
		int rc = r->handshake ? 0 : down_process(r);
		if (rc == DOWN_PROTOCOL) {
			r->close_rcvd = true; /* nothing parses any more: no Close to wait for */
			return relay_break(r, WS_CLOSE_PROTOCOL, "the peer broke the WebSocket protocol");
		}
		if (rc < 0)
			return relay_tcp_broke(r);
		if (peer_broke(r) && !r->broke)
			return relay_break(r, r->peer_code, r->peer_code == WS_CLOSE_PROTOCOL
			                                        ? "the peer saw a protocol error"
			                                        : "reset on the other side");
		if (up_flush(r) < 0)
			return relay_drop(r, "the WebSocket connection failed");
		/* A header read alone: its payload is most likely there already. */
		bool splice_next = ws_readable && hdr_only && down_can_splice(r);
		if (!ws_plaintext_waiting(r) && !splice_next)
			break;
		ws_readable = true;
	}
	if (relay_done(r))
		return relay_finish(r);
	relay_update(r);
}

/* Over (both Closes through, or the local client gone before the 101):
 * close_notify under TLS, our FIN, then the peer's FIN is awaited, so that
 * its last bytes never turn our close into a RST (RFC 6455 §7.1.1 wants the
 * server to close TCP first; both sides half-close at once here, which
 * costs one round trip). RELAY_CLOSE_MS bounds the wait. */
static void relay_linger(struct relay *r)
{
	relay_tcp_close(r, false);
	relay_pipes_release(r);
	buf_free(&r->up);
	buf_free(&r->down);
	buf_free(&r->early);
	r->lingering = true;
	r->close_at = rx_now(r->rx) + RELAY_CLOSE_MS;
	stream_shutdown(&r->ws);
	relay_linger_pump(r);
}

/* Discards what the peer still sends until its FIN (or close_notify), then
 * frees r; at the deadline, frees it anyway. */
static void relay_linger_pump(struct relay *r)
{
	uint8_t sink[1024];
	if (rx_now(r->rx) >= r->close_at) {
		log_debug("c%u peer did not finish closing within %u ms: cut", r->link.id,
		          RELAY_CLOSE_MS);
		return relay_free(r);
	}
	if (stream_pump(&r->ws, 0) < 0)
		return relay_free(r);
	if (r->ws.tls && !r->ws_fin && stream_flushed(&r->ws)) {
		shutdown(r->ws.fd, SHUT_WR); /* under the close_notify, once it is out */
		r->ws_fin = true;
	}
	for (int i = 0; i < 16; i++) {
		long n = stream_read(&r->ws, sink, sizeof(sink));
		if (n == -EAGAIN)
			break;
		if (n <= 0)
			return relay_free(r); /* its FIN, close_notify or reset: over */
	}
	rx_io_want(r->rx, &r->ws_io, stream_interest(&r->ws, RX_READ));
	rx_timer_arm(r->rx, &r->timer, stream_readable_now(&r->ws) ? rx_now(r->rx) : r->close_at,
	             relay_on_timer);
}

static void relay_on_tcp(struct rx *rx, struct rx_io *io, unsigned events)
{
	(void)rx;
	relay_pump(RELAY_OF(tcp_io, io), events & RX_READ, false);
}

static void relay_on_ws(struct rx *rx, struct rx_io *io, unsigned events)
{
	struct relay *r = RELAY_OF(ws_io, io);
	(void)rx;
	if (r->lingering)
		return relay_linger_pump(r);
	int rc = stream_pump(&r->ws, events);
	if (rc < 0) {
		bool reset = rc == -ECONNRESET || rc == -EPIPE; /* tls://: the peer's abort */
		if (!r->handshake && !reset) /* relay_drop names it during the handshake */
			log_info("c%u TLS: %s", r->link.id,
			         stream_error(&r->ws) ? stream_error(&r->ws) : "connection failed");
		return relay_drop(r, reset ? "the peer reset the connection" : "TLS failed");
	}
	/* With TLS any event may have moved records: read what the pump
	 * decrypted even on a write event; and TCP, when it waited for room in
	 * the engine (up_engine_wait). */
	relay_pump(r, r->up_engine_wait, (events & RX_READ) || stream_readable_now(&r->ws));
}

/* The earliest moment something may be due: idle close, keepalive ping or
 * pong deadline, or (ending) the close deadline alone; 0 when none is
 * configured. Deadlines are stored, not re-armed per byte: the timer wakes
 * at the oldest possible deadline and recomputes (STYLE: traffic does not
 * reshuffle the heap). */
static uint64_t relay_next_due(const struct relay *r)
{
	const struct relay_opts *o = r->opts;
	uint64_t due = 0;
	if (r->close_at)
		return r->close_at;
	if (o->idle_ms)
		due = r->last_tx_ms + o->idle_ms;
	if (o->keepalive_ms && !r->raw) { /* tls:// has no ping */
		uint64_t k = r->last_rx_ms + o->keepalive_ms;
		if (r->ping_outstanding)
			k += o->pong_timeout_ms;
		if (!due || k < due)
			due = k;
	}
	return due;
}

static void relay_arm(struct relay *r)
{
	uint64_t due = relay_next_due(r);
	if (due)
		rx_timer_arm(r->rx, &r->timer, due, relay_on_timer);
}

static void relay_on_timer(struct rx *rx, struct rx_timer *t)
{
	struct relay *r = RELAY_OF(timer, t);
	uint64_t now = rx_now(rx);
	const struct relay_opts *o = r->opts;
	if (r->lingering)
		return relay_linger_pump(r);
	if (r->close_at && now >= r->close_at) { /* checked first: a flood must not hide it */
		log_debug("c%u peer did not answer our Close within %u ms: cut", r->link.id,
		          RELAY_CLOSE_MS);
		return relay_drop(r, r->broke);
	}
	if (ws_plaintext_waiting(r)) {
		relay_pump(r, false, true); /* re-arms through relay_update */
		return;
	}
	if (r->close_at)
		return relay_arm(r);
	if (o->idle_ms && now - r->last_tx_ms >= o->idle_ms) {
		log_info("c%u idle for %u ms: closing", r->link.id, o->idle_ms);
		if (r->handshake) /* no 101 yet: the owner answers its client */
			return relay_drop(r, "idle timeout");
		return relay_break(r, WS_CLOSE_GOING_AWAY, "idle timeout");
	}
	if (r->ping_outstanding && now - r->last_rx_ms >= o->keepalive_ms + o->pong_timeout_ms) {
		log_info("c%u peer did not answer a ping: closing", r->link.id);
		return relay_drop(r, "no answer to a ping");
	}
	if (o->keepalive_ms && !r->raw && !r->ping_outstanding &&
	    now - r->last_rx_ms >= o->keepalive_ms) {
		r->ping_queued = r->ping_outstanding = true;
		if (up_flush(r) < 0)
			return relay_drop(r, "the WebSocket connection failed");
		relay_update(r);
	}
	relay_arm(r);
}

/* --encrypt: the server picks its nonce now and sends it as its first
 * message, right behind the 101; the client waits for it (up_gated). */
static int relay_seal_start(struct relay *r, const struct relay_args *a)
{
	struct relay_seal *sl = calloc(1, sizeof(*sl));
	if (!sl)
		return -1;
	r->seal = sl;
	sl->base = a->seal_base;
	memcpy(sl->cnonce, a->seal_nonce, sizeof(sl->cnonce));
	if (is_client(r))
		return 0;
	uint8_t frame[WS_MAX_HEADER + SEAL_NONCE_LEN];
	size_t hn = ws_frame_header(frame, WS_OP_BINARY, true, SEAL_NONCE_LEN, NULL);
	if (rand_bytes(frame + hn, SEAL_NONCE_LEN) < 0)
		return -1;
	seal_init(&sl->s, sl->base, sl->cnonce, frame + hn, false);
	sl->keyed = true;
	return buf_append(&r->up, frame, hn + SEAL_NONCE_LEN) == hn + SEAL_NONCE_LEN ? 0 : -1;
}

/* --metrics: bytes count from the start (a client's early ones too); the
 * tunnel itself once open: a server's 101 goes out with the preamble, a
 * client's is counted when it arrives (down_handshake). */
static void relay_count_start(struct relay *r, const struct relay_args *a)
{
	if (!a->count || !r->list->stats)
		return;
	r->stats = r->list->stats;
	r->up_dir = a->count == RELAY_COUNT_TCP_CLIENT ? STATS_C2T : STATS_T2C;
	if (a->role == WS_ROLE_SERVER)
		relay_count_open(r, TUNNEL_OK);
}

int relay_start(struct rx *rx, struct conn_list *list, const struct relay_opts *opts,
                const struct relay_args *a)
{
	struct relay *r = calloc(1, sizeof(*r));
	if (!r || rx_io_add(rx, &r->tcp_io, a->tcp_fd, relay_on_tcp) < 0) {
		free(r);
		close(a->tcp_fd);
		struct stream ws = a->ws;
		stream_close(&ws);
		relay_filter_free(a->filter);
		return -1;
	}
	rx_io_add(rx, &r->ws_io, a->ws.fd, relay_on_ws);
	r->rx = rx;
	r->list = list;
	r->tcp_fd = a->tcp_fd;
	r->ws = a->ws;
	r->opts = opts;
	r->on_open = a->on_open;
	r->owner = a->owner;
	r->filter = a->filter;
	r->raw = a->raw;
	r->hold_early = a->hold_early;
	r->twin_id = a->twin_id;
	r->sp_pipe[0] = r->sp_pipe[1] = -1;
	r->dsp_pipe[0] = r->dsp_pipe[1] = -1;
	r->handshake = a->role == WS_ROLE_CLIENT && !a->opened;
	r->hs_err = TUNNEL_ERR_SERVER_DOWN; /* until the server says otherwise */
	if (a->expect)
		r->expect = *a->expect;
	relay_count_start(r, a);
	conn_list_add_as(list, &r->link, relay_destroy_link, a->id, a->peer);
	if (a->role == WS_ROLE_SERVER)
		relay_tell(r, true); /* the 101 is the preamble: bytes flow now */
	r->link.lingers = true; /* a tunnel may finish while its server drains */
	r->link.going_away = relay_going_away_link;
	ws_parser_init(&r->parser, a->role, opts->max_message);
	r->last_rx_ms = r->last_tx_ms = rx_now(rx);
	if (a->ws_in) {
		r->down = *a->ws_in;
		*a->ws_in = (struct buf){0};
	}
	if (a->preamble_len)
		buf_append(&r->up, a->preamble, a->preamble_len);
	if (a->seal_base && relay_seal_start(r, a) < 0) {
		relay_free(r);
		return -1;
	}
	if (a->tcp_in) {
		r->early = *a->tcp_in; /* the client's 0-RTT bytes, framed behind the preamble */
		*a->tcp_in = (struct buf){0};
	}
	relay_arm(r);
	relay_pump(r, false, false);
	return 0;
}
