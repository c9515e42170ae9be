/* mux_int.h — the --mux carrier and its streams, shared by tun/mux/'s
 * modules (private): types only; functions sit in mux_carrier.h. */
#ifndef WSF_TUN_MUX_MUX_INT_H
#define WSF_TUN_MUX_MUX_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/rx.h"
#include "proto/mux.h"
#include "proto/tunnel.h"
#include "proto/ws.h"
#include "tun/conn.h"
#include "tun/dial.h"
#include "tun/relay.h"
#include "tun/stream.h"

/* A queue of transit buffers: a stream's bytes waiting for its socket
 * (bounded by its window), or a carrier's frames waiting for the wire.
 * Buffers come from core/buf's pool and go back as they empty. */
#define MUX_Q_BUFS 8
struct mux_q {
	struct buf b[MUX_Q_BUFS];
	uint8_t head, n;
	uint32_t len;
};

struct mux_carrier;
struct mux_pool;
struct mux_seal;
struct mux_server;

/* What the carrier leaves to its role (client pool or server end). */
struct mux_role_ops {
	/* Client: the 101 arrived (TUNNEL_OK) or the carrier failed before it. */
	void (*ready)(struct mux_carrier *c, enum tunnel_err err);
	/* Server: an OPEN for a new id (> every earlier one, a slot free). */
	void (*open)(struct mux_carrier *c, uint32_t id, const uint8_t *blob, size_t n);
	/* Right before the carrier is freed (its streams are gone already). */
	void (*gone)(struct mux_carrier *c);
};

struct mux_stream {
	struct mux_carrier *car;
	uint32_t id;
	unsigned log_id;        /* the tunnel's id in logs (c%u) */
	int fd;                 /* local (client) or target (server) TCP; -1 while dialling */
	struct rx_io io;
	struct mux_q pending;   /* the peer's DATA not yet written to fd */
	uint32_t credit;        /* DATA we may still send */
	uint32_t recv_left;     /* DATA the peer may still send us */
	uint32_t unacked;       /* written to fd since our last WINDOW */
	bool opened;            /* client: REPLY OK came; server: REPLY OK sent */
	bool open_sent;         /* client: OPEN queued; its bytes may follow at once
	                         * (the carrier's 101 proved the key already) */
	bool fin_sent, fin_rcvd, shut_wr;
	uint64_t up, down;      /* payload bytes, for the end line */
	/* client role, until the REPLY */
	relay_open_fn on_open;
	void *owner;
	struct buf early;
	uint16_t blob_len;
	char blob[TUNNEL_BLOB_MAX * 4 / 3 + 4]; /* the OPEN's signed request */
	/* server role, while dialling */
	struct dial dial;
	char target[TUNNEL_MAX_TARGET + 1];
};

struct mux_carrier {
	struct conn_link link;
	struct rx *rx;
	struct conn_list *conns;
	struct rx_io io;
	struct rx_timer timer;  /* keepalive, pong deadline, idle close */
	struct rx_timer kick;   /* TLS plaintext waiting: come back next turn */
	struct rx_timer flush;  /* small frames leave once this loop turn is over */
	bool flush_now;
	struct stream s;
	bool raw;               /* tls://: frames straight on the stream */
	bool client;            /* role: masks its WebSocket frames, opens streams */
	bool connecting;        /* client: no connection yet */
	bool handshake;         /* client: waiting for the 101 */
	bool ping_outstanding;
	bool dead;
	bool splice_off;        /* splice(2) refused here: copy */
	bool splice_hint;       /* the last big DATA was spliced: read headers alone */
	int dsp[2];             /* client, plain ws://: carrier -> pipe -> stream */
	bool peer_big;          /* server: the client takes DATA up to MUX_MAX_DATA_BIG */
	int usp[2];             /* server, plain ws://: stream -> pipe -> carrier */
	uint32_t usp_left;      /* payload bytes in usp still to write */
	uint8_t usp_hdr_len, usp_hdr_off; /* its frame's headers, written first */
	uint8_t usp_hdr[WS_MAX_HEADER + MUX_HEADER];
	struct mux_seal *seal;  /* --encrypt (ws://): each message one sealed record */
	enum tunnel_err err;    /* why it failed, for streams still waiting */
	const struct mux_role_ops *ops;
	struct ws_parser wsp;
	struct mux_parser mp;
	struct buf in;
	size_t head_scanned;
	struct mux_q out;
	struct tunnel_expect expect;
	const struct relay_opts *opts;
	struct mux_stream *streams[MUX_MAX_STREAMS];
	unsigned nstreams;
	uint32_t last_id;       /* client: the last id given; server: the last opened */
	uint64_t last_rx_ms, idle_since_ms;
	struct mux_pool *pool;  /* client */
	struct mux_server *srv; /* server */
	struct mux_carrier *next; /* in its pool */
};

#endif
