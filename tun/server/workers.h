/* workers.h — --workers N: forking, supervising and restarting the worker
 * processes that share the listening ports. */
#ifndef WSF_TUN_SERVER_WORKERS_H
#define WSF_TUN_SERVER_WORKERS_H

#include "tun/server/srv_config.h"

/* What the processes share, made before the fork (server.c). */
struct server_shared;

/* One worker's whole life (index: 0 .. workers-1, kept across restarts): serves until stopped, returns its exit status.
 * Runs with SIGTERM/SIGINT/SIGHUP blocked and MUST unblock them once its
 * own handlers are in place. */
typedef int (*server_worker_fn)(const struct server_config *cfg, const struct server_shared *sh,
                                unsigned index);

/* Starts cfg->workers processes running run, restarts one that dies, passes
 * SIGHUP on, stops them all on SIGTERM/SIGINT. The exit status. */
int server_supervise(const struct server_config *cfg, const struct server_shared *sh,
                     server_worker_fn run);

#endif
