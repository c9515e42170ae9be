/* splice.h — zero-copy moves between sockets through kernel pipes, and a
 * bounded pool of empty pipes so a busy relay does not pipe2() per frame.
 * A pipe goes back to the pool only empty; one that holds bytes is closed. */
#ifndef WSF_CORE_SPLICE_H
#define WSF_CORE_SPLICE_H

#include <stddef.h>

#define SPLICE_POOL_MAX 32 /* idle pipes kept (2 fds each) */
#define SPLICE_PIPE_SIZE (256 * 1024) /* asked of F_SETPIPE_SZ; one frame at most */

/* An empty pipe (from the pool or new): 0, or -errno (e.g. -EMFILE). */
int splice_pipe_get(int p[2]);
/* Returns an EMPTY pipe to the pool (or closes it when the pool is full);
 * sets p to -1. */
void splice_pipe_put(int p[2]);
/* Closes a pipe that may hold bytes; sets p to -1. */
void splice_pipe_close(int p[2]);
/* splice(2) without blocking: >0 bytes moved, 0 end of file (from a
 * socket), -EAGAIN, or -errno (-EINVAL/-ENOSYS: not supported here, copy
 * instead). */
long splice_move(int from, int to, size_t n);
/* Closes the pooled pipes (for leak checkers at exit). */
void splice_pool_drain(void);

#endif
