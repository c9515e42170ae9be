/* dns.h — the non-blocking stub resolver on the reactor: numeric literals,
 * /etc/hosts, a small TTL cache, then A and AAAA over UDP in parallel to the
 * resolv.conf (or --dns) servers with timeouts, retries and rotation.
 * Owns its UDP sockets (one per server family, open only while queries
 * ask), the hosts table and the cache; never owns the queries (embedded in
 * their callers), never blocks, never logs. */
#ifndef WSF_CORE_DNS_H
#define WSF_CORE_DNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/dns_msg.h"
#include "core/net.h"
#include "core/rx.h"

#define DNS_PORT 53
#define DNS_MAX_SERVERS 3           /* MAXNS of resolv.conf(5) */
#define DNS_MAX_ADDRS_PER_FAMILY 4  /* kept per family, so both fit below */
#define DNS_MAX_ADDRS (2 * DNS_MAX_ADDRS_PER_FAMILY)
#define DNS_DEFAULT_TIMEOUT_MS 5000 /* resolv.conf(5) "timeout" default */
#define DNS_DEFAULT_ATTEMPTS 2      /* resolv.conf(5) "attempts" default */
#define DNS_MAX_TIMEOUT_MS 30000    /* resolv.conf(5) caps timeout at 30 s */
#define DNS_MAX_ATTEMPTS 5          /* resolv.conf(5) caps attempts at 5 */
#define DNS_CACHE_DEFAULT 256       /* entries (~230 B each) */
#define DNS_CACHE_NAME_MAX 127      /* longer names are resolved, not cached */
#define DNS_TTL_FLOOR_S 5           /* cached at least this long ... */
#define DNS_TTL_CAP_S 3600          /* ... and at most this long */
#define DNS_NEG_TTL_S 30            /* NXDOMAIN / no-address answers (RFC 2308, fixed) */

/* Which address families to ask for, and their order in the result. */
enum dns_family {
	DNS_PREFER_V6 = 0, /* AAAA and A; IPv6 addresses first */
	DNS_PREFER_V4 = 1, /* AAAA and A; IPv4 addresses first */
	DNS_ONLY_V4 = 2,   /* A only */
	DNS_ONLY_V6 = 3,   /* AAAA only */
};

/* Result status passed to dns_done_fn; dns_strerror() names each. */
enum dns_status {
	DNS_OK = 0,
	DNS_ERR_NXDOMAIN = -1, /* name not found (authoritative NXDOMAIN) */
	DNS_ERR_NODATA = -2,   /* the name exists but has no address of the families asked */
	DNS_ERR_TIMEOUT = -3,  /* no server answered in timeout x attempts */
	DNS_ERR_SERVFAIL = -4, /* servers answered SERVFAIL/REFUSED/garbage */
	DNS_ERR_BADNAME = -5,  /* not a host name or address (see dns_name_check) */
	DNS_ERR_NOSERVER = -6, /* no name server could be sent to (no route, no socket) */
};

struct dns;
struct dns_query;

/* Runs exactly once per dns_resolve() that returned 0, never after
 * dns_cancel() or dns_free(), and always from a reactor timer, never inside
 * dns_resolve(). On DNS_OK addrs holds 1..DNS_MAX_ADDRS addresses with the
 * port given to dns_resolve, ordered as asked (one family's addresses, then
 * the other's), valid only during the call; otherwise naddrs is 0.
 * The owner of q comes back with container_of. q is idle when this runs:
 * the callback MAY dns_resolve(q) again, dns_cancel() or dns_resolve() other
 * queries, free q's owner, and even dns_free(d) (nothing of d or q is
 * touched after the call). */
typedef void (*dns_done_fn)(struct dns_query *q, int status, const struct net_addr *addrs,
                            size_t naddrs);

struct dns_config {
	const char *resolv_conf; /* NULL: "/etc/resolv.conf"; missing file: defaults */
	const char *hosts;       /* NULL: "/etc/hosts"; "": no hosts file */
	const char *servers;     /* NULL: resolv.conf's; else dns_set_servers() syntax (--dns) */
	unsigned timeout_ms;     /* 0: resolv.conf's "timeout:" (default 5 s) */
	unsigned attempts;       /* 0: resolv.conf's "attempts:" (default 2) */
	int cache_size;          /* 0: DNS_CACHE_DEFAULT entries; < 0: no cache */
};

/* One question (A, AAAA) in flight; fields private. */
struct dns_sub {
	uint64_t deadline_ms; /* when the try in flight times out */
	uint32_t ttl;         /* least TTL of the answer */
	uint16_t id;          /* random per try: RFC 5452 §4 */
	uint8_t server;       /* index of the server the try went to */
	uint8_t tries;        /* sends made, at most attempts x servers */
	uint8_t state;        /* idle (not asked), asking, done */
	int8_t status;        /* enum dns_status once done */
	bool sent;            /* some try left the host */
	bool failed;          /* some server answered with an error */
};

