/* users.c — the shared user table of users.h: 2 * USERS_MAX slots, linear
 * probing from an FNV-1a hash of the path; a deleted slot stays a
 * tombstone so chains hold, and is reused by the next add. Reset bumps an
 * epoch instead of clearing (O(1), no page touched): a slot of another
 * epoch is empty. Pages are touched only as users arrive. */
#include "tun/server/users.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <sys/mman.h>

#define SLOTS (2 * USERS_MAX)

enum slot_state {
	SLOT_EMPTY = 0,
	SLOT_LIVE,
	SLOT_GONE, /* a tombstone */
};

struct slot {
	uint32_t epoch;          /* a slot of another epoch is empty */
	uint32_t hash;
	uint8_t state;           /* enum slot_state */
	char path[CTL_PATH_MAX + 1];
	struct user_found user;
};

struct users {
	pthread_mutex_t lock;
	uint32_t epoch;
	size_t count;            /* live slots */
	size_t used;             /* live + tombstones: probes stay short */
	struct slot slots[SLOTS];
};

static uint32_t path_hash(const char *p, size_t n)
{
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < n; i++)
		h = (h ^ (uint8_t)p[i]) * 16777619u;
	return h;
}

static enum slot_state state_of(const struct users *u, const struct slot *s)
{
	return s->epoch == u->epoch ? (enum slot_state)s->state : SLOT_EMPTY;
}

/* The live slot of path, or NULL; *free_at (may be NULL) gets the first
 * reusable slot on its chain (SLOTS when none). */
static struct slot *slot_find(struct users *u, const char *path, size_t n, size_t *free_at)
{
	uint32_t h = path_hash(path, n);
	size_t first_free = SLOTS;
	for (size_t i = 0, at = h % SLOTS; i < SLOTS; i++, at = (at + 1) % SLOTS) {
		struct slot *s = &u->slots[at];
		enum slot_state st = state_of(u, s);
		if (st != SLOT_LIVE && first_free == SLOTS)
			first_free = at;
		if (st == SLOT_EMPTY)
			break;
		if (st == SLOT_LIVE && s->hash == h && strlen(s->path) == n &&
		    memcmp(s->path, path, n) == 0) {
			if (free_at)
				*free_at = first_free;
			return s;
		}
	}
	if (free_at)
		*free_at = first_free;
	return NULL;
}

static int users_lock(struct users *u)
{
	int rc = pthread_mutex_lock(&u->lock);
	if (rc == EOWNERDEAD) {
		/* every store leaves whole slots; only the counts may be off */
		size_t live = 0, used = 0;
		for (size_t i = 0; i < SLOTS; i++) {
			enum slot_state st = state_of(u, &u->slots[i]);
			live += st == SLOT_LIVE;
			used += st != SLOT_EMPTY;
		}
		u->count = live;
		u->used = used;
		pthread_mutex_consistent(&u->lock);
		return 0;
	}
	return rc == 0 ? 0 : -1;
}

struct users *users_new(void)
{
	struct users *u = mmap(NULL, sizeof(*u), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
	                       -1, 0);
	if (u == MAP_FAILED)
		return NULL;
	pthread_mutexattr_t a;
	pthread_mutexattr_init(&a);
	pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
	pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
	int rc = pthread_mutex_init(&u->lock, &a);
	pthread_mutexattr_destroy(&a);
	if (rc != 0) {
		munmap(u, sizeof(*u));
		return NULL;
	}
	u->epoch = 1;
	return u;
}

void users_free(struct users *u)
{
	if (!u)
		return;
	pthread_mutex_destroy(&u->lock);
	munmap(u, sizeof(*u));
}

static void slot_store(struct users *u, size_t at, const struct ctl_user *cu)
{
	struct slot *s = &u->slots[at];
	if (state_of(u, s) == SLOT_EMPTY)
		u->used++;
	memset(s, 0, sizeof(*s));
	s->epoch = u->epoch;
	s->hash = path_hash(cu->path, strlen(cu->path));
	memcpy(s->path, cu->path, sizeof(s->path));
	memcpy(s->user.dst, cu->dst, sizeof(s->user.dst));
	s->user.has_key = cu->has_key;
	if (cu->has_key)
		auth_derive(cu->key, &s->user.keys);
	s->state = SLOT_LIVE; /* last: a slot is never seen half written (the lock too) */
	u->count++;
}

