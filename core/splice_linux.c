/* splice_linux.c — splice(2): bytes move socket -> pipe -> socket inside the
 * kernel. Picked by the Makefile on Linux. */
#include "core/splice.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/types.h>

long splice_move(int from, int to, size_t n)
{
	for (;;) {
		ssize_t r = splice(from, NULL, to, NULL, n, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
		if (r >= 0)
			return r;
		if (errno != EINTR)
			return -errno;
	}
}

