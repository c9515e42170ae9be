/* api.h — the push path's plain HTTP side: POST with X-API-KEY broadcasts,
 * OPTIONS answers CORS preflights for --push-origin, other methods get 405. */
#ifndef WSF_TUN_PUSH_API_H
#define WSF_TUN_PUSH_API_H

#include "tun/push/push_int.h"

/* The push_req_fn of the push path. */
void push_api_handle(struct push_hub *hub, struct push_req *r);

/* True when origin is one of cfg's --push-origin values (or one is "*"). */
bool push_api_origin_ok(const struct push_config *cfg, struct http_slice origin);

#endif
