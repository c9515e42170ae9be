/* wsconn.h — a server-side WebSocket endpoint connection (--echo, --ping):
 * the upgrade answered, frames parsed, pings answered, the close handshake
 * and the linger for the peer's FIN. The endpoint sees only data slices and
 * its own deadline. Owns the connection from the handoff to the last byte. */
#ifndef WSF_TUN_WSCONN_H
#define WSF_TUN_WSCONN_H

#include "proto/ws.h"
#include "tun/handoff.h"

enum wsconn_state {
	WSCONN_OPEN = 0,
	WSCONN_CLOSING,  /* close frame queued: flush, then half-close */
	WSCONN_DRAINING, /* half-closed: discard input until the peer's FIN */
};

struct wsconn;

struct wsconn_ops {
	/* A slice of a data message (ev->type == WS_EV_DATA). */
	void (*on_data)(struct wsconn *c, const struct ws_event *ev);
	/* The deadline set with wsconn_deadline passed (while OPEN). */
	void (*on_deadline)(struct wsconn *c);
	/* The parser refused the peer's bytes (rc); default: close with its code. */
	void (*on_error)(struct wsconn *c, enum ws_rc rc);
	/* Optional: the 101 is queued and nothing is sent yet (a greeting
	 * goes here). c may be destroyed by the first flush right after. */
	void (*on_open)(struct wsconn *c);
	/* Frees what the endpoint added around its struct wsconn. */
	void (*on_free)(struct wsconn *c);
};

struct wsconn {
	struct conn_link link;
	struct rx *rx;
	struct conn_list *conns;
	struct rx_io io;
	struct rx_timer timer;       /* the endpoint's deadline, then the linger */
	struct rx_timer kick;        /* TLS plaintext waiting: come back next turn */
	struct stream s;
	enum wsconn_state state;
	struct ws_parser parser;
	struct buf in, out;
	uint64_t last_rx_ms;         /* the peer's last byte (any byte: it is alive) */
	size_t out_high;             /* stop reading while out holds more */
	const struct wsconn_ops *ops;
	const char *what;            /* "echo", "ping": for logs */
};

/* Answers a valid upgrade in h with 101 and starts c (allocated by the
 * endpoint, zeroed, possibly inside a larger struct). An invalid upgrade
 * gets its status (400/426/405: public endpoints). deadline_ms (0: none)
 * counts from the 101. 0, or -1 (h->s closed; c untouched, the caller frees
 * it). */
int wsconn_accept(struct wsconn *c, struct handoff *h, const struct wsconn_ops *ops,
                  uint64_t max_message, size_t out_high, unsigned deadline_ms);

/* Queues a whole unmasked frame. */
void wsconn_frame(struct wsconn *c, enum ws_opcode op, bool fin, const void *p, size_t n);
/* Sends a whole pre-built frame (a broadcast: the same bytes for many
 * connections): written at once when nothing waits, the rest queued in out.
 * Unless c is OPEN it is dropped. 0, or -1 when more than limit (<= BUF_SIZE)
 * bytes would wait: nothing was queued and the peer is not reading. Never
 * destroys c (a write error is found on the next loop turn). */
int wsconn_send_frame(struct wsconn *c, const void *frame, size_t n, size_t limit);
/* Queues a close frame (code 0: none) and stops reading data; the
 * connection is cut if the frame is not out within the linger (a peer that
 * never reads cannot hold it). */
void wsconn_close(struct wsconn *c, uint16_t code);
/* Half-closes now, without a close frame, and lingers for the peer's FIN. */
void wsconn_hang_up(struct wsconn *c);
/* Arms the endpoint's deadline (ms from now). */
void wsconn_deadline(struct wsconn *c, unsigned ms);
/* Tears down at once. */
void wsconn_destroy(struct wsconn *c);

#endif
