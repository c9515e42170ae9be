/* endpoint.h — the push family as the server's router sees it (issue 13):
 * a hub per reactor, and the paths it answers (--push, Socket.IO's, the
 * admin and demo pages). Public by configuration: these paths answer with
 * statuses; every other path keeps --stealth. */
#ifndef WSF_TUN_PUSH_ENDPOINT_H
#define WSF_TUN_PUSH_ENDPOINT_H

#include <stdbool.h>

#include "tun/handoff.h"
#include "tun/server/srv_config.h"

struct push_hub;

/* The hub of one reactor (cfg outlives it); subscribers are pinged as
 * keepalive's keepalive_ms and pong_timeout_ms say (the server's tunnels'
 * settings). With cfg->bus, its connections to Redis (the name resolved
 * with dns, the --dns list or NULL), subscribed to the channel
 * "wsferry:push:" + cfg->path. NULL after logging why. */
struct push_hub *push_start(struct rx *rx, const struct push_config *cfg,
                            const struct relay_opts *keepalive, const char *dns);
/* After every connection is gone. NULL is fine. */
void push_stop(struct push_hub *hub);

/* True when path (the target without its query) is one of push's: then h
 * was taken (answered or closed in every outcome). False: h untouched. */
bool push_route(struct push_hub *hub, struct handoff *h, struct http_slice path);

#endif
