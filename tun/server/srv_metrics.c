/* srv_metrics.c — the counters of every worker in one MAP_SHARED region:
 * each worker writes only its own slot (plain adds, no lock, no atomic);
 * a scrape reads all slots and sums. A read may see a counter mid-update
 * on a 32-bit CPU (two halves): a scrape then, never the counters, is off. */
#include "tun/server/srv_metrics.h"

#include <stdio.h>
#include <string.h>
#include <sys/mman.h>


struct srv_metrics {
	volatile unsigned draining;
	unsigned nslots;
	struct tun_stats slot[];
};

_Static_assert(SERVER_MAX_LISTEN <= STATS_LISTENERS, "stats: one slot per listener");
_Static_assert(sizeof(struct tun_stats) % sizeof(uint64_t) == 0,
               "stats: 64-bit fields only, summed as an array (sum_slots)");

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

/* Every slot added up: all fields are 64-bit, so the sum is field by field
 * (the signed gauge too: two's complement). */
static void sum_slots(const struct srv_metrics *m, struct tun_stats *sum)
{
	uint64_t *dst = (uint64_t *)(void *)sum;
	memset(sum, 0, sizeof(*sum));
	for (unsigned i = 0; i < m->nslots; i++) {
		const uint64_t *src = (const uint64_t *)(const void *)&m->slot[i];
		for (size_t k = 0; k < sizeof(*sum) / sizeof(uint64_t); k++)
			dst[k] += src[k];
	}
}

static void render_listeners(const struct tun_stats *t, const struct server_config *cfg,
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
		prom_sample(o, "wsferry_listener_connections_total", label, t->listener_conns[i]);
	}
}

void srv_metrics_render(const struct srv_metrics *m, const struct server_config *cfg,
                        struct prom_out *o)
{
	struct tun_stats sum;
	sum_slots(m, &sum);
	stats_render(&sum, STATS_SERVER, o);
	render_listeners(&sum, cfg, o);
	prom_family(o, "wsferry_draining", "gauge", "1 while the server drains after SIGTERM.");
	prom_sample(o, "wsferry_draining", NULL, srv_metrics_draining(m));
	prom_family(o, "wsferry_workers", "gauge", "Worker processes counted here.");
	prom_sample(o, "wsferry_workers", NULL, m->nslots);
}
