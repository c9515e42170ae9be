/* sub.h — a push subscriber: the upgrade at the push path (or Socket.IO's),
 * its topic, the per-address limit, keepalive pings, and leaving the hub
 * when it goes. Messages reach it through the hub only. */
#ifndef WSF_TUN_PUSH_SUB_H
#define WSF_TUN_PUSH_SUB_H

#include "tun/handoff.h"
#include "tun/push/push_int.h"

#define PUSH_SUB_MAX_MESSAGE 4096  /* subscribers have little to say */

/* The shared part of every subscriber kind: ?topic= (400 when invalid),
 * the per-address limit (429), the 101 with ops (kind's: its on_open
 * greets and joins; on_free MUST end in push_sub_free), and, for a plain
 * subscriber, the keepalive deadline (Socket.IO's on_open arms its own). size (>= sizeof(struct push_sub)) is the kind's struct, zeroed.
 * 0, or -1 when h was answered and closed. */
int push_sub_open(struct push_hub *hub, struct handoff *h, enum push_kind kind,
                  const struct wsconn_ops *ops, size_t size);
/* A plain WebSocket subscriber at the push path, joined at once. 0 or -1. */
int push_sub_accept(struct push_hub *hub, struct handoff *h);
/* on_free for every kind: leaves the hub and frees s. */
void push_sub_free(struct wsconn *c);
/* Answers a refused upgrade with status and a one-line text body, closes. */
void push_sub_refuse(struct handoff *h, int status, const char *why);

#endif
