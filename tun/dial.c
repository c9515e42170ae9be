/* dial.c — resolve, then connect to each address in turn until one answers
 * or the deadline passes. Keeps the most telling error (refused beats
 * unreachable beats timeout) for the caller's reply. */
#include "tun/dial.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

static void dial_finish(struct dial *d, int fd, enum tunnel_err err)
{
	rx_timer_cancel(d->rx, &d->deadline);
	if (d->fd >= 0) {
		rx_io_del(d->rx, &d->io);
		if (fd != d->fd)
			close(d->fd);
		d->fd = -1;
	}
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
	rx_io_del(d->rx, &d->io);
	close(d->fd);
	d->fd = -1;
	dial_next(d);
}

/* Tries the next address; reports the last error when none is left. */
static void dial_next(struct dial *d)
{
	while (d->next < d->naddrs) {
		int fd = net_connect(&d->addrs[d->next++]);
		if (fd < 0) {
			d->last_err = -fd;
			continue;
		}
		d->fd = fd;
		rx_io_add(d->rx, &d->io, fd, dial_on_io);
		rx_io_want(d->rx, &d->io, RX_WRITE);
		return;
	}
	dial_finish(d, -1, tunnel_err_from_errno(d->last_err));
}

static void dial_on_deadline(struct rx *rx, struct rx_timer *t)
{
	struct dial *d = (struct dial *)((char *)t - offsetof(struct dial, deadline));
	(void)rx;
	dial_finish(d, -1, TUNNEL_ERR_TIMEOUT);
}

/* Literal addresses and localhost need no query. Returns the count. */
static int resolve_local(const char *host, uint16_t port, struct net_addr *out)
{
	if (net_addr_from_ip(host, port, &out[0]) == 0)
		return 1;
	if (strcmp(host, "localhost") == 0) {
		net_addr_from_ip("::1", port, &out[0]);
		net_addr_from_ip("127.0.0.1", port, &out[1]);
		return 2;
	}
	return 0;
}

void dial_start(struct dial *d, struct rx *rx, struct dns *dns, const char *host,
                uint16_t port, unsigned timeout_ms, dial_done_fn done)
{
	d->rx = rx;
	d->dns = dns;
	d->done = done;
	d->fd = -1;
	d->port = port;
	d->next = 0;
	d->last_err = ECONNREFUSED;
	int n = resolve_local(host, port, d->addrs);
	if (n == 0) {
		done(d, -1, TUNNEL_ERR_NOT_FOUND);
		return;
	}
	d->naddrs = (uint8_t)n;
	rx_timer_arm(rx, &d->deadline, rx_now(rx) + timeout_ms, dial_on_deadline);
	dial_next(d);
}

void dial_cancel(struct dial *d)
{
	rx_timer_cancel(d->rx, &d->deadline);
	if (d->fd >= 0) {
		rx_io_del(d->rx, &d->io);
		close(d->fd);
		d->fd = -1;
	}
}
