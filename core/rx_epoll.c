/* rx_epoll.c — the Linux backend of rx_os.h: level-triggered epoll.
 * Owns the epoll fd and the fired-event array made at init; an fd is in the
 * epoll set only while its applied interest is non-empty. */
#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "core/rx_os.h"

int rx_os_init(struct rx *rx)
{
	rx->os_fd = epoll_create1(EPOLL_CLOEXEC);
	if (rx->os_fd == -1)
		return -errno;
	rx->os_events = calloc(RX_MAX_EVENTS, sizeof(struct epoll_event));
	if (!rx->os_events) {
		close(rx->os_fd);
		rx->os_fd = -1;
		return -ENOMEM;
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

/* EPOLLRDHUP only with READ: asked for alone it would fire, level-triggered,
 * on every wait after the peer's FIN although nobody reads. */
static uint32_t rx_epoll_events(unsigned mask)
{
	uint32_t ev = 0;

	if (mask & RX_READ)
		ev |= EPOLLIN | EPOLLRDHUP;
	if (mask & RX_WRITE)
		ev |= EPOLLOUT;
	return ev;
}

int rx_os_set(struct rx *rx, struct rx_io *io, unsigned mask)
{
	struct epoll_event ev = { .events = rx_epoll_events(mask), .data.ptr = io };
	int op = io->applied ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;

	if (mask == io->applied)
		return 0;
	if (mask == 0) {
		/* Fails only when the fd is already gone from the set (closed,
		 * EBADF/ENOENT): dropped either way. */
		epoll_ctl(rx->os_fd, EPOLL_CTL_DEL, io->fd, &ev);
		io->applied = 0;
		return 0;
	}
	if (epoll_ctl(rx->os_fd, op, io->fd, &ev) == -1)
		return -errno;
	io->applied = mask;
	return 0;
}

int rx_os_wait(struct rx *rx, int timeout_ms)
{
	int n = epoll_wait(rx->os_fd, rx->os_events, RX_MAX_EVENTS, timeout_ms);

	rx->os_cursor = 0;
	rx->os_nfired = n == -1 ? 0 : n;
	if (n == -1)
		return errno == EINTR ? 0 : -errno;
	return n;
}

/* Error and hangup widen to both directions: the next read or write then
 * returns the cause (ECONNRESET, EPIPE, 0 for EOF). */
static unsigned rx_epoll_mask(uint32_t ev)
{
	unsigned mask = 0;

	if (ev & (EPOLLERR | EPOLLHUP))
		mask |= RX_READ | RX_WRITE;
	if (ev & (EPOLLIN | EPOLLRDHUP))
		mask |= RX_READ;
	if (ev & EPOLLOUT)
		mask |= RX_WRITE;
	return mask;
}

struct rx_io *rx_os_next(struct rx *rx, unsigned *events)
{
	struct epoll_event *evs = rx->os_events;

	while (rx->os_cursor < rx->os_nfired) {
		struct epoll_event *e = &evs[rx->os_cursor++];

		if (e->data.ptr) {
			*events = rx_epoll_mask(e->events);
			return e->data.ptr;
		}
	}
	return NULL;
}

/* epoll reports each fd at most once per wait; still scan every entry left. */
void rx_os_invalidate(struct rx *rx, struct rx_io *io)
{
	struct epoll_event *evs = rx->os_events;

	for (int i = rx->os_cursor; i < rx->os_nfired; i++)
		if (evs[i].data.ptr == io)
			evs[i].data.ptr = NULL;
}
