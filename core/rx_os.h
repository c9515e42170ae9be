/* rx_os.h — private: the interface between core/rx.c and its one OS backend
 * (core/rx_epoll.c or core/rx_kqueue.c, chosen by the Makefile). The backend
 * owns rx->os_fd and rx->os_events; it never calls an io's callback. */
#ifndef WSF_CORE_RX_OS_H
#define WSF_CORE_RX_OS_H

#include "core/rx.h"

/* Creates the poller and the fired-event array of RX_MAX_EVENTS. 0 or -errno;
 * on failure nothing is left allocated. */
int rx_os_init(struct rx *rx);
void rx_os_free(struct rx *rx);

/* Makes the poller hold `mask` (RX_READ|RX_WRITE) for io->fd, starting from
 * io->applied. mask 0 drops the fd from the poller. Sets io->applied to what
 * the poller really holds afterwards (dropping always succeeds). 0 or -errno. */
int rx_os_set(struct rx *rx, struct rx_io *io, unsigned mask);

/* Waits at most timeout_ms (-1: forever) and resets the dispatch cursor.
 * Returns the number of fired entries, 0 on timeout or EINTR, or -errno. */
int rx_os_wait(struct rx *rx, int timeout_ms);

/* Next not-invalidated fired io and its RX_READ|RX_WRITE mask (errors and
 * hangups already widened), or NULL when this wait's entries are exhausted.
 * Each io appears at most once per wait. */
struct rx_io *rx_os_next(struct rx *rx, unsigned *events);

/* Forgets io's fired entries not yet returned by rx_os_next, so a deleted
 * (and maybe freed) io is never dispatched. */
void rx_os_invalidate(struct rx *rx, struct rx_io *io);

#endif
