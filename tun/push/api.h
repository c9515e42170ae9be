/* api.h — the push path's plain HTTP side: POST with X-API-KEY broadcasts,
 * OPTIONS answers CORS preflights for --push-origin, other methods get 405. */
#ifndef WSF_TUN_PUSH_API_H
#define WSF_TUN_PUSH_API_H

#include "tun/push/push_int.h"

/* The push_req_fn of the push path. */
void push_api_handle(struct push_hub *hub, struct push_req *r);

/* Sends m (checked from r's body, read as JSON when json) to the
 * subscribers of topic and answers r: 200 {"ok":true,"delivered":N} (N:
 * this process's subscribers), 413 when the frame is too big. With
 * --push-bus the message goes to every server through Redis, and the
 * answer waits for Redis and adds "bus": the server processes that heard
 * it, or false when the bus is down (then only this process's subscribers
 * get it); 503 when Redis went away before confirming a message that this
 * process left to the bus. The --push-db row is written here, once.
 * CORS headers as for the POST. */
void push_api_broadcast(struct push_hub *hub, struct push_req *r, const struct push_msg *m,
                        const char *topic, bool json);

/* True when origin is one of cfg's --push-origin values (or one is "*"). */
bool push_api_origin_ok(const struct push_config *cfg, struct http_slice origin);

#endif
