/* channel.h — channels, client to client through the server (issue 11):
 * a client registers NAME (and a password) over a control channel; another
 * client's tunnel naming NAME is announced there, and the registering client
 * dials its own destination and carries it back. An exit (VPN mode) is
 * registered the same way and dials whatever each open names. The router
 * hands over tunnel requests of the channel and exit kinds; everything else
 * is not ours. */
#ifndef WSF_TUN_PUBLISH_CHANNEL_H
#define WSF_TUN_PUBLISH_CHANNEL_H

#include "core/rx.h"
#include "proto/tunnel.h"
#include "tun/conn.h"
#include "tun/handoff.h"
#include "tun/server/srv_config.h"

struct channels;

/* The registry of one reactor; rx, conns and cfg outlive it. NULL when out
 * of memory. */
struct channels *channels_new(struct rx *rx, struct conn_list *conns,
                              const struct server_config *cfg);
/* After every connection of conns is gone. NULL is fine. */
void channels_free(struct channels *ch);

/* Each takes a valid, authenticated tunnel request of its kind (key: its
 * Sec-WebSocket-Key) and owns h->s from the call on: answered 101 or a
 * refusal in every outcome. 0, or -1 when the connection was closed.
 *
 * TUNNEL_CHANNEL_REGISTER and TUNNEL_EXIT_REGISTER (one namespace): refused
 * 403 on a server without --key, 409 when the name is held (the holder
 * keeps serving), else the control channel. */
int channel_register(struct channels *ch, struct handoff *h, const struct tunnel_req *req,
                     const char *key, size_t key_len);
/* TUNNEL_CHANNEL_OPEN: an unknown name, a wrong password and a channel
 * whose client is gone get the same 404, the same log line, after the same
 * work (one hash, every registration compared in constant time). A known
 * channel is announced and answered once its client carried it (101), could
 * not reach its destination (502), or did not answer in time (504).
 * TUNNEL_EXIT_OPEN: the same, with 410 for the three causes, and the exit's
 * own reason (403, 404, 502, 503, 504) when it could not dial. */
int channel_open(struct channels *ch, struct handoff *h, const struct tunnel_req *req,
                 const char *key, size_t key_len);
/* TUNNEL_CHANNEL_ACCEPT: the registering client carries an announced open. */
int channel_claim(struct channels *ch, struct handoff *h, const struct tunnel_req *req,
                  const char *key, size_t key_len);

#endif
