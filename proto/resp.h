/* resp.h — the Redis serialization protocol (RESP2) as a small client
 * needs it: commands written as arrays of bulk strings, and one reply at a
 * time read from the front of the caller's buffer (a slice into it, as
 * picohttpparser does: NEED_MORE until the whole reply is there), flat
 * arrays read whole (pub/sub's "message" and "subscribe" pushes), and the
 * redis:// URL. Pure: no sockets, no allocation. Nested arrays are not read
 * (no command of ours gets one). */
#ifndef WSF_PROTO_RESP_H
#define WSF_PROTO_RESP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RESP_MAX_LINE 1024        /* a simple string, error or length line */
#define RESP_MAX_BULK (64u << 10) /* a bulk string we accept */
#define RESP_MAX_ARGS 8           /* arguments of one command we write */
#define RESP_MAX_ELEMS 8          /* elements of an array we read */
#define RESP_DEFAULT_PORT 6379

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

/* Reads the flat array at the front of in[0..len) ("*3\r\n$7\r\nmessage..."):
 * RESP_REPLY with *used and el[0..*n) filled (slices into in) once every
 * element is there, NEED_MORE (nothing used), or an error: not an array
 * (RESP_ERR_TYPE, also for a nested array or a nil array), more than max
 * elements (RESP_ERR_TOO_BIG), an element's own error. max <= RESP_MAX_ELEMS. */
enum resp_rc resp_parse_array(const uint8_t *in, size_t len, size_t *used, struct resp_reply *el,
                              size_t max, size_t *n);

/* Writes the command args[0..n) (n <= RESP_MAX_ARGS) into out: its length,
 * or 0 when it does not fit in cap. */
size_t resp_command(uint8_t *out, size_t cap, const struct resp_slice *args, size_t n);

const char *resp_strerror(int rc);

/* redis://[[USER]:PASSWORD@]HOST[:PORT][/DB] (HOST may be [IPv6]) or
 * unix:/PATH (unix:///PATH too). */
struct resp_url {
	bool is_unix;
	bool has_password, has_db;
	uint16_t port;           /* RESP_DEFAULT_PORT when absent */
	unsigned db;
	char host[256];
	char path[108];          /* sun_path's size on Linux */
	char user[128];
	char password[256];
};

/* Parses s into u: 0, or -1 with *why (a sentence saying the right form). */
int resp_url_parse(const char *s, struct resp_url *u, const char **why);

#endif
