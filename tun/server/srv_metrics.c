/* srv_metrics.c — the counters of every worker in one MAP_SHARED region:
 * each worker writes only its own slot (plain adds, no lock, no atomic);
 * a scrape reads all slots and sums. A read may see a counter mid-update
 * on a 32-bit CPU (two halves): a scrape then, never the counters, is off. */
#include "tun/server/srv_metrics.h"

#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include "proto/tunnel.h"

struct srv_metrics {
	volatile unsigned draining;
	unsigned nslots;
	struct tun_stats slot[];
};

_Static_assert(TUNNEL_ERR_TLS < STATS_ERR_N, "stats: room for every enum tunnel_err");
_Static_assert(SERVER_MAX_LISTEN <= STATS_LISTENERS, "stats: one slot per listener");

static size_t region_size(unsigned nslots)
{
	return sizeof(struct srv_metrics) + nslots * sizeof(struct tun_stats);
}

struct srv_metrics *srv_metrics_new(unsigned nslots)
{
	struct srv_metrics *m = mmap(NULL, region_size(nslots), PROT_READ | PROT_WRITE,
	                             MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED)
		return NULL;
	m->nslots = nslots; /* anonymous pages start zeroed */
	return m;
}

void srv_metrics_free(struct srv_metrics *m)
{
	if (m)
		munmap(m, region_size(m->nslots));
}

struct tun_stats *srv_metrics_slot(struct srv_metrics *m, unsigned i)
{
	struct tun_stats *s = &m->slot[i < m->nslots ? i : 0];
	s->tunnels_open = 0;
	return s;
}

void srv_metrics_set_draining(struct srv_metrics *m)
{
	m->draining = 1;
}

bool srv_metrics_draining(const struct srv_metrics *m)
{
	return m->draining != 0;
}

/* Sum of the uint64_t at byte offset off of every slot. */
static uint64_t sum_at(const struct srv_metrics *m, size_t off)
{
	uint64_t v = 0;
	for (unsigned i = 0; i < m->nslots; i++)
		v += *(const uint64_t *)(const void *)((const char *)&m->slot[i] + off);
	return v;
}

#define SUM(m, field) sum_at((m), offsetof(struct tun_stats, field))
/* Element i of an array field. */
#define SUM_I(m, field, i) sum_at((m), offsetof(struct tun_stats, field) + (i) * sizeof(uint64_t))

static void render_tunnels(const struct srv_metrics *m, struct prom_out *o)
{
	int64_t open = 0;
	for (unsigned i = 0; i < m->nslots; i++)
		open += m->slot[i].tunnels_open;
	prom_family(o, "wsferry_tunnels_open", "gauge", "TCP tunnels open now.");
	prom_sample_signed(o, "wsferry_tunnels_open", NULL, open);
	prom_family(o, "wsferry_tunnels_total", "counter", "TCP tunnels opened.");
	prom_sample(o, "wsferry_tunnels_total", NULL, SUM(m, tunnels_total));
	prom_family(o, "wsferry_bytes_total", "counter",
	            "Tunnel payload bytes delivered, by direction.");
	prom_sample(o, "wsferry_bytes_total", "direction=\"client_to_target\"",
	            SUM_I(m, bytes, STATS_C2T));
	prom_sample(o, "wsferry_bytes_total", "direction=\"target_to_client\"",
	            SUM_I(m, bytes, STATS_T2C));
}

static void render_handshakes(const struct srv_metrics *m, struct prom_out *o)
{
	static const char name[] = "wsferry_handshakes_total";
	prom_family(o, name, "counter", "WebSocket tunnel upgrades and TLS handshakes, by result.");
	prom_sample(o, name, "kind=\"websocket\",result=\"ok\"", SUM(m, ws_ok));
	prom_sample(o, name, "kind=\"websocket\",result=\"failed\"", SUM(m, ws_failed));
	prom_sample(o, name, "kind=\"tls\",result=\"ok\"", SUM(m, tls_ok));
	prom_sample(o, name, "kind=\"tls\",result=\"failed\"", SUM(m, tls_failed));
}

