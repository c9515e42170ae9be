/* srv_scrape.h — the --metrics listener: GET /metrics (the Prometheus text
 * of srv_metrics.h) and GET /health, /healthz (200 "ok" while serving, 503
 * "draining" after SIGTERM) for load balancers, on its own address only,
 * never on a public listener. One socket made before the fork; every worker
 * serves it from its own reactor (the answer sums all workers). */
#ifndef WSF_TUN_SERVER_SRV_SCRAPE_H
#define WSF_TUN_SERVER_SRV_SCRAPE_H

#include "core/net.h"
#include "core/rx.h"
#include "tun/server/srv_metrics.h"

#define SCRAPE_HEAD_MAX 4096   /* request head; more gets 431 */
#define SCRAPE_MAX_CONNS 16    /* per worker; a newcomer then closes the oldest */
#define SCRAPE_DEADLINE_MS 5000 /* the whole exchange, never reset by trickled bytes */

struct srv_scrape;

/* The listening socket for a (-errno on failure). */
int srv_scrape_listen(const struct net_addr *a);
/* Serves lfd (not owned) on rx with m's numbers until srv_scrape_stop; NULL
 * when out of memory. */
struct srv_scrape *srv_scrape_start(struct rx *rx, int lfd, const struct srv_metrics *m,
                                    const struct server_config *cfg);
/* Stops accepting and closes the open scrapes; NULL is fine. */
void srv_scrape_stop(struct srv_scrape *sc);

#endif
