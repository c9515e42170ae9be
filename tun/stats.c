/* stats.c — one set of counters (tun/stats.h) as Prometheus text: the
 * families both roles share, and the server's own (authentication,
 * stealth, TLS, DNS) when asked. Integer formatting only (proto/prom.h). */
#include "tun/stats.h"

#include <stdio.h>

#include "proto/tunnel.h"

_Static_assert(TUNNEL_ERR_TLS < STATS_ERR_N, "stats: room for every enum tunnel_err");

static void render_tunnels(const struct tun_stats *t, struct prom_out *o)
{
	prom_family(o, "wsferry_tunnels_open", "gauge", "TCP tunnels open now.");
	prom_sample_signed(o, "wsferry_tunnels_open", NULL, t->tunnels_open);
	prom_family(o, "wsferry_tunnels_total", "counter", "TCP tunnels opened.");
	prom_sample(o, "wsferry_tunnels_total", NULL, t->tunnels_total);
	prom_family(o, "wsferry_bytes_total", "counter",
	            "Tunnel payload bytes delivered, by direction.");
	prom_sample(o, "wsferry_bytes_total", "direction=\"client_to_target\"",
	            t->bytes[STATS_C2T]);
	prom_sample(o, "wsferry_bytes_total", "direction=\"target_to_client\"",
	            t->bytes[STATS_T2C]);
}

static void render_handshakes(const struct tun_stats *t, enum stats_role role,
                              struct prom_out *o)
{
	static const char name[] = "wsferry_handshakes_total";
	prom_family(o, name, "counter", "WebSocket tunnel upgrades and TLS handshakes, by result.");
	prom_sample(o, name, "kind=\"websocket\",result=\"ok\"", t->ws_ok);
	prom_sample(o, name, "kind=\"websocket\",result=\"failed\"", t->ws_failed);
	if (role != STATS_SERVER)
		return; /* the client's failed TLS handshakes are its dial errors (class tls) */
	prom_sample(o, name, "kind=\"tls\",result=\"ok\"", t->tls_ok);
	prom_sample(o, name, "kind=\"tls\",result=\"failed\"", t->tls_failed);
}

/* The server's refusals of a keyed request, and its stealth answers. */
static void render_auth(const struct tun_stats *t, struct prom_out *o)
{
	static const char *const auth[STATS_AUTH_N] = {
		[STATS_AUTH_BAD_KEY] = "class=\"bad_key\"", [STATS_AUTH_SKEW] = "class=\"skew\"",
		[STATS_AUTH_REPLAY] = "class=\"replay\"",
		[STATS_AUTH_NONCE_FULL] = "class=\"nonce_table_full\"",
		[STATS_AUTH_STORE_DOWN] = "class=\"replay_store_down\""};
	prom_family(o, "wsferry_auth_failures_total", "counter",
	            "Keyed tunnel requests refused, by reason.");
	for (unsigned i = 0; i < STATS_AUTH_N; i++)
		prom_sample(o, "wsferry_auth_failures_total", auth[i], t->auth_failed[i]);
	prom_family(o, "wsferry_stealth_answers_total", "counter",
	            "Requests for no endpoint (probes, other keys) given the --stealth answer.");
	prom_sample(o, "wsferry_stealth_answers_total", NULL, t->stealth);
}

#define SERVER_DIAL_CLASSES 8 /* the first entries below: what a server refuses with */

static void render_dial(const struct tun_stats *t, enum stats_role role, struct prom_out *o)
{
	static const struct {
		uint8_t err;
		const char *label;
	} dial[] = {
		{TUNNEL_ERR_REFUSED, "class=\"refused\""},
		{TUNNEL_ERR_TIMEOUT, "class=\"timeout\""},
		{TUNNEL_ERR_UNREACHABLE, "class=\"unreachable\""},
		{TUNNEL_ERR_NOT_FOUND, "class=\"dns\""},
		{TUNNEL_ERR_FORBIDDEN, "class=\"not_allowed\""},
		{TUNNEL_ERR_BAD_TARGET, "class=\"bad_target\""},
		{TUNNEL_ERR_ENCRYPT, "class=\"encrypt_mismatch\""},
		{TUNNEL_ERR_GENERAL, "class=\"other\""},
		/* the client's own: no answer from a wsferry server that proved the key */
		{TUNNEL_ERR_SERVER_DOWN, "class=\"server_down\""},
		{TUNNEL_ERR_SERVER_SILENT, "class=\"server_silent\""},
		{TUNNEL_ERR_SERVER_FAKE, "class=\"server_fake\""},
		{TUNNEL_ERR_NOT_WSFERRY, "class=\"not_wsferry\""},
		{TUNNEL_ERR_TLS, "class=\"tls\""},
	};
	size_t n = role == STATS_SERVER ? SERVER_DIAL_CLASSES : sizeof(dial) / sizeof(dial[0]);
	prom_family(o, "wsferry_dial_errors_total", "counter",
	            "Connect tunnels refused instead of connected, by class.");
	for (size_t i = 0; i < n; i++)
		prom_sample(o, "wsferry_dial_errors_total", dial[i].label, t->dial_failed[dial[i].err]);
}

static void render_dns(const struct tun_stats *t, struct prom_out *o)
{
	static const uint16_t bounds[STATS_DNS_BUCKETS] = STATS_DNS_BOUNDS_MS;
	static const char name[] = "wsferry_dns_resolve_seconds_bucket";
	prom_family(o, "wsferry_dns_resolve_seconds", "histogram",
	            "Time to resolve a connect tunnel's host name.");
	uint64_t cum = 0;
	char label[32], s[24];
	for (unsigned i = 0; i < STATS_DNS_BUCKETS; i++) {
		cum += t->dns_bucket[i];
		prom_seconds_str(bounds[i], s, sizeof(s));
		snprintf(label, sizeof(label), "le=\"%s\"", s);
		prom_sample(o, name, label, cum);
	}
	uint64_t count = t->dns_count;
	prom_sample(o, name, "le=\"+Inf\"", count);
	prom_sample_seconds(o, "wsferry_dns_resolve_seconds_sum", NULL, t->dns_sum_ms);
	prom_sample(o, "wsferry_dns_resolve_seconds_count", NULL, count);
}

void stats_render(const struct tun_stats *t, enum stats_role role, struct prom_out *o)
{
	render_tunnels(t, o);
	render_handshakes(t, role, o);
	if (role == STATS_SERVER)
		render_auth(t, o);
	render_dial(t, role, o);
	if (role == STATS_SERVER)
		render_dns(t, o);
}
