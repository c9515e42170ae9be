/* mux_carrier.h — one --mux carrier: a WebSocket (or tls:// stream) that
 * carries up to MUX_MAX_STREAMS tunnels, each with its own credit window,
 * half-close and reset. Shared by the client pool (mux_client.c) and the
 * server end (mux_server.c); the role decides who opens streams. */
#ifndef WSF_TUN_MUX_MUX_CARRIER_H
#define WSF_TUN_MUX_MUX_CARRIER_H

#include "tun/mux/mux_int.h"

/* Sets up a zeroed carrier in its list (not yet on a connection); the
 * server's is counted for peer (--max-conns-per-ip counts carriers) and
 * keeps the connection's id. */
void mux_carrier_init(struct mux_carrier *c, struct rx *rx, struct conn_list *conns,
                      const struct relay_opts *opts, bool client, bool raw,
                      struct conn_peer *peer, unsigned id);
/* Starts on s (taken): preamble (the upgrade, or the 101) queued first,
 * in (taken, may be NULL) the bytes already read behind the head. 0 or -1
 * (the carrier is destroyed then). */
int mux_carrier_run(struct mux_carrier *c, struct stream *s, const void *preamble, size_t n,
                    struct buf *in);
/* --encrypt (ws:// only): every message of c is one sealed record, keyed
 * with base (auth_keys.payload), the upgrade's nonce and the server's,
 * which a server picks now and sends behind its 101 (mux_carrier_run).
 * Before run. 0 or -1 (out of memory). */
int mux_carrier_seal(struct mux_carrier *c, const uint8_t *base,
                     const uint8_t cnonce[TUNNEL_NONCE_LEN]);
/* Client: streams may open (the 101 came, and with --encrypt the
 * server's nonce). */
bool mux_carrier_ready(const struct mux_carrier *c);
/* Queues one control frame. 0, or -1 when the queue is full (the carrier
 * is failing: its peer does not read). */
int mux_carrier_frame(struct mux_carrier *c, enum mux_type type, uint32_t id, const void *p,
                      size_t n);
/* Writes what is queued and derives every interest. */
void mux_carrier_update(struct mux_carrier *c);
/* Ends the carrier and every stream on it (why: logged). */
void mux_carrier_fail(struct mux_carrier *c, const char *why);

/* Adds s (allocated by the role, zeroed, id set) to c; 0 or -1 when full. */
int mux_stream_attach(struct mux_carrier *c, struct mux_stream *s);
/* The stream's socket is ready (server: dialled; client: REPLY OK). */
int mux_stream_connected(struct mux_stream *s, int fd);
/* Client, right after the OPEN: sends what waits in s->early as DATA and
 * starts reading the local socket (may end s when out of memory). */
void mux_stream_send_early(struct mux_stream *s);
/* Frees s: fd closed (reset: with a RST), RST sent to the peer when
 * tell_peer. */
void mux_stream_end(struct mux_stream *s, bool reset, bool tell_peer);

#endif
