/* ping.h — the ming-mong ping protocol (SPEC.md): the daily signature, the
 * server's checks of a first message and its replies, the client's request
 * and its reading of a reply. Pure: the time is always an argument; no I/O,
 * no clock, no allocation. */
#ifndef WSF_PROTO_PING_H
#define WSF_PROTO_PING_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define PING_SIG_LEN 16          /* hex characters of SHA-256 the protocol keeps */
#define PING_DATE_LEN 10         /* YYYY-MM-DD */
#define PING_TIME_LEN 24         /* 2024-01-15T10:30:45.123Z */
#define PING_MAX_MESSAGE 4096    /* a bigger first message is invalid_format */
#define PING_DEADLINE_MS 5000    /* a whole first message within 5 s of the upgrade */
#define PING_REPLY_MAX 128       /* the longest reply, with room to spare */
#define PING_REQUEST_MAX 128     /* the client's request */
#define PING_CODE_MAX 32         /* an error code as ping_answer_read copies it */

enum ping_verdict {
	PING_OK = 0,               /* answered with a pong */
	PING_INVALID_FORMAT,       /* not a JSON object (or over PING_MAX_MESSAGE) */
	PING_INVALID_TYPE,         /* "type" is not the string "ping" */
	PING_INVALID_SIGNATURE,    /* "signature" missing, not a string, or wrong */
};

enum ping_answer {
	PING_ANSWER_PONG = 0,      /* {"type":"pong","status":"ok",...} */
	PING_ANSWER_ERROR,         /* {"type":"error","error":CODE,...} */
	PING_ANSWER_UNKNOWN,       /* anything else */
};

/* The UTC date of Unix time secs, "YYYY-MM-DD" and a NUL. Times before 1970
 * or after 9999 are clamped into that range. */
void ping_date(int64_t secs, char out[PING_DATE_LEN + 1]);

/* UTC ISO-8601 with milliseconds (truncated), "2024-01-15T10:30:45.123Z" and
 * a NUL; the same clamping as ping_date. */
void ping_time(const struct timespec *ts, char out[PING_TIME_LEN + 1]);

/* First PING_SIG_LEN lowercase hex characters of SHA-256(date + name), the
 * date being ping_date(secs); NUL-terminated. */
void ping_signature(int64_t secs, const char *name, char out[PING_SIG_LEN + 1]);

/* The server's checks of a first message, in SPEC's order: not a JSON object
 * (or over PING_MAX_MESSAGE bytes) -> INVALID_FORMAT; "type" not "ping" ->
 * INVALID_TYPE; "signature" not today's or yesterday's (UTC, from now) for
 * name -> INVALID_SIGNATURE. Whitespace, extra keys, any key order pass;
 * names and values are compared after JSON escapes are decoded, signatures
 * case-sensitively. */
enum ping_verdict ping_check(const uint8_t *msg, size_t len, const char *name, int64_t now);

/* "ok", "invalid_format", "invalid_type", "invalid_signature". */
const char *ping_verdict_code(enum ping_verdict v);

/* The server's reply at time now: the pong for PING_OK, else the error with
 * its code. Returns its length (NUL-terminated), 0 if cap is too small. */
size_t ping_reply(char *out, size_t cap, enum ping_verdict v, const struct timespec *now);

/* The client's {"type":"ping","signature":S,"timestamp":T} for name at now.
 * Returns its length (NUL-terminated), 0 if cap is too small. */
size_t ping_request(char *out, size_t cap, const char *name, const struct timespec *now);

/* Reads a server's reply. For PING_ANSWER_ERROR, code (PING_CODE_MAX bytes)
 * gets the "error" string with anything outside printable ASCII turned into
 * '?' ("?" when absent), safe to print. */
enum ping_answer ping_answer_read(const uint8_t *msg, size_t len, char code[PING_CODE_MAX]);

#endif
