/* push_db_sqlite.c — the push message log in SQLite (WITH_SQLITE=1). The
 * reactor only appends a row to a bounded in-memory queue; a writer thread
 * takes the whole queue at once and inserts it in one transaction, so a slow
 * disk delays rows, never the reactor. Opening and the admin page's first
 * rows are read at startup, before serving. */
#include "tun/push/push_db.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "core/log.h"
#include "proto/json.h"

#define DB_QUEUE_MAX 10000 /* rows waiting for the disk; more are dropped */
#define DB_BUSY_MS 2000

const bool push_db_available = true;

struct db_row {
	struct db_row *next;
	const char *time, *ip, *topic, *sender, *message; /* into the same allocation */
	size_t message_len;
	int json;  /* message is a JSON value that is not a string */
};

struct push_db {
	sqlite3 *db;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	struct db_row *head, **tail; /* the queue, oldest first */
	size_t queued;
	uint64_t dropped;
	bool stop;
};

static const char schema[] =
	"PRAGMA journal_mode=WAL;"
	"CREATE TABLE IF NOT EXISTS messages ("
	" id INTEGER PRIMARY KEY,"
	" time TEXT NOT NULL,"    /* UTC, 2024-01-15T10:30:45.123Z */
	" ip TEXT NOT NULL,"      /* the POST's source address */
	" topic TEXT,"            /* NULL: the default channel */
	" sender TEXT,"           /* NULL: none given */
	" message TEXT NOT NULL," /* the text, or the JSON value when json = 1 */
	" json INTEGER NOT NULL DEFAULT 0);";

