/* buf.h — byte buffers that exist only while they hold bytes.
 * A struct buf is embedded in its owner and empty (no memory) when idle; the
 * storage comes from a small per-process free list so busy connections do not
 * malloc per read. Never shared between owners. */
#ifndef WSF_CORE_BUF_H
#define WSF_CORE_BUF_H

#include <stddef.h>
#include <stdint.h>

/* One size for every transit buffer: large reads cut syscalls per MiB
 * (STYLE: "large buffers"), and a fixed size makes the free list trivial. */
#define BUF_SIZE (64 * 1024)
#define BUF_POOL_MAX 64 /* cached free buffers per thread (4 MiB) */

struct buf {
	uint8_t *mem; /* NULL while empty and released */
	uint32_t off; /* first unread byte */
	uint32_t len; /* unread bytes from off */
};

/* Makes sure mem exists; 0 or -ENOMEM. */
int buf_alloc(struct buf *b);
/* Returns the storage to the pool; the buffer must not be needed any more. */
void buf_free(struct buf *b);
/* Frees the storage when no unread bytes are left (idle costs nothing). */
void buf_release_if_empty(struct buf *b);

static inline uint8_t *buf_data(const struct buf *b) { return b->mem + b->off; }
static inline size_t buf_len(const struct buf *b) { return b->len; }
/* Free space after the unread bytes; compacts first when that helps. */
size_t buf_room(struct buf *b);
static inline uint8_t *buf_tail(const struct buf *b) { return b->mem + b->off + b->len; }
static inline void buf_produced(struct buf *b, size_t n) { b->len += (uint32_t)n; }
/* Drops n unread bytes from the front. */
void buf_consume(struct buf *b, size_t n);
/* Appends; returns bytes copied (less than n when full). Allocates. */
size_t buf_append(struct buf *b, const void *p, size_t n);

/* Frees the cached pool (for leak checkers at exit). */
void buf_pool_drain(void);

#endif
