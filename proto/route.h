/* route.h — reverse-proxy routes (issue 11): a published service's rule
 * (by path prefix or by Host), whether a request belongs to it, and the head
 * it is forwarded with (target rewritten, X-Forwarded-* added). Pure: no
 * I/O, no malloc; heads are written into the caller's buffer. */
#ifndef WSF_PROTO_ROUTE_H
#define WSF_PROTO_ROUTE_H

#include <stdbool.h>
#include <stddef.h>

#include "proto/http.h"

#define ROUTE_MAX_VALUE 120 /* a path prefix or a host name */
#define ROUTE_MAX_BASE 120  /* the path prepended on the backend side */

enum route_mode {
	ROUTE_PATH = 0,   /* path == prefix or starts with prefix "/" */
	ROUTE_DOMAIN = 1, /* Host without its port, case-insensitive */
};

struct route_rule {
	unsigned char mode;              /* enum route_mode */
	bool ws;                         /* TCP as WebSocket: the server takes the upgrade */
	char value[ROUTE_MAX_VALUE + 1]; /* "/api" (no trailing '/'; "" for "/"), or a host */
	char base[ROUTE_MAX_BASE + 1];   /* "" or "/base" (no trailing '/') */
};

/* The wire form (a tunnel request's target): "path PREFIX [BASE]",
 * "domain NAME [BASE]", "ws PREFIX" (TCP as WebSocket). Parse normalises:
 * a prefix gains its leading '/' and loses a trailing one, a host is
 * lowercased. Prefix and base: printable bytes without spaces, '?', '#' or
 * "..", host: letters, digits, '-', '.'. 0, or -1 for anything else. */
int route_rule_parse(const char *s, size_t n, struct route_rule *r);
/* Writes the wire form (NUL-terminated) of r. Length, or 0 if cap is short. */
size_t route_rule_format(const struct route_rule *r, char *out, size_t cap);

/* True when req (whose target's path, without the query, is path) belongs
 * to r. Targets that do not start with '/' never belong to a route. */
bool route_matches(const struct route_rule *r, const struct http_request *req,
                   struct http_slice path);

/* Writes the head forwarded to the backend: the request line with the
 * target rewritten (a path route strips its prefix, then BASE is prepended;
 * an empty result becomes "/"; the query is kept), every header in order
 * except X-Forwarded-For/-Host/-Proto, then X-Forwarded-For (any earlier
 * value, ", ", client_ip), X-Forwarded-Host (the Host as sent) and
 * X-Forwarded-Proto (https or http). Length, or 0 if cap is short. */
size_t route_forward_head(char *out, size_t cap, const struct route_rule *r,
                          const struct http_request *req, const char *client_ip, bool https);

#endif
