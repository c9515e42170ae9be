/* rx_kqueue.c — the BSD/macOS backend of rx_os.h: level-triggered kqueue.
 * Owns the kqueue fd and the fired-event array made at init; merges the
 * separate read and write filters of an fd into one dispatch. */
#include <sys/types.h>
#include <sys/event.h>
#include <sys/time.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "core/rx_os.h"

int rx_os_init(struct rx *rx)
{
	rx->os_fd = kqueue();
	if (rx->os_fd == -1)
		return -errno;
	rx->os_events = calloc(RX_MAX_EVENTS, sizeof(struct kevent));
	if (!rx->os_events || fcntl(rx->os_fd, F_SETFD, FD_CLOEXEC) == -1) {
		int rc = rx->os_events ? -errno : -ENOMEM;

		rx_os_free(rx);
		return rc;
	}
	rx->os_nfired = rx->os_cursor = 0;
	return 0;
}

void rx_os_free(struct rx *rx)
{
	if (rx->os_fd != -1)
		close(rx->os_fd);
	free(rx->os_events);
	rx->os_fd = -1;
	rx->os_events = NULL;
	rx->os_nfired = rx->os_cursor = 0;
}

/* udata is void * on FreeBSD, macOS and OpenBSD but intptr_t on older
 * NetBSD: going through uintptr_t reads both. */
static struct rx_io *rx_kq_io(const struct kevent *e)
{
	return (struct rx_io *)(uintptr_t)e->udata;
}

static void rx_kq_change(struct kevent *ch, struct rx_io *io, short filter, bool add)
{
	/* EV_RECEIPT: one result per change, success or not, and no pending
	 * event drained into the result array. */
	unsigned short flags = (add ? EV_ADD : EV_DELETE) | EV_RECEIPT;

	EV_SET(ch, (uintptr_t)io->fd, filter, flags, 0, 0, io);
}

/* Drops always count as done (ENOENT/EBADF mean the kernel already forgot
 * the filter); adds count only where the receipt says data == 0. */
int rx_os_set(struct rx *rx, struct rx_io *io, unsigned mask)
{
	static const struct timespec no_wait = { 0, 0 };
	struct kevent ch[2], res[2];
	unsigned changed = io->applied ^ mask;
	int n = 0, got, err = 0;

	if (changed & RX_READ)
		rx_kq_change(&ch[n++], io, EVFILT_READ, mask & RX_READ);
	if (changed & RX_WRITE)
		rx_kq_change(&ch[n++], io, EVFILT_WRITE, mask & RX_WRITE);
	if (n == 0)
		return 0;
	do
		got = kevent(rx->os_fd, ch, n, res, n, &no_wait);
	while (got == -1 && errno == EINTR);
	io->applied &= mask;
	if (got == -1)
		return mask == io->applied ? 0 : -errno;
	for (int i = 0; i < got; i++) {
		unsigned bit = res[i].filter == EVFILT_READ ? RX_READ : RX_WRITE;

		if (!(mask & bit))
			continue;
		if ((res[i].flags & EV_ERROR) && res[i].data != 0)
			err = (int)res[i].data;
		else
			io->applied |= bit;
	}
	if (io->applied != mask)
		return err ? -err : -EIO;
	return 0;
}

static int rx_kq_by_io(const void *a, const void *b)
{
	uintptr_t x = (uintptr_t)rx_kq_io(a), y = (uintptr_t)rx_kq_io(b);

	return (x > y) - (x < y);
}

/* Sorting by io puts the read and write entries of one fd side by side for
 * rx_os_next to merge; skipped when only one filter kind fired. */
static void rx_kq_group(struct kevent *evs, int n)
{
	bool reads = false, writes = false;

	for (int i = 0; i < n; i++) {
		reads |= evs[i].filter == EVFILT_READ;
		writes |= evs[i].filter == EVFILT_WRITE;
	}
	if (reads && writes)
		qsort(evs, (size_t)n, sizeof(*evs), rx_kq_by_io);
}

int rx_os_wait(struct rx *rx, int timeout_ms)
{
	struct timespec ts = { timeout_ms / 1000, (long)(timeout_ms % 1000) * 1000000L };
	int n = kevent(rx->os_fd, NULL, 0, rx->os_events, RX_MAX_EVENTS,
	               timeout_ms < 0 ? NULL : &ts);

	rx->os_cursor = 0;
	rx->os_nfired = n == -1 ? 0 : n;
	if (n == -1)
		return errno == EINTR ? 0 : -errno;
	rx_kq_group(rx->os_events, n);
	return n;
}

/* Matches the epoll backend: a half-close (EV_EOF on the read filter) is
 * readable only; an error, or EOF on the write side, is both. */
static unsigned rx_kq_mask(const struct kevent *e)
{
	if (e->flags & EV_ERROR)
		return RX_READ | RX_WRITE;
	if (e->filter == EVFILT_READ)
		return (e->flags & EV_EOF) && e->fflags ? RX_READ | RX_WRITE : RX_READ;
	return e->flags & EV_EOF ? RX_READ | RX_WRITE : RX_WRITE;
}

struct rx_io *rx_os_next(struct rx *rx, unsigned *events)
{
	struct kevent *evs = rx->os_events;

	while (rx->os_cursor < rx->os_nfired) {
		struct kevent *e = &evs[rx->os_cursor++];
		struct rx_io *io = rx_kq_io(e);

		if (!io)
			continue;
		*events = rx_kq_mask(e);
		while (rx->os_cursor < rx->os_nfired && rx_kq_io(&evs[rx->os_cursor]) == io)
			*events |= rx_kq_mask(&evs[rx->os_cursor++]);
		return io;
	}
	return NULL;
}

void rx_os_invalidate(struct rx *rx, struct rx_io *io)
{
	struct kevent *evs = rx->os_events;

	for (int i = rx->os_cursor; i < rx->os_nfired; i++)
		if (rx_kq_io(&evs[i]) == io)
			evs[i].udata = 0;
}
