/* url.h — the URLs users type: ws://, wss://, tls://, bare HOST:PORT.
 * Pure parser into a fixed struct; says in words what is wrong. */
#ifndef WSF_PROTO_URL_H
#define WSF_PROTO_URL_H

#include <stdbool.h>
#include <stdint.h>

enum url_scheme {
	URL_WS = 0,
	URL_WSS,
	URL_TLS,
};

#define URL_MAX_HOST 255 /* RFC 1035 §2.3.4 name length */
#define URL_MAX_PATH 1024

struct url {
	enum url_scheme scheme;
	uint16_t port;
	bool host_is_v6;          /* host was a [bracketed] IPv6 literal */
	char host[URL_MAX_HOST + 1]; /* without brackets */
	char path[URL_MAX_PATH + 1]; /* starts with '/', "/" when absent */
};

/* 0, or -1 with *why set to a static sentence naming the problem
 * (e.g. "http:// is not a tunnel URL (did you mean ws://?)"). Missing ports
 * default to 80 (ws) or 443 (wss, tls); "HOST:PORT" means ws://HOST:PORT. */
int url_parse(const char *s, struct url *out, const char **why);

/* Parses a decimal port 1..65535 of exactly len chars: 0 or -1. */
int url_parse_port(const char *s, unsigned long len, uint16_t *port);

/* Default port and name of a scheme. */
uint16_t url_default_port(enum url_scheme scheme);
const char *url_scheme_name(enum url_scheme scheme);

#endif
