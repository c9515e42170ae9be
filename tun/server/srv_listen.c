/* srv_listen.c — what every -R registration (TCP or UDP) shares on the
 * server: where a client may make it listen (--permit-listen) and how a
 * registration is refused. Owns nothing. */
#include "tun/server/srv_listen.h"

#include <errno.h>
#include <string.h>

#include "core/log.h"
#include "tun/server/srv_tunnel.h"

static bool listen_rule_match(const struct listen_rule *r, const struct net_addr *a)
{
	if (r->port && r->port != net_addr_port(a))
		return false;
	return r->host == LISTEN_HOST_ANY ||
	       (r->host == LISTEN_HOST_LOOPBACK && net_addr_is_loopback(a)) ||
	       (r->host == LISTEN_HOST_IP && net_addr_same_ip(&r->addr, a));
}

/* --permit-listen (ssh's PermitListen + GatewayPorts): where a client may
 * make this server listen. Default: loopback addresses only. */
static bool listen_permitted(const struct server_config *cfg, const struct net_addr *a)
{
	if (cfg->listen_off)
		return false;
	if (cfg->npermit == 0)
		return net_addr_is_loopback(a);
	for (size_t i = 0; i < cfg->npermit; i++)
		if (listen_rule_match(&cfg->permit_listen[i], a))
			return true;
	return false;
}

enum tunnel_err srv_listen_bind_addr(struct server *srv, unsigned id,
                                     const struct tunnel_req *req, struct net_addr *a)
{
	char host[URL_MAX_HOST + 1];
	uint16_t port;
	if (tunnel_target_split(req->target, req->target_len, host, sizeof(host), &port) < 0)
		return TUNNEL_ERR_BAD_TARGET;
	if (strcmp(host, "localhost") == 0)
		strcpy(host, "127.0.0.1");
	if (net_addr_from_ip(host, port, a) < 0)
		return TUNNEL_ERR_BAD_TARGET; /* bind addresses are literals */
	if (!listen_permitted(srv->cfg, a)) {
		log_warn("c%u -R %s%s refused: outside --permit-listen%s", id,
		         req->kind == TUNNEL_UDP_LISTEN ? "udp://" : "", req->target,
		         srv->cfg->npermit || srv->cfg->listen_off ? "" : " (default: loopback only)");
		return TUNNEL_ERR_FORBIDDEN;
	}
	return TUNNEL_OK;
}

enum tunnel_err srv_listen_bind_err(int rc)
{
	return rc == -EADDRINUSE ? TUNNEL_ERR_IN_USE
	       : rc == -EACCES   ? TUNNEL_ERR_FORBIDDEN
	                         : TUNNEL_ERR_GENERAL;
}

void srv_listen_refuse(struct server *srv, struct handoff *h, const struct tunnel_req *req,
                       const char *key, size_t key_len, enum tunnel_err err)
{
	char resp[256];
	size_t n = tunnel_refusal(err, key, key_len, srv->cfg->keys, req->nonce, resp, sizeof(resp));
	stream_reply_and_close(&h->s, resp, n);
}
