/* push_db.h — the push message log (--push-db FILE): one small interface,
 * two backends picked by the Makefile (WITH_SQLITE): push_db_sqlite.c
 * writes on its own thread so the reactor never waits for the disk;
 * push_db_none.c refuses to open and says how to get it. */
#ifndef WSF_TUN_PUSH_PUSH_DB_H
#define WSF_TUN_PUSH_PUSH_DB_H

#include <stdbool.h>
#include <stddef.h>

#include "proto/push.h"
#include "tun/push/push_int.h"

/* False when built without a backend (then push_db_open always fails). */
extern const bool push_db_available;

/* Opens (creating) the log at path and starts its writer; blocking, for
 * startup only. NULL with a sentence in err (unwritable path, not a
 * database, built without SQLite). */
struct push_db *push_db_open(const char *path, char *err, size_t cap);

/* Queues one row (time UTC ISO-8601, source address, topic "" or a name,
 * the message's sender and text); never blocks and never fails the caller
 * (a full queue drops the row with a log line). */
void push_db_add(struct push_db *db, const struct push_msg *m, const char *topic,
                 const char *ip, const char *time_iso);

/* Fills out[0..n) with the latest rows, oldest first, as the admin page
 * lists them; *next gets the slot after the newest. Startup only. */
void push_db_recent(struct push_db *db, struct push_recent *out, size_t n, unsigned *next);

/* Writes what is queued, stops the writer and closes the file. */
void push_db_close(struct push_db *db);

#endif
