/* splice.c — the pipe pool (STYLE "splice": bounded pool, never reuse a
 * pipe that holds data). The move itself is per OS: splice_linux.c, or
 * splice_none.c where there is no splice(2) (callers then copy). */
#include "core/splice.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

/* Per thread, as buf.c's pool: no lock, no sharing between instances. */
static _Thread_local int pool[SPLICE_POOL_MAX][2];
static _Thread_local size_t pool_count;

int splice_pipe_get(int p[2])
{
	if (pool_count) {
		pool_count--;
		p[0] = pool[pool_count][0];
		p[1] = pool[pool_count][1];
		return 0;
	}
	if (pipe2(p, O_NONBLOCK | O_CLOEXEC) == -1)
		return -errno;
	/* Larger pipes mean fewer frames and syscalls per MiB; the kernel may
	 * refuse (pipe-max-size, memory), then the default 64 KiB serves. */
	fcntl(p[1], F_SETPIPE_SZ, SPLICE_PIPE_SIZE);
	return 0;
}

void splice_pipe_close(int p[2])
{
	if (p[0] >= 0)
		close(p[0]);
	if (p[1] >= 0)
		close(p[1]);
	p[0] = p[1] = -1;
}

void splice_pipe_put(int p[2])
{
	if (p[0] < 0)
		return;
	if (pool_count == SPLICE_POOL_MAX) {
		splice_pipe_close(p);
		return;
	}
	pool[pool_count][0] = p[0];
	pool[pool_count][1] = p[1];
	pool_count++;
	p[0] = p[1] = -1;
}

void splice_pool_drain(void)
{
	while (pool_count) {
		pool_count--;
		close(pool[pool_count][0]);
		close(pool[pool_count][1]);
	}
}
