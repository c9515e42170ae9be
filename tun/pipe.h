/* pipe.h — relay two TCP sockets unchanged (--fallback), half-close carried
 * across, one buffer per direction at most. */
#ifndef WSF_TUN_PIPE_H
#define WSF_TUN_PIPE_H

#include "core/buf.h"
#include "core/rx.h"
#include "tun/conn.h"
#include "tun/stream.h"

/* Takes a (a client's stream: TLS is terminated here) and b (a plain socket,
 * maybe still connecting) and *a_to_b (bytes already read from a, delivered
 * to b first; a_eof: a already said FIN, passed on after them). 0 or -1
 * (both closed). */
int pipe_start(struct rx *rx, struct conn_list *list, unsigned id, struct conn_peer *peer,
               struct stream *a, int b, struct buf *a_to_b, bool a_eof);

#endif
