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

#endif
