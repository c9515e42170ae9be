/* wsctl.h — a WebSocket that carries small control messages (the -R
 * registration channel), in either role: whole binary messages in and out,
 * pings after silence with a pong deadline, the close handshake. Owns its fd
 * and buffers; the owner gets callbacks and never touches the socket. */
#ifndef WSF_TUN_WSCTL_H
#define WSF_TUN_WSCTL_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/rx.h"
#include "proto/tunnel.h"
#include "proto/tunnel_exit.h"
#include "proto/ws.h"
#include "tun/stream.h"

/* Control messages are tiny (9 bytes; an exit's DIAL with a 255-byte name
 * the longest); more is a violation. */
#define WSCTL_MAX_MESSAGE TUNNEL_EXIT_MSG_MAX

struct wsctl;

struct wsctl_ops {
	/* Client role: the server's answer (TUNNEL_OK: open). */
	void (*on_open)(struct wsctl *w, enum tunnel_err err);
	void (*on_message)(struct wsctl *w, const uint8_t *p, size_t n);
	/* The channel is gone (closed, broken or dead); w is freed after. */
	void (*on_close)(struct wsctl *w);
};

struct wsctl {
	struct rx *rx;
	struct rx_io io;
	struct rx_timer timer;
	const struct wsctl_ops *ops;
	void *owner;
	struct stream s;  /* fd -1 once stopped */
	struct ws_parser parser;
	struct buf in, out;
	uint64_t last_rx_ms;
	unsigned keepalive_ms, pong_timeout_ms;
	size_t head_scanned;
	uint8_t msg[WSCTL_MAX_MESSAGE];
	uint16_t msg_len;
	bool handshake;     /* client: waiting for the 101 */
	bool ping_outstanding;
	bool closing;
	struct tunnel_expect expect;
};

/* Takes *s (connected or connecting; plain or TLS). preamble (client: the upgrade request;
 * server: the 101) is written first; in holds bytes already read (taken).
 * Client role waits for the 101 and reports it through ops->on_open. 0, or
 * -1 (stream closed, no callback). */
int wsctl_start(struct wsctl *w, struct rx *rx, struct stream *s, enum ws_role role,
                const void *preamble,
                size_t preamble_len, struct buf *in, const struct tunnel_expect *expect,
                unsigned keepalive_ms,
                const struct wsctl_ops *ops, void *owner);

/* Queues one binary message (<= WSCTL_MAX_MESSAGE). 0 or -1 (channel
 * closing or out of memory). */
int wsctl_send(struct wsctl *w, const void *p, size_t n);

/* Closes now, without callbacks. */
void wsctl_stop(struct wsctl *w);

#endif
