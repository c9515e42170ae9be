/* dgram.h — one UDP flow carried by one WebSocket, in either role: every
 * datagram is one binary message, both ways, so boundaries survive the byte
 * stream (man/wsferry-protocol.7, "UDP"). Datagrams that find no room are
 * dropped and counted, never queued without bound: at most one 64 KiB
 * buffer each way, held only while it holds bytes. Owns its WebSocket leg,
 * and its UDP socket in socket mode; the owner of a shared UDP socket (a
 * listener, a SOCKS association) feeds it datagrams in owner mode. */
#ifndef WSF_TUN_DGRAM_H
#define WSF_TUN_DGRAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/net.h"
#include "core/rx.h"
#include "proto/tunnel.h"
#include "proto/ws.h"
#include "tun/conn.h"
#include "tun/stream.h"

/* The largest UDP payload: 65,535 minus the 8-byte UDP header (RFC 768;
 * IPv4 also loses its own header, so this bounds both families). */
#define DGRAM_MAX 65527
#define DGRAM_DEFAULT_IDLE_MS 60000

struct dgram;

struct dgram_ops {
	/* Owner mode: a datagram from the peer, to send on. MUST NOT close d. */
	void (*on_datagram)(struct dgram *d, const uint8_t *p, size_t n);
	/* The flow ended (err: TUNNEL_OK after it was open, else why the
	 * server refused or could not be reached); why: for the log. d is freed
	 * right after. May be NULL. */
	void (*on_close)(struct dgram *d, enum tunnel_err err, const char *why);
};

struct dgram_opts {
	unsigned keepalive_ms;    /* ping after this much silence (0: 30 s) */
	unsigned pong_timeout_ms; /* then no byte this long: dead (0: 15 s) */
	unsigned idle_ms;         /* no datagram either way this long: end (0: never) */
};

struct dgram {
	struct conn_link link;
	struct rx *rx;
	struct conn_list *conns;
	struct rx_io io;          /* the WebSocket leg */
	struct rx_io uio;         /* socket mode: the flow's own UDP socket */
	struct rx_timer timer;    /* keepalive, pong deadline, idle */
	struct stream s;          /* fd -1 until attached */
	int ufd;                  /* socket mode, else -1 */
	struct ws_parser parser;
	struct buf in;            /* WebSocket bytes not parsed yet */
	struct buf out;           /* [preamble][frames] not written yet */
	struct buf msg;           /* a message arriving in several slices */
	const struct dgram_ops *ops;
	void *owner;
	/* The owner's, untouched here: its flow table and the flow's names. */
	struct dgram *next;
	struct net_addr peer;
	const char *target;
	uint64_t claim_id;        /* -R udp:// server: the id announced, 0 once claimed */
	uint64_t born_ms;         /* set by dgram_new */
	/* Datagrams: up (UDP -> WebSocket), down (WebSocket -> UDP), and those
	 * dropped either way (no room, socket buffer full, over DGRAM_MAX). */
	uint64_t up, down, dropped;
	uint64_t last_rx_ms;      /* any byte from the peer */
	uint64_t last_data_ms;    /* any datagram either way */
	unsigned keepalive_ms, pong_timeout_ms, idle_ms;
	uint32_t preamble_left;   /* preamble bytes at the front of out */
	size_t head_scanned;
	bool handshake;           /* client: waiting for the 101 */
	bool hold;                /* client: frames wait for the 101 */
	bool ping_outstanding;
	struct tunnel_expect expect;
	struct dgram_seal *seal;  /* --encrypt, else NULL */
};

/* A flow with no connection yet: datagrams given to dgram_send are framed
 * and kept (within one buffer) until dgram_attach. In the list conns under
 * id (its teardown at stop runs on_close). NULL when out of memory. */
struct dgram *dgram_new(struct rx *rx, struct conn_list *conns, unsigned id, enum ws_role role,
                        const struct dgram_opts *o, const struct dgram_ops *ops, void *owner);

/* Socket mode: d owns the connected UDP socket fd from now on (closed with
 * d), reads it into messages and writes messages to it. */
void dgram_own_socket(struct dgram *d, int fd);

/* --encrypt: every datagram travels as one sealed record (proto/seal.h),
 * keyed from base (auth_keys.payload, kept by the caller) and the client's
 * 16-byte request nonce; the server's nonce is its first message. Until the
 * key exists, datagrams wait in plaintext within one buffer. A sealed
 * datagram carries at most DGRAM_MAX - 16 bytes. cnonce may be NULL when it
 * is not known yet (a -R udp:// flow before its claim): call again with it
 * before dgram_attach. 0, or -1 when out of memory. */
int dgram_seal(struct dgram *d, const uint8_t *base, const uint8_t *cnonce);

/* Starts I/O on *s (taken; plain or TLS, connected or connecting). The
 * preamble (client: the upgrade request; server: the 101) goes out before
 * the frames kept so far; in holds WebSocket bytes already read (taken, may
 * be NULL). Client role: expect is what the 101 must show; with hold no
 * frame leaves before it came. 0, or -1 when d was closed (on_close ran). */
int dgram_attach(struct dgram *d, struct stream *s, const void *preamble, size_t n,
                 struct buf *in, const struct tunnel_expect *expect, bool hold);

/* One datagram from the UDP side: framed and written (or kept while the
 * connection is busy or not attached). 0, or -1 when it was dropped
 * (counted). Never closes d. */
int dgram_send(struct dgram *d, const uint8_t *p, size_t n);

/* Ends the flow now (on_close with TUNNEL_OK and why), sending a close
 * frame when it can. */
void dgram_close(struct dgram *d, const char *why);
/* Ends a flow that could not open (on_close with err). */
void dgram_fail(struct dgram *d, enum tunnel_err err);

#endif