/* Tombstones out, live users moved up their chains: visited in probe
 * order from an empty slot, each one re-placed at the first empty slot
 * from its home (never past where it was), so no chain is broken. Only
 * when tombstones crowd the table: it reads every slot. */
static void compact(struct users *u)
{
	size_t start = SLOTS;
	for (size_t i = 0; i < SLOTS; i++) {
		struct slot *s = &u->slots[i];
		if (state_of(u, s) == SLOT_GONE)
			s->state = SLOT_EMPTY;
		if (start == SLOTS && state_of(u, s) == SLOT_EMPTY)
			start = i;
	}
	for (size_t k = 1; start < SLOTS && k <= SLOTS; k++) {
		struct slot *s = &u->slots[(start + k) % SLOTS];
		if (state_of(u, s) != SLOT_LIVE)
			continue;
		struct slot keep = *s;
		s->state = SLOT_EMPTY;
		size_t at = keep.hash % SLOTS;
		while (state_of(u, &u->slots[at]) != SLOT_EMPTY)
			at = (at + 1) % SLOTS;
		u->slots[at] = keep;
	}
	u->used = u->count;
}

static enum users_rc apply_add(struct users *u, const struct ctl_cmd *c, size_t *at)
{
	struct ctl_user cu;
	size_t it = 0, i = 0;
	if (u->count + c->nusers > USERS_MAX)
		return USERS_FULL;
	while (ctl_next_user(c, &it, &cu)) {
		if (slot_find(u, cu.path, strlen(cu.path), NULL)) {
			*at = i;
			return USERS_EXISTS;
		}
		i++;
	}
	/* Tombstones count as used: past 3/4 of the slots chains grow long, so
	 * the dead are swept out first. */
	if (u->used + c->nusers > SLOTS * 3 / 4)
		compact(u);
	it = 0;
	while (ctl_next_user(c, &it, &cu)) {
		size_t free_at;
		struct slot *same = slot_find(u, cu.path, strlen(cu.path), &free_at);
		if (same) /* the same path twice in this request: the last one wins */
			u->count--, free_at = (size_t)(same - u->slots);
		if (free_at < SLOTS)
			slot_store(u, free_at, &cu);
	}
	return USERS_OK;
}

enum users_rc users_apply(struct users *u, const struct ctl_cmd *c, size_t *at, size_t *count)
{
	struct ctl_user cu;
	size_t it = 0;
	enum users_rc rc = USERS_OK;
	*at = 0;
	if (users_lock(u) < 0)
		return USERS_LOCK;
	if (c->op == CTL_OP_ADD) {
		rc = apply_add(u, c, at);
	} else if (c->op == CTL_OP_DELETE) {
		while (ctl_next_user(c, &it, &cu)) {
			struct slot *s = slot_find(u, cu.path, strlen(cu.path), NULL);
			if (s) {
				s->state = SLOT_GONE;
				u->count--;
				(*at)++;
			}
		}
	} else if (c->op == CTL_OP_RESET) {
		*at = u->count;
		u->epoch++;
		u->count = u->used = 0;
	}
	*count = u->count;
	pthread_mutex_unlock(&u->lock);
	return rc;
}

bool users_find(struct users *u, const char *path, size_t len, struct user_found *out)
{
	if (len > CTL_PATH_MAX || users_lock(u) < 0)
		return false;
	struct slot *s = u->count ? slot_find(u, path, len, NULL) : NULL;
	if (s)
		*out = s->user;
	pthread_mutex_unlock(&u->lock);
	return s != NULL;
}

size_t users_count(struct users *u)
{
	if (users_lock(u) < 0)
		return 0;
	size_t n = u->count;
	pthread_mutex_unlock(&u->lock);
	return n;
}
