/* sio.h — Socket.IO v5 subscribers on Engine.IO v4's websocket transport at
 * /socket.io/ (issue 13): the open packet, CONNECT to "/", the server's
 * pings with a pong deadline, pushed messages as 42["message",{...}].
 * The polling transport is answered with a clear 400. */
#ifndef WSF_TUN_PUSH_SIO_H
#define WSF_TUN_PUSH_SIO_H

#include "tun/handoff.h"
#include "tun/push/push_int.h"

/* A request for /socket.io/: an upgrade with EIO=4&transport=websocket
 * becomes a subscriber; anything else a 400 naming what is wrong. Takes h
 * in every outcome. */
void push_sio_route(struct push_hub *hub, struct handoff *h, struct http_slice path);

#endif
