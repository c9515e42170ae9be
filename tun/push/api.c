/* api.c — POST PATH: the key (constant time, before the body is looked
 * at), the body's checks, the fan-out, the answer; CORS for the browsers of
 * --push-origin. Every refusal writes nothing anywhere. */
#include "tun/push/api.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/log.h"
#include "tun/push/hub.h"
#include "tun/push/req.h"

#define CORS_MAX 600 /* preflight answers cached by browsers for 10 min */

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
	long n = push_hub_send(hub, &m, topic, &r->addr);
	if (n < 0) {
		api_error(r, 413, cors, "the message is too large once framed");
		return;
	}
	log_debug("c%u push: message from %s%s%s to %ld subscribers", r->link.id,
	          net_addr_ip_str(&r->addr, ip, sizeof(ip)), *topic ? " on topic " : "", topic, n);
	char count[24];
	snprintf(count, sizeof(count), "%ld", n);
	api_json(r, 200, cors, "{\"ok\":true,\"delivered\":%s}", count);
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
