/* replay.h — the nonces seen inside the freshness window, so a captured
 * tunnel request cannot be used twice. Open addressing over caller-owned
 * slots (proto/ never allocates); an entry lives through its last fresh
 * second and is dead after it. Time (seconds) is always an argument. */
#ifndef WSF_PROTO_REPLAY_H
#define WSF_PROTO_REPLAY_H

#include <stddef.h>
#include <stdint.h>

struct replay_slot {
	uint64_t tag;  /* first 8 nonce bytes (random, so collisions ~2^-64); 0 = empty */
	uint64_t last; /* the last second at which the token is fresh: live while now <= last */
};

struct replay {
	struct replay_slot *slots; /* power-of-two count, zeroed */
	size_t cap;
	size_t used;               /* live or dead entries occupying slots */
	uint64_t swept_at;         /* sweeps are O(cap): at most one per second */
};

enum replay_rc {
	REPLAY_FRESH = 0,  /* first sighting: remembered through last */
	REPLAY_SEEN = -1,  /* the same nonce inside the window: refuse */
	REPLAY_FULL = -2,  /* no room even after dropping dead entries */
};

/* slots: cap entries (a power of two, >= 8), zero-filled. */
void replay_init(struct replay *r, struct replay_slot *slots, size_t cap);
/* Remembers nonce until (and including) second last, the last second at
 * which its token passes auth_fresh (auth_last_fresh). MUST be given the
 * same last for every copy of one token.
 * Crash safety (the --workers table in shared memory): the table's probe
 * chains are intact after every single store this function makes, so a
 * process killed anywhere inside it leaves at worst a duplicate entry and a
 * stale `used` (replay_recount), never a lost one. */
enum replay_rc replay_check(struct replay *r, const uint8_t nonce[16], uint64_t last,
                            uint64_t now);
/* Recomputes `used` after a writer died inside replay_check. */
void replay_recount(struct replay *r);
/* True when the table is over 3/4 full of live entries (time to grow). */
int replay_crowded(const struct replay *r);
/* Moves live entries of from into the larger, zeroed to. */
void replay_rehash(struct replay *to, const struct replay *from, uint64_t now);

#endif