static void db_write(struct push_db *d, struct db_row *rows)
{
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_exec(d->db, "BEGIN", NULL, NULL, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_prepare_v2(d->db, "INSERT INTO messages (time, ip, topic, sender, message,"
		                               " json) VALUES (?, ?, ?, ?, ?, ?)", -1, &st, NULL);
	for (struct db_row *r = rows; r && rc == SQLITE_OK; r = r->next) {
		sqlite3_bind_text(st, 1, r->time, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, r->ip, -1, SQLITE_STATIC);
		if (*r->topic)
			sqlite3_bind_text(st, 3, r->topic, -1, SQLITE_STATIC);
		else
			sqlite3_bind_null(st, 3);
		if (r->sender)
			sqlite3_bind_text(st, 4, r->sender, -1, SQLITE_STATIC);
		else
			sqlite3_bind_null(st, 4);
		sqlite3_bind_text(st, 5, r->message, (int)r->message_len, SQLITE_STATIC);
		sqlite3_bind_int(st, 6, r->json);
		rc = sqlite3_step(st) == SQLITE_DONE ? SQLITE_OK : SQLITE_ERROR;
		sqlite3_reset(st);
	}
	sqlite3_finalize(st);
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(d->db, "COMMIT", NULL, NULL, NULL);
	if (rc != SQLITE_OK) {
		log_error("--push-db: rows lost: %s", sqlite3_errmsg(d->db));
		sqlite3_exec(d->db, "ROLLBACK", NULL, NULL, NULL);
	}
	while (rows) {
		struct db_row *next = rows->next;
		free(rows);
		rows = next;
	}
}

static void *db_writer(void *arg)
{
	struct push_db *d = arg;
	pthread_mutex_lock(&d->lock);
	for (;;) {
		while (!d->head && !d->stop)
			pthread_cond_wait(&d->wake, &d->lock);
		struct db_row *rows = d->head;
		d->head = NULL;
		d->tail = &d->head;
		d->queued = 0;
		bool stop = d->stop;
		pthread_mutex_unlock(&d->lock);
		if (rows)
			db_write(d, rows); /* what came meanwhile is the next batch */
		pthread_mutex_lock(&d->lock);
		if (stop && !d->head)
			break;
	}
	pthread_mutex_unlock(&d->lock);
	return NULL;
}

struct push_db *push_db_open(const char *path, char *err, size_t cap)
{
	struct push_db *d = calloc(1, sizeof(*d));
	if (!d) {
		snprintf(err, cap, "out of memory");
		return NULL;
	}
	int rc = sqlite3_open_v2(path, &d->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
	if (rc == SQLITE_OK) {
		sqlite3_busy_timeout(d->db, DB_BUSY_MS);
		rc = sqlite3_exec(d->db, schema, NULL, NULL, NULL);
	}
	if (rc != SQLITE_OK) {
		snprintf(err, cap, "cannot open or write: %s",
		         d->db ? sqlite3_errmsg(d->db) : sqlite3_errstr(rc));
		sqlite3_close(d->db);
		free(d);
		return NULL;
	}
	d->tail = &d->head;
	pthread_mutex_init(&d->lock, NULL);
	pthread_cond_init(&d->wake, NULL);
	/* Signals stay with the reactor's thread (its self-pipe). */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	rc = pthread_create(&d->thread, NULL, db_writer, d);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		snprintf(err, cap, "cannot start the writer thread");
		sqlite3_close(d->db);
		free(d);
		return NULL;
	}
	return d;
}

/* The JSON string's text, decoded into out (cap bytes): its length. */
static size_t decode_string(const char *raw, size_t n, char *out, size_t cap)
{
	struct json_value v = {JSON_STRING, raw, n};
	size_t len = 0;
	json_string(&v, out, cap, &len);
	return len < cap ? len : cap - 1;
}

void push_db_add(struct push_db *d, const struct push_msg *m, const char *topic,
                 const char *ip, const char *time_iso)
{
	size_t tl = strlen(time_iso) + 1, il = strlen(ip) + 1, pl = strlen(topic) + 1;
	size_t sl = m->sender ? m->sender_len + 1 : 0;
	struct db_row *r = malloc(sizeof(*r) + tl + il + pl + sl + m->message_len + 1);
	if (!r) {
		log_warn("--push-db: out of memory: a row is lost");
		return;
	}
	char *p = (char *)(r + 1);
	r->next = NULL;
	r->time = memcpy(p, time_iso, tl), p += tl;
	r->ip = memcpy(p, ip, il), p += il;
	r->topic = memcpy(p, topic, pl), p += pl;
	r->sender = NULL;
	if (m->sender) {
		decode_string(m->sender, m->sender_len, p, sl);
		r->sender = p;
		p += sl;
	}
	r->message = p;
	r->json = m->message_json && m->message[0] != '"';
	if (m->message_json && !r->json)
		r->message_len = decode_string(m->message, m->message_len, p, m->message_len + 1);
	else
		r->message_len = (size_t)(memcpy(p, m->message, m->message_len), m->message_len);
	pthread_mutex_lock(&d->lock);
	bool full = d->queued >= DB_QUEUE_MAX;
	if (!full) {
		*d->tail = r;
		d->tail = &r->next;
		d->queued++;
		pthread_cond_signal(&d->wake);
	}
	uint64_t dropped = full ? ++d->dropped : 0;
	pthread_mutex_unlock(&d->lock);
	if (full) {
		free(r);
		if ((dropped & (dropped - 1)) == 0) /* 1, 2, 4, 8 ...: never a flood */
			log_warn("--push-db: the disk is behind by %d rows: %llu rows dropped",
			         DB_QUEUE_MAX, (unsigned long long)dropped);
	}
}

static const char *col(sqlite3_stmt *st, int i)
{
	const unsigned char *t = sqlite3_column_text(st, i);
	return t ? (const char *)t : "";
}

void push_db_recent(struct push_db *d, struct push_recent *out, size_t n, unsigned *next)
{
	sqlite3_stmt *st = NULL;
	size_t got = 0;
	*next = 0;
	if (sqlite3_prepare_v2(d->db, "SELECT time, ip, topic, sender, message, json FROM messages"
	                              " ORDER BY id DESC LIMIT ?", -1, &st, NULL) != SQLITE_OK)
		return;
	sqlite3_bind_int(st, 1, (int)n);
	while (got < n && sqlite3_step(st) == SQLITE_ROW) {
		/* newest first: fill from the back so the ring reads oldest first */
		struct push_recent *r = &out[n - 1 - got++];
		char sender[6 * PUSH_SENDER_MAX + 3];
		const char *msg = col(st, 4);
		size_t ml = (size_t)sqlite3_column_bytes(st, 4);
		struct push_msg m = {msg, ml, sqlite3_column_int(st, 5) != 0, NULL, 0};
		if (sqlite3_column_type(st, 3) != SQLITE_NULL) {
			m.sender_len = push_json_quote(sender, sizeof(sender), col(st, 3),
			                               strnlen(col(st, 3), PUSH_SENDER_MAX));
			m.sender = m.sender_len ? sender : NULL;
		}
		size_t cap = ml * 6 + PUSH_FRAME_EXTRA + sizeof(sender);
		char *text = malloc(cap);
		size_t tn = text ? push_frame_text(text, cap, &m, col(st, 2), col(st, 0), NULL, NULL) : 0;
		if (tn)
			text[tn] = '\0';
		r->json = tn ? text : (free(text), NULL);
		snprintf(r->time, sizeof(r->time), "%s", col(st, 0));
		snprintf(r->ip, sizeof(r->ip), "%s", col(st, 1));
		snprintf(r->topic, sizeof(r->topic), "%s", col(st, 2));
	}
	sqlite3_finalize(st);
	/* the ring's next slot is the oldest: move the rows to the front */
	if (got < n) {
		memmove(out, out + n - got, got * sizeof(*out));
		memset(out + got, 0, (n - got) * sizeof(*out));
	}
	*next = (unsigned)got;
}

void push_db_close(struct push_db *d)
{
	pthread_mutex_lock(&d->lock);
	d->stop = true;
	pthread_cond_signal(&d->wake);
	pthread_mutex_unlock(&d->lock);
	pthread_join(d->thread, NULL);
	pthread_mutex_destroy(&d->lock);
	pthread_cond_destroy(&d->wake);
	sqlite3_close(d->db);
	free(d);
}
