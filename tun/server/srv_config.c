/* srv_config.c — the server's defaults and the parsing of its one structured
 * setting (--permit-listen); everything else is bin/'s. */
#include "tun/server/srv_config.h"

#include <string.h>

#include "core/log.h"

void server_config_init(struct server_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->stealth = STEALTH_DROP;
	cfg->max_message = SERVER_DEFAULT_MAX_MESSAGE;
	cfg->handshake_ms = SERVER_DEFAULT_HANDSHAKE_MS;
	cfg->connect_timeout_ms = 10000;
	cfg->relay.max_message = SERVER_DEFAULT_MAX_MESSAGE;
	cfg->relay.keepalive_ms = 30000;
	cfg->relay.pong_timeout_ms = 15000;
	cfg->skew_s = SERVER_DEFAULT_SKEW_S;
	cfg->drain_ms = SERVER_DEFAULT_DRAIN_MS;
	cfg->max_conns_per_ip = 2000;
	cfg->workers = 1;
	cfg->push.max_body = PUSH_DEFAULT_MAX_BODY;
	cfg->push.max_per_ip = PUSH_DEFAULT_MAX_PER_IP;
	cfg->push.sio = true;
}

int server_listen_rule_parse(const char *spec, struct listen_rule *r, const char **why)
{
	char host[URL_MAX_HOST + 1];
	const char *colon = strrchr(spec, ':');
	const char *h = spec;
	size_t hl = colon ? (size_t)(colon - spec) : 0;
	memset(r, 0, sizeof(*r));
	*why = "[HOST:]PORT (HOST an IP address, localhost or *; PORT may be *), any or none";
	if (strcmp(spec, "any") == 0) {
		r->host = LISTEN_HOST_ANY;
		return 0;
	}
	const char *port = colon ? colon + 1 : spec;
	if (strcmp(port, "*") != 0 && url_parse_port(port, strlen(port), &r->port) < 0)
		return -1;
	if (!colon) {
		r->host = LISTEN_HOST_LOOPBACK;
		return 0;
	}
	if (hl >= 2 && h[0] == '[' && h[hl - 1] == ']') {
		h++;
		hl -= 2;
	}
	if (hl == 0 || hl >= sizeof(host))
		return -1;
	memcpy(host, h, hl);
	host[hl] = '\0';
	if (strcmp(host, "*") == 0)
		r->host = LISTEN_HOST_ANY;
	else if (strcmp(host, "localhost") == 0)
		r->host = LISTEN_HOST_LOOPBACK;
	else if (net_addr_from_ip(host, 0, &r->addr) < 0)
		return -1;
	return 0;
}

enum tunnel_err server_seal_check(const struct server_config *cfg, const struct handoff *h,
                                  const struct tunnel_req *req)
{
	bool sealed = req->flags & TUNNEL_FLAG_ENCRYPT;
	bool plain_ws = !h->raw && !h->s.tls;
	if (sealed && (!cfg->keys || h->raw)) {
		log_info("c%u --encrypt asked for %s: refused", h->id,
		         h->raw ? "over tls://" : "but this server has no key");
		return TUNNEL_ERR_ENCRYPT;
	}
	if (!sealed && cfg->encrypt && plain_ws) {
		log_info("c%u tunnel without --encrypt on ws://, which this server requires: refused",
		         h->id);
		return TUNNEL_ERR_ENCRYPT;
	}
	return TUNNEL_OK;
}

void server_seal_args(const struct server_config *cfg, const struct tunnel_req *req,
                      struct relay_args *a)
{
	bool sealed = req->flags & TUNNEL_FLAG_ENCRYPT;
	a->seal_base = sealed ? cfg->keys->payload : NULL;
	a->seal_nonce = sealed ? req->nonce : NULL;
}
