/* api.c — POST PATH: the key (constant time, before the body is looked
 * at), the body's checks, the fan-out (here, or through the bus to every
 * server: --push-bus), the answer; CORS for the browsers of --push-origin.
 * Every refusal writes nothing anywhere. */
#include "tun/push/api.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/log.h"
#include "tun/push/bus.h"
#include "tun/push/hub.h"
#include "tun/push/req.h"

#define CORS_MAX 600 /* preflight answers cached by browsers for 10 min */
#define BUS_LOG_EVERY_MS 10000

bool push_api_origin_ok(const struct push_config *cfg, struct http_slice origin)
{
	for (size_t i = 0; i < cfg->norigins; i++) {
		const char *o = cfg->origins[i];
		if (strcmp(o, "*") == 0 ||
		    (strlen(o) == origin.len && memcmp(o, origin.p, origin.len) == 0))
			return true;
	}
	return false;
}

/* Access-Control-Allow-Origin for an allowed Origin, else "". */
static void api_cors(const struct push_hub *hub, const struct push_req *r, char *out, size_t cap)
{
	struct http_slice origin = push_req_header(r, "Origin");
	out[0] = '\0';
	if (origin.len && origin.len < 256 && push_api_origin_ok(hub->cfg, origin))
		snprintf(out, cap, "Access-Control-Allow-Origin: %.*s\r\nVary: Origin\r\n",
		         (int)origin.len, origin.p);
}

static void api_json(struct push_req *r, int status, const char *cors, const char *fmt,
                     const char *arg)
{
	char body[512];
	int n = snprintf(body, sizeof(body), fmt, arg);
	push_req_reply(r, status, "application/json", cors, body, (size_t)n);
}

static void api_error(struct push_req *r, int status, const char *cors, const char *why)
{
	char quoted[256];
	size_t n = push_json_quote(quoted, sizeof(quoted), why, strlen(why));
	quoted[n] = '\0';
	api_json(r, status, cors, "{\"error\":%s}", quoted);
}

static void api_preflight(struct push_hub *hub, struct push_req *r, const char *cors)
{
	char extra[640];
	if (!*cors && push_req_header(r, "Origin").len) {
		api_error(r, 403, "", "this Origin is not allowed (--push-origin)");
		return;
	}
	snprintf(extra, sizeof(extra),
	         "%sAllow: GET, POST, OPTIONS\r\n"
	         "Access-Control-Allow-Methods: POST, OPTIONS\r\n"
	         "Access-Control-Allow-Headers: Content-Type, X-API-KEY\r\n"
	         "Access-Control-Max-Age: %d\r\n",
	         cors, CORS_MAX);
	(void)hub;
	push_req_reply(r, 204, NULL, extra, "", 0);
}

/* Content-Type text/...: the body is the message; anything else is JSON. */
static bool api_is_json(const struct push_req *r)
{
	struct http_slice t = push_req_header(r, "Content-Type");
	return !(t.len >= 5 && strncasecmp(t.p, "text/", 5) == 0);
}

static void api_post(struct push_hub *hub, struct push_req *r, const char *cors)
{
	char ip[NET_ADDR_STRLEN], topic[PUSH_TOPIC_MAX + 1];
	struct http_slice key = push_req_header(r, "X-API-KEY");
	/* Hashes compared whatever the key's length: no early exit to time. */
	if (!push_key_match(hub->cfg->key_hash, key.p, key.len)) {
		log_info("c%u push: POST from %s with %s X-API-KEY: 401", r->link.id,
		         net_addr_ip_str(&r->addr, ip, sizeof(ip)), key.len ? "a wrong" : "no");
		api_error(r, 401, cors, "missing or wrong X-API-KEY");
		return;
	}
	if (push_topic(r->req.target.p, r->req.target.len, topic) < 0) {
		api_error(r, 400, cors, push_strerror(PUSH_ERR_TOPIC));
		return;
	}
	struct push_msg m;
	enum push_rc rc = push_msg_parse(push_req_body(r), r->body_len, api_is_json(r), &m);
	if (rc != PUSH_OK) {
		log_debug("c%u push: POST refused: %s", r->link.id, push_strerror(rc));
		api_error(r, 400, cors, push_strerror(rc));
		return;
	}
	log_debug("c%u push: message from %s%s%s", r->link.id,
	          net_addr_ip_str(&r->addr, ip, sizeof(ip)), *topic ? " on topic " : "", topic);
	push_api_broadcast(hub, r, &m, topic, api_is_json(r));
}

