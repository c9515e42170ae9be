/* dns_block.c — dns_resolve_blocking: one query on a private reactor. */
#include "core/dns_block.h"

#include <stdbool.h>
#include <stddef.h>

#include "core/dns.h"
#include "core/rx.h"

struct blocking_query {
	struct dns_query q; /* first: the callback finds us from it */
	struct rx *rx;
	int status;
	bool done;
};

static void blocking_done(struct dns_query *q, int status, const struct net_addr *addrs,
                          size_t naddrs)
{
	struct blocking_query *b = (struct blocking_query *)q;
	(void)addrs;
	(void)naddrs; /* read back with dns_query_addr */
	b->status = status;
	b->done = true;
	rx_stop(b->rx);
}

static size_t copy_addrs(const struct dns_query *q, struct net_addr *out, size_t max)
{
	size_t n = 0;
	for (size_t i = 0; n < max && dns_query_addr(q, i, &out[n]) == 0; i++)
		n++;
	return n;
}

int dns_resolve_blocking(const char *host, uint16_t port, const char *servers,
                         struct net_addr *out, size_t max)
{
	struct rx rx;
	struct dns d;
	struct blocking_query b = {.rx = &rx};
	struct dns_config cfg = {.servers = servers, .cache_size = -1};
	if (rx_init(&rx) < 0)
		return DNS_ERR_NOSERVER;
	if (dns_init(&d, &rx, &cfg) < 0) {
		rx_free(&rx);
		return DNS_ERR_NOSERVER;
	}
	int rc = DNS_ERR_NOSERVER;
	if (dns_resolve(&d, &b.q, host, port, DNS_PREFER_V4, blocking_done) == 0 &&
	    rx_run(&rx) == 0 && b.done)
		rc = b.status == DNS_OK ? (int)copy_addrs(&b.q, out, max) : b.status;
	dns_free(&d);
	rx_free(&rx);
	return rc == 0 ? DNS_ERR_NODATA : rc;
}