static void render_failures(const struct srv_metrics *m, struct prom_out *o)
{
	static const char *const auth[STATS_AUTH_N] = {
		[STATS_AUTH_BAD_KEY] = "class=\"bad_key\"", [STATS_AUTH_SKEW] = "class=\"skew\"",
		[STATS_AUTH_REPLAY] = "class=\"replay\"",
		[STATS_AUTH_NONCE_FULL] = "class=\"nonce_table_full\"",
		[STATS_AUTH_STORE_DOWN] = "class=\"replay_store_down\""};
	/* The refusals a connect tunnel can get from this server, in this order. */
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
	};
	prom_family(o, "wsferry_auth_failures_total", "counter",
	            "Keyed tunnel requests refused, by reason.");
	for (unsigned i = 0; i < STATS_AUTH_N; i++)
		prom_sample(o, "wsferry_auth_failures_total", auth[i], SUM_I(m, auth_failed, i));
	prom_family(o, "wsferry_stealth_answers_total", "counter",
	            "Requests for no endpoint (probes, other keys) given the --stealth answer.");
	prom_sample(o, "wsferry_stealth_answers_total", NULL, SUM(m, stealth));
	prom_family(o, "wsferry_dial_errors_total", "counter",
	            "Connect tunnels refused instead of connected, by class.");
	for (size_t i = 0; i < sizeof(dial) / sizeof(dial[0]); i++)
		prom_sample(o, "wsferry_dial_errors_total", dial[i].label,
		            SUM_I(m, dial_failed, dial[i].err));
}

static void render_dns(const struct srv_metrics *m, struct prom_out *o)
{
	static const uint16_t bounds[STATS_DNS_BUCKETS] = STATS_DNS_BOUNDS_MS;
	static const char name[] = "wsferry_dns_resolve_seconds_bucket";
	prom_family(o, "wsferry_dns_resolve_seconds", "histogram",
	            "Time to resolve a connect tunnel's host name.");
	uint64_t cum = 0;
	char label[32], s[24];
	for (unsigned i = 0; i < STATS_DNS_BUCKETS; i++) {
		cum += SUM_I(m, dns_bucket, i);
		prom_seconds_str(bounds[i], s, sizeof(s));
		snprintf(label, sizeof(label), "le=\"%s\"", s);
		prom_sample(o, name, label, cum);
	}
	uint64_t count = SUM(m, dns_count);
	prom_sample(o, name, "le=\"+Inf\"", count);
	prom_sample_seconds(o, "wsferry_dns_resolve_seconds_sum", NULL, SUM(m, dns_sum_ms));
	prom_sample(o, "wsferry_dns_resolve_seconds_count", NULL, count);
}

static void render_listeners(const struct srv_metrics *m, const struct server_config *cfg,
                             struct prom_out *o)
{
	prom_family(o, "wsferry_listener_connections_total", "counter",
	            "Connections accepted, by listen URL.");
	for (size_t i = 0; i < cfg->nlisten; i++) {
		const struct url *u = &cfg->listen[i];
		char url[URL_MAX_HOST + 32], esc[2 * sizeof(url)], label[sizeof(esc) + 16];
		snprintf(url, sizeof(url), strchr(u->host, ':') ? "%s://[%s]:%u" : "%s://%s:%u",
		         url_scheme_name(u->scheme), u->host, u->port);
		if (!prom_label_escape(url, esc, sizeof(esc)))
			continue;
		snprintf(label, sizeof(label), "listener=\"%s\"", esc);
		prom_sample(o, "wsferry_listener_connections_total", label, SUM_I(m, listener_conns, i));
	}
}

void srv_metrics_render(const struct srv_metrics *m, const struct server_config *cfg,
                        struct prom_out *o)
{
	render_tunnels(m, o);
	render_handshakes(m, o);
	render_failures(m, o);
	render_dns(m, o);
	render_listeners(m, cfg, o);
	prom_family(o, "wsferry_draining", "gauge", "1 while the server drains after SIGTERM.");
	prom_sample(o, "wsferry_draining", NULL, srv_metrics_draining(m));
	prom_family(o, "wsferry_workers", "gauge", "Worker processes counted here.");
	prom_sample(o, "wsferry_workers", NULL, m->nslots);
}
