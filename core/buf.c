/* buf.c — transit buffers from a bounded free list.
 * Owns the pool of BUF_SIZE blocks; never holds memory for an empty buffer
 * longer than its owner asks (buf_release_if_empty). */
#include "core/buf.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Per thread: two instances running in two threads (bin/lib.c) never share
 * a free list, and the hot path takes no lock. */
static _Thread_local uint8_t *pool[BUF_POOL_MAX];
static _Thread_local size_t pool_count;

int buf_alloc(struct buf *b)
{
	if (b->mem)
		return 0;
	b->mem = pool_count ? pool[--pool_count] : malloc(BUF_SIZE);
	b->off = b->len = 0;
	return b->mem ? 0 : -ENOMEM;
}

void buf_free(struct buf *b)
{
	if (!b->mem)
		return;
	if (pool_count < BUF_POOL_MAX)
		pool[pool_count++] = b->mem;
	else
		free(b->mem);
	b->mem = NULL;
	b->off = b->len = 0;
}

void buf_release_if_empty(struct buf *b)
{
	if (b->len == 0)
		buf_free(b);
}

size_t buf_room(struct buf *b)
{
	if (!b->mem)
		return 0;
	/* Compact only when the tail is nearly full: a memmove per read would
	 * cost more than the short reads it saves. */
	if (b->off && BUF_SIZE - b->off - b->len < BUF_SIZE / 4) {
		memmove(b->mem, b->mem + b->off, b->len);
		b->off = 0;
	}
	return BUF_SIZE - b->off - b->len;
}

void buf_consume(struct buf *b, size_t n)
{
	if (n >= b->len) {
		b->off = b->len = 0;
		return;
	}
	b->off += (uint32_t)n;
	b->len -= (uint32_t)n;
}

size_t buf_append(struct buf *b, const void *p, size_t n)
{
	if (n == 0)
		return 0; /* and never memcpy from a NULL p */
	if (buf_alloc(b) < 0)
		return 0;
	size_t room = buf_room(b);
	if (n > room)
		n = room;
	memcpy(buf_tail(b), p, n);
	b->len += (uint32_t)n;
	return n;
}

void buf_pool_drain(void)
{
	while (pool_count)
		free(pool[--pool_count]);
}
