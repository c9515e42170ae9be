/* srv_token.c — the server's freshness and replay rules for a tunnel token
 * (an upgrade's cookie, a pooled connection's request): this node's nonce
 * table (or the one --workers share) and what to do when the shared
 * --replay-store is down. Claims in that store are the caller's. */
#include "tun/server/srv_token.h"

#include <stdlib.h>
#include <time.h>

#include "core/log.h"
#include "tun/server/replay_shm.h"

#define STORE_LOG_EVERY_MS 10000

void srv_count_auth_failure(struct server *srv, enum stats_auth why)
{
	if (srv->stats) {
		srv->stats->auth_failed[why]++;
		srv->stats->ws_failed++;
	}
}

/* Grows the nonce table when it crowds (malloc at growth only). */
static void replay_grow(struct server *srv, uint64_t now)
{
	struct replay *r = &srv->replay;
	if (!replay_crowded(r) || r->cap >= SERVER_REPLAY_MAX)
		return;
	struct replay_slot *slots = calloc(r->cap * 2, sizeof(*slots));
	if (!slots)
		return;
	struct replay bigger;
	replay_init(&bigger, slots, r->cap * 2);
	replay_rehash(&bigger, r, now);
	free(r->slots);
	*r = bigger;
}

bool srv_token_accepted(struct server *srv, const struct tunnel_req *t, unsigned id,
                           unsigned *ttl_s)
{
	const struct server_config *cfg = srv->cfg;
	if (!cfg->keys)
		return true;
	uint64_t now = (uint64_t)time(NULL);
	if (!auth_fresh(t->timestamp, now, cfg->skew_s)) {
		log_info("c%u token %lld s off the server clock (window %u s): refused", id,
		         (long long)(t->timestamp - now), cfg->skew_s);
		srv_count_auth_failure(srv, STATS_AUTH_SKEW);
		return false;
	}
	uint64_t last = auth_last_fresh(t->timestamp, cfg->skew_s);
	*ttl_s = last >= now ? (unsigned)(last - now + 1) : 1;
	enum replay_rc rc = srv->replay_shm ? replay_shm_check(srv->replay_shm, t->nonce, last, now)
	                                    : replay_check(&srv->replay, t->nonce, last, now);
	if (rc != REPLAY_FRESH) {
		log_warn("c%u %s: refused", id,
		         rc == REPLAY_SEEN ? "replayed tunnel request" : "nonce table full");
		srv_count_auth_failure(srv, rc == REPLAY_SEEN ? STATS_AUTH_REPLAY : STATS_AUTH_NONCE_FULL);
		return false;
	}
	if (!srv->replay_shm)
		replay_grow(srv, now);
	return true;
}

bool srv_store_down_allows(struct server *srv, unsigned id)
{
	bool local = srv->cfg->replay_store_local;
	uint64_t now = rx_now(&srv->rx);
	if (!srv->store_logged_ms || now - srv->store_logged_ms >= STORE_LOG_EVERY_MS) {
		srv->store_logged_ms = now;
		log_warn("c%u replay store unreachable: %s (--replay-store-fail %s)", id,
		         local ? "checked against this node's own nonces only" : "tunnel refused",
		         local ? "local" : "closed");
	}
	if (!local)
		srv_count_auth_failure(srv, STATS_AUTH_STORE_DOWN);
	return local;
}