/* The 200: bus < 0 means "not on the bus" (-2: no bus configured). */
static void api_ok(struct push_req *r, const char *cors, long delivered, long bus)
{
	char body[96];
	int n;
	if (bus == -2)
		n = snprintf(body, sizeof(body), "{\"ok\":true,\"delivered\":%ld}", delivered);
	else if (bus < 0)
		n = snprintf(body, sizeof(body), "{\"ok\":true,\"delivered\":%ld,\"bus\":false}",
		             delivered);
	else
		n = snprintf(body, sizeof(body), "{\"ok\":true,\"delivered\":%ld,\"bus\":%ld}",
		             delivered, bus);
	push_req_reply(r, 200, "application/json", cors, body, (size_t)n);
}

static void api_bus_ack(void *owner, long receivers)
{
	struct push_req *r = owner;
	char cors[384];
	r->bus_ticket = 0;
	api_cors(r->hub, r, cors, sizeof(cors));
	if (receivers >= 0 || r->bus_local)
		api_ok(r, cors, r->delivered, receivers);
	else
		api_error(r, 503, cors,
		          "the push bus (Redis) failed before confirming the message: "
		          "some servers may not have it");
	push_req_resume(r);
}

static void api_bus_down(struct push_hub *hub)
{
	uint64_t now = rx_now(hub->rx);
	if (hub->bus_logged_ms && now - hub->bus_logged_ms < BUS_LOG_EVERY_MS)
		return;
	hub->bus_logged_ms = now;
	log_warn("push: the push bus is down: messages reach this process's subscribers only");
}

void push_api_broadcast(struct push_hub *hub, struct push_req *r, const struct push_msg *m,
                        const char *topic, bool json)
{
	char cors[384];
	api_cors(hub, r, cors, sizeof(cors));
	long reached = hub->bus ? 0 : push_hub_send(hub, m, topic, &r->addr);
	if (reached < 0 || (hub->bus && !push_hub_fits(hub, m, topic))) {
		api_error(r, 413, cors, "the message is too large once framed");
		return;
	}
	if (!hub->bus) {
		api_ok(r, cors, reached, -2);
		return;
	}
	/* Subscribed: every subscriber, ours too, gets it from Redis, in the
	 * one order Redis gives all of them. Not: ours get it now (flag L, so
	 * our copy from the bus is skipped), the others when the bus takes it. */
	struct pushbus_msg bm = {.local = !push_bus_subscribed(hub->bus), .json = json};
	push_hub_stamp(bm.time);
	net_addr_ip_str(&r->addr, bm.ip, sizeof(bm.ip));
	if (bm.ip[0] == '?')
		memcpy(bm.ip, "0", 2);
	snprintf(bm.topic, sizeof(bm.topic), "%s", topic);
	uint32_t t = push_bus_publish(hub->bus, &bm, push_req_body(r), r->body_len, api_bus_ack, r);
	if (!t) {
		bm.local = true;
		api_bus_down(hub);
	}
	push_hub_record(hub, m, topic, bm.ip, bm.time);
	reached = bm.local ? push_hub_fanout(hub, m, topic, bm.ip, bm.time)
	                   : (long)push_hub_count(hub, topic);
	if (!t) {
		api_ok(r, cors, reached, -1);
		return;
	}
	r->bus_ticket = t;
	r->delivered = reached;
	r->bus_local = bm.local;
}

void push_api_handle(struct push_hub *hub, struct push_req *r)
{
	char cors[384];
	api_cors(hub, r, cors, sizeof(cors));
	if (push_req_method(r, "POST"))
		api_post(hub, r, cors);
	else if (push_req_method(r, "OPTIONS"))
		api_preflight(hub, r, cors);
	else
		api_error(r, 405, "Allow: GET, POST, OPTIONS\r\n",
		          "use POST to send, GET with Upgrade to subscribe");
}
