/* cli_metrics.c — the client's --metrics: one counter set in the client
 * object (one process, one reactor: no sharing), bumped by the relay and
 * cli_tunnel.c through c->conns.stats, rendered on demand. */
#include "tun/client/cli_metrics.h"

#include <string.h>
#include <unistd.h>

#include "core/log.h"
#include "tun/scrape.h"

static void render(void *arg, struct prom_out *o)
{
	struct client *c = arg;
	stats_render(&c->stats, STATS_CLIENT, o);
}

static bool draining(void *arg)
{
	(void)arg;
	return false; /* a client stops at once */
}

static const struct scrape_ops ops = {render, draining};

int cli_metrics_start(struct client *c)
{
	if (!c->cfg->metrics_on)
		return 0;
	char name[NET_ADDR_STRLEN];
	net_addr_str(&c->cfg->metrics_addr, name, sizeof(name));
	c->metrics_fd = scrape_listen(&c->cfg->metrics_addr);
	if (c->metrics_fd < 0) {
		log_error("cannot listen on %s for --metrics: %s", name, strerror(-c->metrics_fd));
		return -1;
	}
	if (!(c->scrape = scrape_start(&c->rx, c->metrics_fd, &ops, c))) {
		log_error("cannot serve --metrics (out of memory)");
		return -1;
	}
	c->conns.stats = &c->stats;
	log_info("metrics at http://%s/metrics", name);
	if (!net_addr_is_loopback(&c->cfg->metrics_addr))
		log_warn("--metrics %s is not a loopback address: anyone who reaches it reads the "
		         "counters", name);
	return 0;
}

void cli_metrics_stop(struct client *c)
{
	scrape_stop(c->scrape);
	c->scrape = NULL;
	c->conns.stats = NULL;
	if (c->metrics_fd >= 0)
		close(c->metrics_fd);
	c->metrics_fd = -1;
}
