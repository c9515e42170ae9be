/* controller.h — the multi-user server's controller (--controller): an
 * HTTP JSON API on its own listener (loopback by default, never the public
 * port) that adds, deletes, resets and counts users (tun/server/users.h)
 * at run time, in mos-tls-tunnel's schema (proto/ctl.h). Every worker
 * listens (SO_REUSEPORT); the table they change is the one all share. */
#ifndef WSF_TUN_SERVER_CONTROLLER_H
#define WSF_TUN_SERVER_CONTROLLER_H

#include "core/rx.h"
#include "tun/conn.h"
#include "tun/server/srv_config.h"
#include "tun/server/users.h"

struct controller;

/* Listens on cfg->controller_addr; its connections join conns (so a stop
 * ends them). NULL after logging why. */
struct controller *controller_start(struct rx *rx, struct conn_list *conns,
                                    const struct server_config *cfg, struct users *users);
/* Closes the listener (connections are conns'). NULL is fine. */
void controller_stop(struct controller *c);

#endif
