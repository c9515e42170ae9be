/* dial.c — resolve, then connect to each address in turn until one answers
 * or the deadline passes. An attempt that neither succeeds nor fails within
 * DIAL_ATTEMPT_MS gives way to the next address, so a black-holed IPv6 route
 * costs seconds, not the whole deadline. */
#include "tun/dial.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "proto/url.h"

static void dial_stop_attempt(struct dial *d)
{
	if (d->fd >= 0) {
		if (d->io.fn)
			rx_io_close(d->rx, &d->io);
		else
			close(d->fd);
		d->fd = -1;
	}
}

/* --metrics: one lookup's latency into the histogram (cache and /etc/hosts
 * answers included: they are what a tunnel waited for). */
static void dial_observe_dns(struct dial *d)
{
	static const uint16_t bounds[STATS_DNS_BUCKETS] = STATS_DNS_BOUNDS_MS;
	if (!d->stats)
		return;
	uint64_t ms = rx_now(d->rx) - d->resolve_ms;
	unsigned i = 0;
	while (i < STATS_DNS_BUCKETS && ms > bounds[i])
		i++;
	d->stats->dns_bucket[i]++;
	d->stats->dns_sum_ms += ms;
	d->stats->dns_count++;
}

static void dial_finish(struct dial *d, int fd, enum tunnel_err err)
{
	rx_timer_cancel(d->rx, &d->timer);
	d->done(d, fd, err);
}

static void dial_next(struct dial *d);

static void dial_on_io(struct rx *rx, struct rx_io *io, unsigned events)
{
	struct dial *d = (struct dial *)((char *)io - offsetof(struct dial, io));
	(void)rx;
	(void)events;
	int rc = net_connect_result(d->fd);
	if (rc == 0) {
		int fd = d->fd;
		rx_io_del(d->rx, &d->io);
		d->fd = -1;
		dial_finish(d, fd, TUNNEL_OK);
		return;
	}
	d->last_err = -rc;
	dial_stop_attempt(d);
	dial_next(d);
}

static void dial_on_timer(struct rx *rx, struct rx_timer *t)
{
	struct dial *d = (struct dial *)((char *)t - offsetof(struct dial, timer));
	if (d->resolving) {
		dns_cancel(d->dns, &d->query);
		d->resolving = false;
		dial_observe_dns(d);
	}
	dial_stop_attempt(d);
	if (rx_now(rx) >= d->deadline_ms || d->next >= d->naddrs) {
		dial_finish(d, -1, TUNNEL_ERR_TIMEOUT);
		return;
	}
	d->last_err = ETIMEDOUT;
	dial_next(d);
}

/* --allow: a name that resolves into a forbidden block must not be dialled
 * (the check is on addresses, so DNS cannot route around it). */
static bool dial_allowed(const struct dial *d, const struct net_addr *a)
{
	if (!d->allow)
		return true;
	for (size_t i = 0; i < d->nallow; i++)
		if (net_cidr_match(&d->allow[i], a))
			return true;
	return false;
}

bool dial_target_permitted(const char *const *rules, size_t n, const char *host, uint16_t port)
{
	if (n == 0)
		return true;
	for (size_t i = 0; i < n; i++) {
		const char *rule = rules[i];
		const char *colon = strrchr(rule, ':');
		size_t hl = (size_t)(colon - rule);
		bool host_ok = (hl == 1 && rule[0] == '*') ||
		               (strlen(host) == hl && strncasecmp(rule, host, hl) == 0) ||
		               (hl == strlen(host) + 2 && rule[0] == '[' &&
		                strncasecmp(rule + 1, host, hl - 2) == 0);
		uint16_t p;
		bool port_ok = strcmp(colon + 1, "*") == 0 ||
		               (url_parse_port(colon + 1, strlen(colon + 1), &p) == 0 && p == port);
		if (host_ok && port_ok)
			return true;
	}
	return false;
}

