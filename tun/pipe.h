/* pipe.h — relay two TCP sockets unchanged (--fallback), half-close carried
 * across, one buffer per direction at most. */
#ifndef WSF_TUN_PIPE_H
#define WSF_TUN_PIPE_H

#include "core/buf.h"
#include "core/rx.h"
#include "tun/conn.h"

/* Takes a and b (non-blocking, b may still be connecting) and *a_to_b (bytes
 * already read from a, delivered to b first). 0 or -1 (fds closed). */
int pipe_start(struct rx *rx, struct conn_list *list, unsigned id, struct conn_peer *peer, int a,
               int b, struct buf *a_to_b);

#endif
