/* rand.c — a small pool refilled from getrandom(2); one syscall serves 64
 * masking keys. The pool is per thread (two instances in two threads never
 * draw the same bytes) and never leaves it. */
#include "core/rand.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/random.h>

#define RAND_POOL 256

static _Thread_local uint8_t pool[RAND_POOL];
static _Thread_local size_t pool_left;

static int fill(void *p, size_t n)
{
	uint8_t *d = p;
	while (n) {
		ssize_t r = getrandom(d, n, 0);
		if (r == -1) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		d += r;
		n -= (size_t)r;
	}
	return 0;
}

int rand_bytes(void *p, size_t n)
{
	if (n > RAND_POOL / 2)
		return fill(p, n);
	if (pool_left < n) {
		int rc = fill(pool, RAND_POOL);
		if (rc < 0)
			return rc;
		pool_left = RAND_POOL;
	}
	memcpy(p, pool + RAND_POOL - pool_left, n);
	/* Bytes handed out are wiped so a later dump cannot replay them. */
	memset(pool + RAND_POOL - pool_left, 0, n);
	pool_left -= n;
	return 0;
}
