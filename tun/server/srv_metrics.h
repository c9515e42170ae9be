/* srv_metrics.h — --metrics: every worker's counters (tun/stats.h) in one
 * shared mapping made before the fork, one slot per worker, summed into the
 * Prometheus text when scraped; and the draining flag the health answer
 * reads. The listener itself is tun/scrape.h's. */
#ifndef WSF_TUN_SERVER_SRV_METRICS_H
#define WSF_TUN_SERVER_SRV_METRICS_H

#include <stdbool.h>

#include "proto/prom.h"
#include "tun/server/srv_config.h"
#include "tun/stats.h"

struct srv_metrics;

/* Maps room for nslots workers (zeroed) before any fork. NULL when out of
 * memory. */
struct srv_metrics *srv_metrics_new(unsigned nslots);
void srv_metrics_free(struct srv_metrics *m);
/* Worker i's slot (i < nslots), its gauge reset: a restarted worker's
 * tunnels died with its predecessor; its counters go on from there. */
struct tun_stats *srv_metrics_slot(struct srv_metrics *m, unsigned i);
/* SIGTERM seen by some worker: the health answer turns to 503. */
void srv_metrics_set_draining(struct srv_metrics *m);
bool srv_metrics_draining(const struct srv_metrics *m);
/* The whole exposition (every metric, summed over the slots) into o; the
 * listener label comes from cfg->listen. */
void srv_metrics_render(const struct srv_metrics *m, const struct server_config *cfg,
                        struct prom_out *o);

#endif
