/* sip003.h — SS_PLUGIN_OPTIONS of a shadowsocks SIP003 plugin: options
 * separated by ';', each "key" or "key=value", with '\' escaping the next
 * character ("\;", "\=", "\\"). Pure: no I/O, no allocation. */
#ifndef WSF_PROTO_SIP003_H
#define WSF_PROTO_SIP003_H

#include <stdbool.h>
#include <stddef.h>

#define SIP003_MAX_KEY 32
#define SIP003_MAX_VALUE 1024 /* a file path or an URL path */

struct sip003_opt {
	char key[SIP003_MAX_KEY + 1];     /* unescaped, NUL-terminated, never empty */
	char value[SIP003_MAX_VALUE + 1]; /* unescaped, "" when has_value is false */
	bool has_value;                   /* "key=" is a value "", "key" none */
};

enum sip003_rc {
	SIP003_OPT = 0,           /* *o holds the next option */
	SIP003_END = 1,           /* no more options */
	SIP003_ERR_TOO_LONG = -1, /* a key or value over its maximum */
	SIP003_ERR_ESCAPE = -2,   /* a '\' with nothing after it */
	SIP003_ERR_NO_KEY = -3,   /* "=value" */
	SIP003_ERR_CONTROL = -4,  /* a control character (NUL, newline ...) */
};

/* Reads the option that starts at *pos in s (len bytes) into *o and moves
 * *pos past it and its ';'. Empty options (";;", a trailing ';') are
 * skipped. Callers start with *pos = 0 and stop at SIP003_END or an error. */
enum sip003_rc sip003_next(const char *s, size_t len, size_t *pos, struct sip003_opt *o);

/* One sentence for an error code. */
const char *sip003_strerror(enum sip003_rc rc);

#endif
