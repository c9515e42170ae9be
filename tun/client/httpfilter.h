/* httpfilter.h — plain HTTP proxying on a kept-alive client connection: every
 * request head that follows the first is rewritten (absolute URI to origin
 * form, hop-by-hop and Proxy-* headers dropped) before it enters the tunnel,
 * bodies pass through counted, and a request for another host ends this
 * tunnel so the connection continues in a new one. Owned by one relay. */
#ifndef WSF_TUN_HTTPFILTER_H
#define WSF_TUN_HTTPFILTER_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "proto/proxy.h"
#include "proto/tunnel.h"
#include "tun/relay.h"

struct client;

struct fwd;

/* Where the connection goes on after a switch: the proxy front end, given
 * its -D (which may name an exit), the fd and the next request (taken). */
typedef void (*http_filter_resume_fn)(struct client *c, const struct fwd *fwd, int fd,
                                      unsigned id, struct buf *in);

/* Runs as the relay's filter (RELAY_FILTER_SWITCH: the next request names
 * another host). */
struct http_filter {
	struct relay_filter base; /* first: the relay sees only this */
	struct client *client;   /* for credentials */
	const struct fwd *fwd;   /* the -D it serves, handed to resume */
	http_filter_resume_fn resume;
	enum {
		HF_HEAD = 0,
		HF_BODY_LENGTH,
		HF_BODY_CHUNKED,
	} state;
	uint64_t body_left;
	struct proxy_chunked chunked;
	size_t scanned;           /* http_head_end progress in the current input */
	unsigned id;              /* connection id for logs */
	char target[TUNNEL_MAX_TARGET + 1]; /* host:port this tunnel goes to */
};

/* A filter for a tunnel to target; the stream starts with a request head
 * (the first one is rewritten like every other). NULL when out of memory. */
struct http_filter *http_filter_new(struct client *c, unsigned id, const char *target,
                                    http_filter_resume_fn resume);
void http_filter_free(struct http_filter *f);

/* Moves bytes from in (what the client sent) to out (what goes into the
 * tunnel): *used consumed from in, *produced written to out. A head is only
 * taken whole and only when out has room for its rewrite; on NEED-MORE both
 * are 0 with HTTP_FILTER_OK. */
enum relay_filter_rc http_filter_run(struct http_filter *f, const uint8_t *in, size_t n,
                                     uint8_t *out, size_t cap, size_t *used, size_t *produced);

#endif
