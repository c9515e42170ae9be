/* replay_store.h — a nonce table shared by several servers
 * (--replay-store): each tunnel token's nonce is claimed there atomically
 * before the 101, so a token replayed to a sibling node is refused. One
 * small interface, two backends picked by the Makefile (WITH_REDIS):
 * replay_redis.c (our own RESP client on the reactor, never blocking) and
 * replay_store_none.c (refuses, and says how to get it). */
#ifndef WSF_TUN_SERVER_REPLAY_STORE_H
#define WSF_TUN_SERVER_REPLAY_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/rx.h"

enum replay_store_verdict {
	REPLAY_STORE_FRESH = 0, /* claimed now: nobody had it */
	REPLAY_STORE_SEEN,      /* another node (or this one) claimed it first */
	REPLAY_STORE_DOWN,      /* no answer: the caller's --replay-store-fail decides */
};

typedef void (*replay_store_fn)(void *owner, enum replay_store_verdict v);

struct replay_store;

/* False when built without a backend (WITH_REDIS=0). */
extern const bool replay_store_available;

/* Checks a --replay-store URL (redis://[[USER]:PASSWORD@]HOST[:PORT][/DB],
 * unix:PATH): 0, or -1 with *why. For bin/, before anything starts. */
int replay_store_check_url(const char *url, const char **why);

/* Resolves url (blocking: startup only; dns: the --dns list or NULL) and
 * starts connecting on rx; the connection comes back by itself after
 * failures. NULL with a sentence in err. */
struct replay_store *replay_store_open(struct rx *rx, const char *url, const char *dns, char *err,
                                      size_t cap);

/* Claims nonce for ttl_s seconds. A ticket (non-zero): fn(owner, verdict)
 * is called later, exactly once, from the reactor, unless cancelled first.
 * 0: the store is unreachable right now (fn is never called). */
uint32_t replay_store_claim(struct replay_store *s, const uint8_t nonce[16], unsigned ttl_s,
                            replay_store_fn fn, void *owner);

/* The owner is going away: its callback never runs. */
void replay_store_cancel(struct replay_store *s, uint32_t ticket);

/* Closes the connection; pending claims are dropped without callbacks. */
void replay_store_close(struct replay_store *s);

#endif
