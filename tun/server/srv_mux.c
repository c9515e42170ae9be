/* srv_mux.c — what the server decides for --mux: a stream's OPEN carries
 * a tunnel request signed like an upgrade's cookie; it is decoded with the
 * key, held to the same freshness window and nonce table as every tunnel
 * (the router's check), and to --to and --restrict-to. The carrier itself
 * is tun/mux/'s. */
#include "tun/server/srv_mux.h"
#include "tun/server/srv_token.h"

#include "core/log.h"
#include "tun/mux/mux_server.h"
#include "tun/server/srv_tunnel.h"

/* The router's check; the same function for every server of the process. */

static int srv_mux_admit(void *arg, unsigned id, const char *blob, size_t n,
                         char target[TUNNEL_MAX_TARGET + 1], char *host, size_t host_cap,
                         uint16_t *port, enum tunnel_err *err)
{
	struct server *srv = arg;
	struct tunnel_req req;
	unsigned ttl_s = 0;
	enum tunnel_decode_rc rc = tunnel_req_decode(blob, n, srv->cfg->keys, &req);
	if (rc != TUNNEL_DECODED) {
		log_warn("c%u mux stream request %s: carrier closed", id,
		         rc == TUNNEL_BAD_MAC ? "with a wrong key" : "not readable");
		return -1;
	}
	if (!srv_token_accepted(srv, &req, id, &ttl_s))
		return -1; /* logged by the check */
	*err = TUNNEL_OK;
	if (req.kind != TUNNEL_CONNECT || (req.flags & TUNNEL_FLAG_ENCRYPT)) {
		log_info("c%u mux stream of kind %u%s: refused (only plain connects are multiplexed)",
		         id, req.kind, req.flags & TUNNEL_FLAG_ENCRYPT ? " with --encrypt" : "");
		*err = req.flags & TUNNEL_FLAG_ENCRYPT ? TUNNEL_ERR_ENCRYPT : TUNNEL_ERR_BAD_TARGET;
		return 0;
	}
	*err = srv_tunnel_target(srv, id, &req, target, host, host_cap, port);
	if (*err != TUNNEL_OK)
		log_info("c%u %s: %s", id, req.target_len ? req.target : "(no destination named)",
		         tunnel_err_text(*err));
	return 0;
}

int srv_mux_accept(struct server *srv, struct handoff *h, const struct tunnel_req *req,
                   const char *key, size_t key_len)
{
	char resp[256];
	/* --encrypt: a sealed carrier (ws:// only), as for a tunnel; a server
	 * that requires it refuses a plain carrier on ws:// (logged). */
	enum tunnel_err err = server_seal_check(srv->cfg, h, req);
	if (err != TUNNEL_OK) {
		size_t rn = tunnel_refusal(err, key, key_len, srv->cfg->keys, req->nonce, resp,
		                           sizeof(resp));
		stream_reply_and_close(&h->s, resp, rn);
		return -1;
	}
	size_t n = server_101(srv, req, key, key_len, resp, sizeof(resp));
	if (n == 0) {
		stream_close(&h->s);
		return -1;
	}
	const struct server_config *cfg = srv->cfg;
	struct mux_server m = {.dns = &srv->dns, .opts = &cfg->relay,
	                       .connect_timeout_ms = cfg->connect_timeout_ms,
	                       .admit = srv_mux_admit, .arg = srv,
	                       .peer_big = req->flags & TUNNEL_FLAG_MUX_BIG};
	if (req->flags & TUNNEL_FLAG_ENCRYPT) {
		m.seal_base = cfg->keys->payload;
		memcpy(m.seal_nonce, req->nonce, sizeof(m.seal_nonce));
	}
	if (cfg->nallow) {
		m.allow = cfg->allow;
		m.nallow = cfg->nallow;
	}
	return mux_server_accept(&m, h, resp, n);
}
