/* resp.h — the Redis serialization protocol (RESP2) as a small client
 * needs it: commands written as arrays of bulk strings, and one reply at a
 * time read from the front of the caller's buffer (a slice into it, as
 * picohttpparser does: NEED_MORE until the whole reply is there). Pure: no
 * sockets, no allocation. Nested arrays are not read (no command of ours
 * gets one). */
#ifndef WSF_PROTO_RESP_H
#define WSF_PROTO_RESP_H

#include <stddef.h>
#include <stdint.h>

#define RESP_MAX_LINE 1024        /* a simple string, error or length line */
#define RESP_MAX_BULK (64u << 10) /* a bulk string we accept */
#define RESP_MAX_ARGS 8           /* arguments of one command we write */

enum resp_rc {
	RESP_NEED_MORE = 0,
	RESP_REPLY = 1,         /* one reply at the front: *used bytes */
	RESP_ERR_TYPE = -1,     /* a type byte we do not read (arrays included) */
	RESP_ERR_SYNTAX = -2,   /* bare LF, bad number, missing CRLF after a bulk */
	RESP_ERR_TOO_BIG = -3,  /* a line past RESP_MAX_LINE, a bulk past RESP_MAX_BULK */
};

enum resp_type {
	RESP_SIMPLE = 0, /* "+OK": text */
	RESP_ERROR,      /* "-ERR ...": text */
	RESP_INTEGER,    /* ":42": integer */
	RESP_BULK,       /* "$3\r\nabc": text */
	RESP_NIL,        /* "$-1": SET NX that found the key, GET of nothing */
};

struct resp_slice {
	const uint8_t *p;
	size_t len;
};

struct resp_reply {
	enum resp_type type;
	int64_t integer;
	struct resp_slice text; /* into the caller's buffer */
};

/* Reads the reply at the front of in[0..len). RESP_REPLY with *used and r
 * filled, NEED_MORE (nothing used: call again with more), or an error (the
 * connection is out of step: close it). */
enum resp_rc resp_parse(const uint8_t *in, size_t len, size_t *used, struct resp_reply *r);

/* Writes the command args[0..n) (n <= RESP_MAX_ARGS) into out: its length,
 * or 0 when it does not fit in cap. */
size_t resp_command(uint8_t *out, size_t cap, const struct resp_slice *args, size_t n);

const char *resp_strerror(int rc);

#endif