int dial_rule_check(const char *rule)
{
	const char *colon = strrchr(rule, ':');
	uint16_t port;
	if (!colon || colon == rule)
		return -1;
	return strcmp(colon + 1, "*") == 0 || url_parse_port(colon + 1, strlen(colon + 1), &port) == 0
	               ? 0
	               : -1;
}

/* Tries the next address; reports the last error when none is left. */
static void dial_next(struct dial *d)
{
	while (d->next < d->naddrs) {
		const struct net_addr *a = &d->addrs[d->next++];
		if (!dial_allowed(d, a)) {
			d->forbidden = true;
			continue;
		}
		int fd = d->udp ? net_udp_connect(a) : net_connect(a);
		if (fd < 0) {
			d->last_err = -fd;
			continue;
		}
		if (d->udp) /* nothing to wait for: a route was found */
			return dial_finish(d, fd, TUNNEL_OK);
		d->fd = fd;
		d->tried = true;
		rx_io_add(d->rx, &d->io, fd, dial_on_io);
		rx_io_want(d->rx, &d->io, RX_WRITE);
		uint64_t at = d->deadline_ms;
		if (d->next < d->naddrs && rx_now(d->rx) + DIAL_ATTEMPT_MS < at)
			at = rx_now(d->rx) + DIAL_ATTEMPT_MS;
		rx_timer_arm(d->rx, &d->timer, at, dial_on_timer);
		return;
	}
	dial_finish(d, -1, d->forbidden && !d->tried ? TUNNEL_ERR_FORBIDDEN
	                                             : tunnel_err_from_errno(d->last_err));
}

static enum tunnel_err dns_err(int status)
{
	switch (status) {
	case DNS_ERR_NXDOMAIN:
	case DNS_ERR_NODATA:
	case DNS_ERR_BADNAME: return TUNNEL_ERR_NOT_FOUND;
	case DNS_ERR_TIMEOUT: return TUNNEL_ERR_TIMEOUT;
	default: return TUNNEL_ERR_UNREACHABLE;
	}
}

static void dial_on_resolved(struct dns_query *q, int status, const struct net_addr *addrs,
                             size_t naddrs)
{
	struct dial *d = (struct dial *)((char *)q - offsetof(struct dial, query));
	d->resolving = false;
	dial_observe_dns(d);
	if (status != DNS_OK || naddrs == 0) {
		dial_finish(d, -1, dns_err(status));
		return;
	}
	if (naddrs > DIAL_MAX_ADDRS)
		naddrs = DIAL_MAX_ADDRS;
	memcpy(d->addrs, addrs, naddrs * sizeof(*addrs));
	d->naddrs = (uint8_t)naddrs;
	dial_next(d);
}

void dial_start(struct dial *d, struct rx *rx, struct dns *dns, const char *host,
                uint16_t port, unsigned timeout_ms, dial_done_fn done)
{
	d->rx = rx;
	d->dns = dns;
	d->done = done;
	d->fd = -1;
	d->port = port;
	d->next = d->naddrs = 0;
	d->forbidden = d->tried = false;
	d->last_err = ECONNREFUSED;
	d->deadline_ms = rx_now(rx) + timeout_ms;
	if (net_addr_from_ip(host, port, &d->addrs[0]) == 0) {
		d->naddrs = 1;
		dial_next(d);
		return;
	}
	/* The resolver's own timeouts end the query; this one bounds the total. */
	rx_timer_arm(rx, &d->timer, d->deadline_ms, dial_on_timer);
	d->resolving = true;
	d->resolve_ms = rx_now(rx);
	if (dns_resolve(dns, &d->query, host, port, DNS_PREFER_V6, dial_on_resolved) < 0) {
		d->resolving = false;
		dial_finish(d, -1, TUNNEL_ERR_NOT_FOUND);
	}
}

void dial_cancel(struct dial *d)
{
	if (!d->rx)
		return;
	rx_timer_cancel(d->rx, &d->timer);
	if (d->resolving)
		dns_cancel(d->dns, &d->query);
	d->resolving = false;
	dial_stop_attempt(d);
}
