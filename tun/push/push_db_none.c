/* push_db_none.c — the push log when built without SQLite (make static,
 * WITH_SQLITE=0): nothing is linked, and --push-db says why it cannot be. */
#include "tun/push/push_db.h"

#include <stdio.h>

const bool push_db_available = false;

struct push_db *push_db_open(const char *path, char *err, size_t cap)
{
	(void)path;
	snprintf(err, cap, "this wsferry was built without SQLite (rebuild with make WITH_SQLITE=1)");
	return NULL;
}

void push_db_add(struct push_db *db, const struct push_msg *m, const char *topic,
                 const char *ip, const char *time_iso)
{
	(void)db, (void)m, (void)topic, (void)ip, (void)time_iso;
}

void push_db_recent(struct push_db *db, struct push_recent *out, size_t n, unsigned *next)
{
	(void)db, (void)out, (void)n;
	*next = 0;
}

void push_db_close(struct push_db *db)
{
	(void)db;
}