/* Embedded in the caller's object; zero it once before its first use.
 * Between dns_resolve() and the callback (or dns_cancel()) it belongs to the
 * resolver and MUST NOT be moved or freed. Fields are private; after the
 * callback the addresses stay readable through dns_query_addr(). */
struct dns_query {
	struct rx_timer timer; /* the try deadlines, then the deferred answer */
	struct dns *d;
	dns_done_fn done;
	struct dns_query *next, *prev; /* on d->queries while active */
	struct dns_sub sub[2];         /* [0] AAAA, [1] A */
	int status;
	uint16_t port;
	uint8_t family;                /* enum dns_family */
	uint8_t first_server;
	uint8_t state;                 /* idle, asking, delivering */
	uint8_t n6, n4;
	uint8_t v6[DNS_MAX_ADDRS_PER_FAMILY][16];
	uint8_t v4[DNS_MAX_ADDRS_PER_FAMILY][4];
	char name[DNS_MAX_NAME + 1];   /* lower case, no trailing dot */
};

/* Open and registered only while some query asks a server of its family. */
struct dns_sock {
	struct rx_io io;
	struct dns *d;
	int fd; /* -1 while closed */
};

struct dns_host;
struct dns_cache_entry;

struct dns {
	struct rx *rx;
	struct net_addr servers[DNS_MAX_SERVERS];
	unsigned nservers;
	unsigned timeout_ms, attempts;
	bool rotate;                     /* resolv.conf "options rotate" */
	unsigned next_server;            /* rotate's round robin */
	struct dns_sock sock[2];         /* [0] for IPv4 servers, [1] for IPv6 */
	struct dns_query *queries;       /* active: asking or delivering */
	unsigned nasking;
	char *hosts_text;                /* the hosts file, names cut in place */
	struct dns_host *hosts;
	size_t nhosts;
	struct dns_cache_entry *cache;
	unsigned cache_size;
	uint64_t cache_clock;            /* LRU stamps */
};

/* Reads resolv.conf (nameserver lines, up to 3, IPv4/IPv6 with %scope;
 * "options timeout:N attempts:N rotate"; search/domain/ndots are ignored:
 * every name is absolute), then cfg's overrides, then the hosts file
 * (address, name, aliases; read once, here). No server: 127.0.0.1:53.
 * cfg may be NULL. 0, -EINVAL (bad cfg->servers) or -ENOMEM; on error
 * nothing is left to free. Opens no socket yet. rx MAY be NULL for a
 * resolver that only parses (dns_resolve then MUST NOT be called). */
int dns_init(struct dns *d, struct rx *rx, const struct dns_config *cfg);

/* Closes the sockets and frees the tables. Active queries are dropped
 * without their callbacks. Safe inside a dns callback. */
void dns_free(struct dns *d);

/* Replaces the servers with list: "IP", "IP:PORT", "[IPv6]:PORT" or a bare
 * IPv6, separated by commas or spaces, 1..DNS_MAX_SERVERS of them (--dns).
 * Flushes the cache. 0, -EINVAL (nothing changed), -EBUSY while queries ask
 * servers (set servers at setup). */
int dns_set_servers(struct dns *d, const char *list);

/* Checks a dns_set_servers() list without a resolver (--dns parsing in
 * bin/): 0 or -EINVAL. */
int dns_servers_check(const char *list);

/* Starts resolving name (host name, or IPv4/IPv6 literal without brackets)
 * for port. Literals, hosts entries, "localhost" and "*.localhost" (RFC 6761
 * §6.3: 127.0.0.1 and ::1) and cache hits are answered without a query, but
 * still through done from a zero-delay timer. Otherwise AAAA and A go out
 * in parallel; each try waits timeout_ms, then goes to the next server
 * (attempts x servers tries at most). An error response (SERVFAIL, REFUSED,
 * a malformed or truncated-and-empty reply: no TCP fallback) moves to the
 * next server at once. Once one family has addresses, the other gets no
 * further try past its current one. NXDOMAIN for either ends both.
 * Result precedence: any address -> DNS_OK; else NXDOMAIN, SERVFAIL,
 * TIMEOUT, NOSERVER, NODATA. Responses count only from the server asked,
 * with the try's random id and our question.
 * Returns 0 (done will run), -EINVAL (NULL argument, bad family) or -EBUSY
 * (q is active); with an error done never runs. */
int dns_resolve(struct dns *d, struct dns_query *q, const char *name, uint16_t port,
                unsigned family, dns_done_fn done);

/* Stops q; its callback will not run. No-op when q is idle. Safe from any
 * callback, including q's own (where it is a no-op). */
void dns_cancel(struct dns *d, struct dns_query *q);

/* The last result of q, in delivery order, readable until q is resolved
 * again (so a caller can try the next address after a failed connect).
 * dns_query_addr: 0, or -ENOENT past the end. */
size_t dns_query_naddrs(const struct dns_query *q);
int dns_query_addr(const struct dns_query *q, size_t i, struct net_addr *out);

/* Drops every cached answer. */
void dns_cache_flush(struct dns *d);

/* A short sentence for an enum dns_status; never NULL. */
const char *dns_strerror(int status);

#endif
