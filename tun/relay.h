/* relay.h — one tunneled TCP connection: bytes from a plain TCP socket
 * become binary WebSocket frames on the other socket and back, with
 * half-close, backpressure (one buffer per direction at most) and keepalive.
 * Owns both fds and both buffers from relay_start to its teardown. */
#ifndef WSF_TUN_RELAY_H
#define WSF_TUN_RELAY_H

#include <stdint.h>

#include "core/buf.h"
#include "core/rx.h"
#include "proto/tunnel.h"
#include "proto/ws.h"
#include "tun/conn.h"
#include "tun/stream.h"

struct relay;

/* What --metrics counts a relay as (list->stats, tun/stats.h): a tunnel
 * whose TCP side is its target (connect tunnels) or its client (-R, and the
 * client's own tunnels), or nothing (legs inside the server: channels,
 * published routes). */
enum relay_count {
	RELAY_COUNT_NONE = 0,
	RELAY_COUNT_TCP_TARGET,
	RELAY_COUNT_TCP_CLIENT,
};

/* Client role only, called exactly once: TUNNEL_OK when the server's 101
 * arrived (frames flow from now on), else why the tunnel could not open (the
 * server's refusal, or the server unreachable). During the call the owner may
 * write its reply (SOCKS, HTTP) to tcp_fd; after an error the relay closes
 * both fds itself. tcp_fd is -1 when the local client left first (nobody to
 * answer, nothing to report). The relay never touches owner afterwards. */
typedef void (*relay_open_fn)(void *owner, int tcp_fd, enum tunnel_err err);

struct relay_opts {
	uint64_t max_message;     /* per WebSocket message from the peer */
	unsigned keepalive_ms;    /* ping after this much silence (0: never) */
	unsigned pong_timeout_ms; /* no byte from the peer this long after a ping: dead */
	unsigned idle_ms;         /* no byte either way this long: close (0: never) */
};

/* A rewriter of the TCP -> ws byte stream, behind a small interface so the
 * relay needs no proxy code (plain HTTP proxying: tun/client/httpfilter.c).
 * The relay owns it from relay_start on and frees it through its ops. */
enum relay_filter_rc {
	RELAY_FILTER_OK = 0,     /* *used / *produced tell the progress */
	RELAY_FILTER_SWITCH = 1, /* stop here: the rest belongs to another tunnel */
	RELAY_FILTER_ERROR = -1, /* give the connection up */
};

struct relay_filter;

struct relay_filter_ops {
	/* Moves bytes from in to out; on NEED-MORE both counts are 0 with OK. */
	enum relay_filter_rc (*run)(struct relay_filter *f, const uint8_t *in, size_t n,
	                            uint8_t *out, size_t cap, size_t *used, size_t *produced);
	/* After SWITCH, once the tunnel ended: the TCP fd and its unsent bytes
	 * (*rest, taken) continue elsewhere; the filter is the callee's. */
	void (*handover)(struct relay_filter *f, int fd, struct buf *rest);
	void (*free)(struct relay_filter *f);
};

/* Embedded first in the filter's own struct. */
struct relay_filter {
	const struct relay_filter_ops *ops;
};

/* f->ops->free(f), nothing for NULL. */
void relay_filter_free(struct relay_filter *f);

/* What relay_start takes over. */
struct relay_args {
	unsigned id;
	int tcp_fd;               /* non-blocking; taken in every outcome */
	struct stream ws;         /* the WebSocket leg (plain or TLS); taken */
	enum ws_role role;
	struct buf *tcp_in;       /* TCP bytes not yet sent (framed first); taken */
	struct buf *ws_in;        /* ws bytes not yet parsed (frames, or the 101 head
	                           * in client role); taken */
	const void *preamble;     /* written raw to ws first: the server's 101 or
	                           * the client's upgrade request; may be NULL */
	size_t preamble_len;
	const struct tunnel_expect *expect; /* client role: what the 101 must show */
	relay_open_fn on_open;    /* client role */
	void *owner;
	struct relay_filter *filter; /* plain HTTP proxying (owned from here on) */
	struct conn_peer *peer;   /* server: the client's address, counted */
	bool raw;                 /* tls://: no WebSocket frames after the 101 */
	bool opened;              /* client role: the server already answered (a
	                           * pooled connection, --pool): no 101 to wait
	                           * for, on_open is not called */
	bool hold_early;          /* client role: no TCP byte leaves before the
	                           * server's 101 proved the key (a fake server on
	                           * an unauthenticated leg gets nothing) */
	const uint8_t *seal_base; /* --encrypt: auth_keys.payload (32 bytes, must
	                           * outlive the relay); NULL: plain frames */
	const uint8_t *seal_nonce; /* --encrypt: the request's nonce (16, copied) */
	unsigned twin_id;         /* a join of two WebSockets (tun/publish/channel.c):
	                           * the id of the relay holding the other end of
	                           * our TCP side's socketpair, which can only say
	                           * EOF; a reset either side breaks the other too.
	                           * 0: none */
	uint8_t count;            /* enum relay_count */
};

/* Starts relaying. In client role the relay first waits for the 101 and
 * reports it through on_open. Returns 0, or -1 when out of memory (fds
 * closed, on_open not called). */
int relay_start(struct rx *rx, struct conn_list *list, const struct relay_opts *opts,
                const struct relay_args *a);

/* Bytes moved so far, for logs and tests. */
uint64_t relay_bytes_up(const struct relay *r);
uint64_t relay_bytes_down(const struct relay *r);
/* For conn_events.tell: the connection id, and why it broke (NULL: not, or
 * not yet). */
unsigned relay_id(const struct relay *r);
const char *relay_broke(const struct relay *r);

#endif
