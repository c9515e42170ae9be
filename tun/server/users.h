/* users.h — the multi-user server's users (--controller): path -> fixed
 * destination and optional own key, added and removed at run time, shared
 * by every --workers process (one table in anonymous shared memory, mapped
 * before the fork, under a robust process-shared mutex: a worker that dies
 * holding it wedges nobody). Open addressing on a hash of the path, so a
 * lookup costs the same with 10 users or 30,000. */
#ifndef WSF_TUN_SERVER_USERS_H
#define WSF_TUN_SERVER_USERS_H

#include <stdbool.h>
#include <stddef.h>

#include "proto/auth.h"
#include "proto/ctl.h"

#define USERS_MAX 32768 /* users at once; the table has twice the slots */

/* A user as a lookup returns it (a copy: the table may change after). */
struct user_found {
	char dst[CTL_DST_MAX + 1];
	bool has_key;
	struct auth_keys keys;  /* derived from its key (has_key) */
};

enum users_rc {
	USERS_OK = 0,
	USERS_EXISTS = -1,  /* add: a path is a user already (delete it first) */
	USERS_FULL = -2,    /* add: over USERS_MAX */
	USERS_LOCK = -3,    /* the lock could not be had */
};

struct users;

/* Maps the table (shared with children forked later). NULL on failure. */
struct users *users_new(void);
void users_free(struct users *u);

/* Applies a command checked by ctl_parse, all or nothing: add (every path
 * new, else USERS_EXISTS with *at the index of the first one known), delete
 * (*at: how many were there), reset (*at: how many there were), ping.
 * *count gets the users after it. */
enum users_rc users_apply(struct users *u, const struct ctl_cmd *c, size_t *at, size_t *count);

/* The user at exactly path[0..len): true with out filled. */
bool users_find(struct users *u, const char *path, size_t len, struct user_found *out);

/* How many users there are (0 when the lock cannot be had). */
size_t users_count(struct users *u);

#endif
