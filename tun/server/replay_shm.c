/* replay_shm.c — the nonce table shared by --workers processes: a fixed
 * table in anonymous shared memory, mapped before the fork, guarded by a
 * robust process-shared mutex (a worker that dies holding it does not wedge
 * the others). Pages are touched only as nonces arrive. */
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <sys/mman.h>

#include "tun/server/replay_shm.h"

struct replay_shm {
	pthread_mutex_t lock;
	struct replay table;
	struct replay_slot slots[];
};

static size_t shm_size(size_t cap)
{
	return sizeof(struct replay_shm) + cap * sizeof(struct replay_slot);
}

struct replay_shm *replay_shm_new(size_t cap)
{
	struct replay_shm *r = mmap(NULL, shm_size(cap), PROT_READ | PROT_WRITE,
	                            MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (r == MAP_FAILED)
		return NULL;
	pthread_mutexattr_t a;
	pthread_mutexattr_init(&a);
	pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
	pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
	int rc = pthread_mutex_init(&r->lock, &a);
	pthread_mutexattr_destroy(&a);
	if (rc != 0) {
		munmap(r, shm_size(cap));
		return NULL;
	}
	replay_init(&r->table, r->slots, cap); /* same address in every worker */
	return r;
}

void replay_shm_free(struct replay_shm *r, size_t cap)
{
	pthread_mutex_destroy(&r->lock);
	munmap(r, shm_size(cap));
}

enum replay_rc replay_shm_check(struct replay_shm *r, const uint8_t nonce[16], uint64_t last,
                                uint64_t now)
{
	int rc = pthread_mutex_lock(&r->lock);
	if (rc == EOWNERDEAD) {
		/* replay_check keeps every chain intact at each store (replay.h):
		 * only the count can be off after its writer died. */
		replay_recount(&r->table);
		pthread_mutex_consistent(&r->lock);
	} else if (rc != 0) {
		return REPLAY_FULL; /* fail closed */
	}
	enum replay_rc res = replay_check(&r->table, nonce, last, now);
	pthread_mutex_unlock(&r->lock);
	return res;
}
