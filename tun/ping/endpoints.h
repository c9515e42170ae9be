/* endpoints.h — WebSocket endpoints that are public by design (SPEC.md
 * "Server behaviour"): they answer strangers with their own statuses, unlike
 * the tunnel, whose paths follow --stealth. */
#ifndef WSF_TUN_PING_ENDPOINTS_H
#define WSF_TUN_PING_ENDPOINTS_H

#include <stdint.h>

#include "tun/handoff.h"

/* --echo PATH: every message comes back (echo.c). 0, or -1 when the
 * connection was closed. */
int echo_accept(struct handoff *h, uint64_t max_message);
/* --ping[=NAME]: the ming-mong ping endpoint at /ws, signatures made with
 * name (ping.c); name must outlive the connection. 0 or -1. */
int ping_accept(struct handoff *h, const char *name);

#endif
