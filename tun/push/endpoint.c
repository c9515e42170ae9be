/* endpoint.c — which push path a request is for, and who takes it: an
 * upgrade becomes a subscriber, anything else one plain HTTP exchange; and
 * the hub's bus (--push-bus), whose messages it hands to the hub. */
#include "tun/push/endpoint.h"

#include <stdio.h>
#include <string.h>

#include "core/log.h"
#include "tun/push/api.h"
#include "tun/push/bus.h"
#include "tun/push/hub.h"
#include "tun/push/pages.h"
#include "tun/push/req.h"
#include "tun/push/sio.h"
#include "tun/push/sub.h"

#define BUS_CHANNEL_PREFIX "wsferry:push:"
#define BUS_LOG_EVERY_MS 10000

/* A message heard on the bus: checked as a POST would be, then delivered
 * here (the bus already dropped our own that we delivered ourselves). */
static void push_on_bus(void *owner, const struct pushbus_msg *bm)
{
	struct push_hub *hub = owner;
	struct push_msg m;
	enum push_rc rc = push_msg_parse(bm->body, bm->body_len, bm->json, &m);
	if (rc != PUSH_OK) {
		uint64_t now = rx_now(hub->rx);
		if (!hub->bus_ignored_ms || now - hub->bus_ignored_ms >= BUS_LOG_EVERY_MS) {
			hub->bus_ignored_ms = now;
			log_warn("push bus: a message that is not a wsferry push was ignored (%s)",
			         push_strerror(rc));
		}
		return;
	}
	push_hub_fanout(hub, &m, bm->topic, bm->ip, bm->time);
}

static int push_bus_start(struct push_hub *hub, const char *dns)
{
	char channel[sizeof(BUS_CHANNEL_PREFIX) + 256], err[256];
	snprintf(channel, sizeof(channel), BUS_CHANNEL_PREFIX "%s", hub->cfg->path);
	hub->bus = push_bus_open(hub->rx, hub->cfg->bus, channel, dns, push_on_bus, hub, err,
	                         sizeof(err));
	if (!hub->bus)
		log_error("%s", err[0] ? err : "--push-bus: built without Redis");
	return hub->bus ? 0 : -1;
}

struct push_hub *push_start(struct rx *rx, const struct push_config *cfg,
                            const struct relay_opts *keepalive, const char *dns)
{
	struct push_hub *hub = push_hub_new(rx, cfg);
	if (!hub)
		return NULL;
	push_hub_keepalive(hub, keepalive->keepalive_ms, keepalive->pong_timeout_ms);
	if (cfg->bus && push_bus_start(hub, dns) < 0) {
		push_hub_free(hub);
		return NULL;
	}
	return hub;
}

void push_stop(struct push_hub *hub)
{
	if (hub)
		push_bus_close(hub->bus);
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
