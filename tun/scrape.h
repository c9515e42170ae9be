/* scrape.h — the --metrics listener of either role: GET /metrics (the
 * Prometheus text its owner renders) and GET /health, /healthz (200 "ok"
 * while serving, 503 "draining" once the owner says so) for load balancers,
 * on its own address only, never on a public listener. The server makes the
 * socket before its fork and every worker serves it from its own reactor. */
#ifndef WSF_TUN_SCRAPE_H
#define WSF_TUN_SCRAPE_H

#include <stdbool.h>

#include "core/net.h"
#include "core/rx.h"
#include "proto/prom.h"

/* What the owner answers with; called on the reactor, never blocking. */
struct scrape_ops {
	void (*render)(void *arg, struct prom_out *o); /* the whole exposition */
	bool (*draining)(void *arg);                    /* /health: 503 when true */
};

#define SCRAPE_HEAD_MAX 4096   /* request head; more gets 431 */
#define SCRAPE_MAX_CONNS 16    /* per worker; a newcomer then closes the oldest */
#define SCRAPE_DEADLINE_MS 5000 /* the whole exchange, never reset by trickled bytes */

struct scrape;

/* The listening socket for a (-errno on failure). */
int scrape_listen(const struct net_addr *a);
/* Serves lfd (not owned) on rx, answering through ops with arg, until
 * scrape_stop; NULL when out of memory. */
struct scrape *scrape_start(struct rx *rx, int lfd, const struct scrape_ops *ops, void *arg);
/* Stops accepting and closes the open scrapes; NULL is fine. */
void scrape_stop(struct scrape *sc);

#endif
