/* server.h — `wsferry server`: listeners, the request-head phase, routing by
 * path to endpoints (tunnel, -R, echo, ping) and stealth for everything
 * else. Owns its reactor and every connection it accepted. */
#ifndef WSF_TUN_SERVER_SERVER_H
#define WSF_TUN_SERVER_SERVER_H

#include "tun/server/srv_config.h"

/* Called once everything is set up and before serving: fingerprint is the
 * TLS certificate's (NULL without TLS), for the "connect with" lines. */
typedef void (*server_ready_fn)(const struct server_config *cfg, const char *fingerprint);

/* Sets up (certificate, listeners: a failure is reported and returns 1
 * before anything is served), calls ready, then serves until SIGTERM or
 * SIGINT. 0 on a clean stop, 1 on a runtime failure. */
int server_main(const struct server_config *cfg, server_ready_fn ready);

/* The same in pieces, one process, for a program that runs the loop itself
 * (bin/lib.c): never touches signals or forks. server_new sets up
 * (certificate, listeners; cfg MUST outlive the server, workers MUST be 1):
 * NULL after logging why. */
struct server;
struct server *server_new(const struct server_config *cfg);
struct rx *server_rx(struct server *srv);
struct conn_list *server_conns(struct server *srv);
/* Closes the listeners and every connection, and stops server_rx's run. */
void server_stop(struct server *srv);
/* Frees everything, and the calling thread's pools. */
void server_close(struct server *srv);

#endif
