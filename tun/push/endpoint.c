/* endpoint.c — which push path a request is for, and who takes it: an
 * upgrade becomes a subscriber, anything else one plain HTTP exchange. */
#include "tun/push/endpoint.h"

#include <string.h>

#include "tun/push/api.h"
#include "tun/push/hub.h"
#include "tun/push/pages.h"
#include "tun/push/req.h"
#include "tun/push/sio.h"
#include "tun/push/sub.h"

struct push_hub *push_start(struct rx *rx, const struct push_config *cfg,
                            const struct relay_opts *keepalive)
{
	struct push_hub *hub = push_hub_new(rx, cfg);
	if (hub)
		push_hub_keepalive(hub, keepalive->keepalive_ms, keepalive->pong_timeout_ms);
	return hub;
}

void push_stop(struct push_hub *hub)
{
	push_hub_free(hub);
}

static bool path_is(struct http_slice path, const char *want)
{
	return want && strlen(want) == path.len && memcmp(want, path.p, path.len) == 0;
}

static bool wants_upgrade(const struct http_request *req)
{
	return req->method.len == 3 && memcmp(req->method.p, "GET", 3) == 0 &&
	       http_find(req->headers, req->nheaders, "Upgrade");
}

/* PATH, PATH/stats, PATH/send */
static bool path_admin(struct http_slice path, const char *base)
{
	size_t n = base ? strlen(base) : 0;
	if (!base || path.len < n || memcmp(path.p, base, n) != 0)
		return false;
	struct http_slice tail = {path.p + n, path.len - n};
	return tail.len == 0 || path_is(tail, "/stats") || path_is(tail, "/send");
}

bool push_route(struct push_hub *hub, struct handoff *h, struct http_slice path)
{
	const struct push_config *cfg = hub->cfg;
	if (path_is(path, cfg->demo_path)) {
		push_req_start(hub, h, path, push_pages_demo, 0);
		return true;
	}
	if (cfg->sio && path_is(path, PUSH_SIO_PATH)) {
		push_sio_route(hub, h, path);
		return true;
	}
	if (path_admin(path, cfg->admin_path)) {
		push_req_start(hub, h, path, push_pages_admin, cfg->max_body);
		return true;
	}
	if (!path_is(path, cfg->path))
		return false;
	if (wants_upgrade(h->req))
		push_sub_accept(hub, h);
	else
		push_req_start(hub, h, path, push_api_handle, cfg->max_body);
	return true;
}
