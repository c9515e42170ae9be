/* upstream.h — the client's first hop: the server directly, or through an
 * HTTP CONNECT proxy (--proxy). */
#ifndef WSF_TUN_CLIENT_UPSTREAM_H
#define WSF_TUN_CLIENT_UPSTREAM_H

#include "proto/tunnel.h"
#include "tun/client/client_int.h"

/* A connection to the server is ready: fd (connected, or connecting when
 * made directly), or -1 with why. */
typedef void (*upstream_fn)(void *owner, int fd, enum tunnel_err err);

/* Connects to --proxy and asks it to CONNECT to the server; done is called
 * once, unless the client stops first. */
void upstream_open(struct client *c, upstream_fn done, void *owner);

/* The client's first hop (the server, or --proxy): a non-blocking connect
 * to a, with TCP Fast Open under --fast-open (its fallback logged once).
 * fd or a negative errno. */
int upstream_dial(struct client *c, const struct net_addr *a);

#endif
