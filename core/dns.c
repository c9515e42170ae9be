/* dns.c — the stub resolver: resolv.conf and hosts read at init, literals,
 * hosts and cache answered locally, else A and AAAA over one unconnected UDP
 * socket per server family, matched by random id, server address and
 * question. Every result reaches its caller from a zero-delay timer, never
 * from inside dns_resolve or the socket callback. Allocates at init only. */
#include "core/dns.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/rand.h"

#define DNS_RESOLV_CONF "/etc/resolv.conf"
#define DNS_HOSTS "/etc/hosts"
#define DNS_RESOLV_MAX_BYTES (64u << 10)
#define DNS_HOSTS_MAX_BYTES (16u << 20) /* ad-blocking hosts files run to megabytes */
#define DNS_SERVERS_MAX_TEXT 512        /* a --dns list */
#define DNS_RECV_MAX 4096               /* above any reply to a query without EDNS0 */
#define DNS_RECV_BATCH 64               /* datagrams read per readiness */
#define DNS_SPACE " \t\r\f\v"

#define DNS_CONTAINER(ptr, type, member) \
	((type *)(void *)((char *)(ptr) - offsetof(type, member)))

enum { DNS_SUB_IDLE = 0, DNS_SUB_ASKING, DNS_SUB_DONE };
enum { DNS_Q_IDLE = 0, DNS_Q_ASKING, DNS_Q_DELIVERING };
enum { DNS_SUB_V6 = 0, DNS_SUB_V4 = 1 };
enum { DNS_HAVE_V6 = 1, DNS_HAVE_V4 = 2 };

struct dns_host {
	const char *name; /* lower case, no trailing dot, inside hosts_text */
	bool v6;
	uint8_t ip[16];
};

struct dns_cache_entry {
	uint64_t expires_ms; /* 0: free slot */
	uint64_t used;       /* cache_clock at the last store or hit: LRU */
	uint32_t hash;
	int8_t status;       /* DNS_OK or DNS_ERR_NXDOMAIN */
	uint8_t families;    /* DNS_HAVE_*: the lists that are known */
	uint8_t n6, n4;
	uint8_t v6[DNS_MAX_ADDRS_PER_FAMILY][16];
	uint8_t v4[DNS_MAX_ADDRS_PER_FAMILY][4];
	char name[DNS_CACHE_NAME_MAX + 1];
};

/* ---- random ids (RFC 5452 §9.2: unpredictable, never a counter) ---- */

static uint16_t dns_random16(void)
{
	uint16_t id;
	struct timespec ts;

	if (rand_bytes(&id, sizeof(id)) == 0)
		return id;
	clock_gettime(CLOCK_MONOTONIC, &ts); /* no getrandom(2): still not a counter */
	return (uint16_t)((uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_nsec >> 16));
}

/* ---- text files: read whole, cut into lines and words in place ---- */

/* Grows buf so that it has room for one more byte and the NUL, never past
 * max + 1 bytes. 0 or -ENOMEM. */
static int dns_file_grow(char **buf, size_t *cap, size_t max)
{
	size_t ncap = *cap ? *cap * 2 : 4096;
	char *grown;

	if (ncap > max + 1)
		ncap = max + 1;
	if (!(grown = realloc(*buf, ncap)))
		return -ENOMEM;
	*buf = grown;
	*cap = ncap;
	return 0;
}

/* path into a NUL-terminated malloc'd buffer of at most max bytes; a file
 * cut at max loses its last, partial line. 0 or -errno. */
static int dns_file_read(const char *path, size_t max, char **out)
{
	size_t len = 0, cap = 0;
	char *buf = NULL;
	int rc = 0, fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd == -1)
		return -errno;
	while (rc == 0 && len < max) {
		if (len + 1 >= cap && (rc = dns_file_grow(&buf, &cap, max)) != 0)
			break;
		ssize_t n = read(fd, buf + len, cap - 1 - len);
		if (n == 0)
			break;
		if (n > 0)
			len += (size_t)n;
		else if (errno != EINTR)
			rc = -errno;
	}
	close(fd);
	if (rc == 0 && !buf)
		rc = dns_file_grow(&buf, &cap, max);
	if (rc != 0) {
		free(buf);
		return rc;
	}
	if (len == max) /* cut: drop the partial last line (no memrchr on macOS) */
		while (len > 0 && buf[len - 1] != '\n')
			len--;
	buf[len] = '\0';
	*out = buf;
	return 0;
}

/* The next line at *cur with its comment cut, or NULL at the end. */
static char *dns_line_next(char **cur, const char *comment)
{
	char *line = *cur, *end;

	if (*line == '\0')
		return NULL;
	end = strchr(line, '\n');
	if (end) {
		*end = '\0';
		*cur = end + 1;
	} else {
		*cur = line + strlen(line);
	}
	line[strcspn(line, comment)] = '\0';
	return line;
}

/* The next blank-separated word at *cur, NUL-terminated in place, or NULL. */
static char *dns_word_next(char **cur)
{
	char *w = *cur + strspn(*cur, DNS_SPACE);
	size_t n = strcspn(w, DNS_SPACE);

	if (n == 0) {
		*cur = w;
		return NULL;
	}
	*cur = w[n] ? w + n + 1 : w + n;
	w[n] = '\0';
	return w;
}

/* A decimal number in [lo, hi] (digits only), or -1. By hand: strtol
 * would bring musl's scanf number engine into the static binary. */
static long dns_number(const char *s, long lo, long hi)
{
	long v = 0;

	if (!*s)
		return -1;
	for (; *s; s++) {
		int d = *s - '0';
		if (d < 0 || d > 9 || v > (hi - d) / 10) /* not v * 10 + d > hi: overflow */
			return -1;
		v = v * 10 + d;
	}
	return v < lo || v > hi ? -1 : v;
}

/* ---- addresses ---- */

/* An IP literal; IPv6 may carry %scope (interface name or index). */
static int dns_ip_parse(const char *ip, uint16_t port, struct net_addr *out)
{
	char bare[INET6_ADDRSTRLEN];
	const char *pct = strchr(ip, '%');
	size_t n = pct ? (size_t)(pct - ip) : 0;
	unsigned scope;

	if (!pct)
		return net_addr_from_ip(ip, port, out);
	if (n >= sizeof(bare))
		return -EINVAL;
	memcpy(bare, ip, n);
	bare[n] = '\0';
	if (net_addr_from_ip(bare, port, out) != 0 || out->ss.ss_family != AF_INET6)
		return -EINVAL;
	scope = if_nametoindex(pct + 1);
	if (scope == 0 && dns_number(pct + 1, 1, 0x7FFFFFFF) > 0)
		scope = (unsigned)dns_number(pct + 1, 1, 0x7FFFFFFF);
	if (scope == 0)
		return -EINVAL;
	((struct sockaddr_in6 *)&out->ss)->sin6_scope_id = scope;
	return 0;
}

/* "IP", "IP:PORT", "[IPv6]", "[IPv6]:PORT" or a bare IPv6 (--dns). */
static int dns_server_parse(char *s, struct net_addr *out)
{
	char *host = s, *port = NULL, *colon = strchr(s, ':');
	long p = DNS_PORT;

	if (s[0] == '[') {
		char *close = strchr(s, ']');
		if (!close || (close[1] != '\0' && close[1] != ':'))
			return -EINVAL;
		host = s + 1;
		port = close[1] == ':' ? close + 2 : NULL;
		*close = '\0';
	} else if (colon && !strchr(colon + 1, ':')) {
		*colon = '\0';
		port = colon + 1;
	}
	if (port && (p = dns_number(port, 1, 65535)) < 0)
		return -EINVAL;
	if (dns_ip_parse(host, (uint16_t)p, out) != 0)
		return -EINVAL;
	if (s[0] == '[' && out->ss.ss_family != AF_INET6)
		return -EINVAL;
	return 0;
}

static int dns_servers_parse(const char *list, struct net_addr *out, unsigned *n)
{
	char text[DNS_SERVERS_MAX_TEXT], *save = NULL, *item;
	size_t len = strlen(list);

	if (len >= sizeof(text))
		return -EINVAL;
	memcpy(text, list, len + 1);
	*n = 0;
	for (item = strtok_r(text, ", \t", &save); item; item = strtok_r(NULL, ", \t", &save)) {
		if (*n == DNS_MAX_SERVERS || dns_server_parse(item, &out[*n]) != 0)
			return -EINVAL;
		(*n)++;
	}
	return *n > 0 ? 0 : -EINVAL;
}

static bool dns_addr_same(const struct net_addr *a, const struct net_addr *b)
{
	const struct sockaddr_in *a4 = (const struct sockaddr_in *)&a->ss;
	const struct sockaddr_in *b4 = (const struct sockaddr_in *)&b->ss;
	const struct sockaddr_in6 *a6 = (const struct sockaddr_in6 *)&a->ss;
	const struct sockaddr_in6 *b6 = (const struct sockaddr_in6 *)&b->ss;

	if (a->ss.ss_family != b->ss.ss_family)
		return false;
	if (a->ss.ss_family == AF_INET)
		return a4->sin_port == b4->sin_port && a4->sin_addr.s_addr == b4->sin_addr.s_addr;
	return a6->sin6_port == b6->sin6_port &&
	       memcmp(&a6->sin6_addr, &b6->sin6_addr, sizeof(a6->sin6_addr)) == 0;
}

static void dns_addr_make(const uint8_t *ip, bool v6, uint16_t port, struct net_addr *out)
{
	memset(out, 0, sizeof(*out));
	if (v6) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&out->ss;
		a->sin6_family = AF_INET6;
		a->sin6_port = htons(port);
		memcpy(&a->sin6_addr, ip, 16);
		out->len = sizeof(*a);
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)&out->ss;
		a->sin_family = AF_INET;
		a->sin_port = htons(port);
		memcpy(&a->sin_addr, ip, 4);
		out->len = sizeof(*a);
	}
}

/* ---- resolv.conf(5) ---- */

static void dns_resolv_option(struct dns *d, const char *opt)
{
	long v;

	if (strncmp(opt, "timeout:", 8) == 0 && (v = dns_number(opt + 8, 0, 1000000)) >= 0)
		d->timeout_ms = (unsigned)(v < 1 ? 1 : v > 30 ? 30 : v) * 1000u;
	else if (strncmp(opt, "attempts:", 9) == 0 && (v = dns_number(opt + 9, 0, 1000000)) >= 0)
		d->attempts = (unsigned)(v < 1 ? 1 : v > DNS_MAX_ATTEMPTS ? DNS_MAX_ATTEMPTS : v);
	else if (strcmp(opt, "rotate") == 0)
		d->rotate = true;
}

/* nameserver and options lines; the rest (search, domain, sortlist) is not
 * ours: names given to the server are already absolute. */
static void dns_resolv_parse(struct dns *d, char *text)
{
	char *line, *word, *arg;

	while ((line = dns_line_next(&text, "#;")) != NULL) {
		if (!(word = dns_word_next(&line)))
			continue;
		if (strcmp(word, "nameserver") == 0 && (arg = dns_word_next(&line)) &&
		    d->nservers < DNS_MAX_SERVERS &&
		    dns_ip_parse(arg, DNS_PORT, &d->servers[d->nservers]) == 0)
			d->nservers++;
		else if (strcmp(word, "options") == 0)
			while ((arg = dns_word_next(&line)) != NULL)
				dns_resolv_option(d, arg);
	}
}

static int dns_resolv_load(struct dns *d, const char *path)
{
	char *text = NULL;
	int rc = dns_file_read(path, DNS_RESOLV_MAX_BYTES, &text);

	if (rc == -ENOMEM)
		return rc;
	if (rc == 0)
		dns_resolv_parse(d, text);
	free(text);
	return 0; /* an absent or unreadable file means the defaults */
}

/* ---- hosts(5) ---- */

static void dns_name_lower(char *s)
{
	for (; *s; s++)
		if (*s >= 'A' && *s <= 'Z')
			*s = (char)(*s - 'A' + 'a');
}

static int dns_hosts_add(struct dns *d, size_t *cap, const struct net_addr *ip, const char *name)
{
	struct dns_host *h;

	if (d->nhosts == *cap) {
		size_t ncap = *cap ? *cap * 2 : 64;
		if (!(h = realloc(d->hosts, ncap * sizeof(*h))))
			return -ENOMEM;
		d->hosts = h;
		*cap = ncap;
	}
	h = &d->hosts[d->nhosts++];
	h->name = name;
	h->v6 = ip->ss.ss_family == AF_INET6;
	if (h->v6)
		memcpy(h->ip, &((const struct sockaddr_in6 *)&ip->ss)->sin6_addr, 16);
	else
		memcpy(h->ip, &((const struct sockaddr_in *)&ip->ss)->sin_addr, 4);
	return 0;
}

/* "address name aliases..." per line; names stored lower case, without the
 * trailing dot; invalid names and addresses are skipped like glibc does. */
static int dns_hosts_parse(struct dns *d, char *text)
{
	char *line, *word;
	struct net_addr ip;
	size_t cap = 0, n;

	while ((line = dns_line_next(&text, "#")) != NULL) {
		if (!(word = dns_word_next(&line)) || dns_ip_parse(word, 0, &ip) != 0)
			continue;
		while ((word = dns_word_next(&line)) != NULL) {
			if (dns_name_check(word, &n) != DNS_MSG_OK)
				continue;
			word[n] = '\0';
			dns_name_lower(word);
			if (dns_hosts_add(d, &cap, &ip, word) != 0)
				return -ENOMEM;
		}
	}
	return 0;
}

static int dns_hosts_load(struct dns *d, const char *path)
{
	int rc;

	if (*path == '\0')
		return 0;
	rc = dns_file_read(path, DNS_HOSTS_MAX_BYTES, &d->hosts_text);
	if (rc != 0)
		return rc == -ENOMEM ? rc : 0; /* no hosts file: nothing to honour */
	return dns_hosts_parse(d, d->hosts_text);
}

/* ---- results held in the query ---- */

static bool dns_query_wants(const struct dns_query *q, int sub)
{
	return sub == DNS_SUB_V6 ? q->family != DNS_ONLY_V4 : q->family != DNS_ONLY_V6;
}

/* Adds one address of the query's wanted families, up to the cap. */
static void dns_query_put(struct dns_query *q, bool v6, const uint8_t *ip)
{
	if (!dns_query_wants(q, v6 ? DNS_SUB_V6 : DNS_SUB_V4))
		return;
	if (v6 && q->n6 < DNS_MAX_ADDRS_PER_FAMILY)
		memcpy(q->v6[q->n6++], ip, 16);
	else if (!v6 && q->n4 < DNS_MAX_ADDRS_PER_FAMILY)
		memcpy(q->v4[q->n4++], ip, 4);
}

size_t dns_query_naddrs(const struct dns_query *q)
{
	return (size_t)q->n6 + q->n4;
}

int dns_query_addr(const struct dns_query *q, size_t i, struct net_addr *out)
{
	bool v4_first = q->family == DNS_PREFER_V4;
	size_t first = v4_first ? q->n4 : q->n6;

	if (i >= dns_query_naddrs(q))
		return -ENOENT;
	if (i < first)
		dns_addr_make(v4_first ? q->v4[i] : q->v6[i], !v4_first, q->port, out);
	else
		dns_addr_make(v4_first ? q->v6[i - first] : q->v4[i - first], v4_first, q->port, out);
	return 0;
}

/* ---- cache: a bounded array, scanned (hash first), LRU eviction ---- */

static uint32_t dns_hash(const char *s)
{
	uint32_t h = 2166136261u; /* FNV-1a: a filter before strcmp, not a key */

	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 16777619u;
	return h;
}

static struct dns_cache_entry *dns_cache_find(struct dns *d, const char *name, uint32_t h)
{
	uint64_t now = rx_now(d->rx);

	for (unsigned i = 0; i < d->cache_size; i++) {
		struct dns_cache_entry *e = &d->cache[i];
		if (e->expires_ms != 0 && e->expires_ms <= now)
			e->expires_ms = 0;
		if (e->expires_ms != 0 && e->hash == h && strcmp(e->name, name) == 0)
			return e;
	}
	return NULL;
}

static uint8_t dns_query_families(const struct dns_query *q)
{
	return (uint8_t)((dns_query_wants(q, DNS_SUB_V6) ? DNS_HAVE_V6 : 0) |
	                 (dns_query_wants(q, DNS_SUB_V4) ? DNS_HAVE_V4 : 0));
}

/* A fresh entry that knows every family q wants fills q: true. */
static bool dns_cache_lookup(struct dns *d, struct dns_query *q)
{
	struct dns_cache_entry *e;
	uint8_t want = dns_query_families(q);

	if (!d->cache || !(e = dns_cache_find(d, q->name, dns_hash(q->name))))
		return false;
	if (e->status != DNS_ERR_NXDOMAIN && (e->families & want) != want)
		return false;
	e->used = ++d->cache_clock;
	q->status = e->status;
	for (unsigned i = 0; e->status == DNS_OK && i < e->n6; i++)
		dns_query_put(q, true, e->v6[i]);
	for (unsigned i = 0; e->status == DNS_OK && i < e->n4; i++)
		dns_query_put(q, false, e->v4[i]);
	if (q->status == DNS_OK && dns_query_naddrs(q) == 0)
		q->status = DNS_ERR_NODATA;
	return true;
}

/* The same name's entry, else a free slot, else the least recently used. */
static struct dns_cache_entry *dns_cache_slot(struct dns *d, const char *name, uint32_t h)
{
	struct dns_cache_entry *e = dns_cache_find(d, name, h), *lru = &d->cache[0];

	for (unsigned i = 0; !e && i < d->cache_size; i++) {
		if (d->cache[i].expires_ms == 0)
			e = &d->cache[i];
		else if (d->cache[i].used < lru->used)
			lru = &d->cache[i];
	}
	return e ? e : lru;
}

static uint32_t dns_ttl_clamp(uint32_t ttl)
{
	return ttl < DNS_TTL_FLOOR_S ? DNS_TTL_FLOOR_S : ttl > DNS_TTL_CAP_S ? DNS_TTL_CAP_S : ttl;
}

/* Least TTL of the families that answered NOERROR; one without addresses
 * counts as a negative answer. */
static uint32_t dns_query_ttl(const struct dns_query *q, uint8_t *families)
{
	uint32_t ttl = DNS_TTL_CAP_S;
	uint8_t n[2] = {q->n6, q->n4};

	*families = 0;
	for (int i = 0; i < 2; i++) {
		const struct dns_sub *s = &q->sub[i];
		if (s->state != DNS_SUB_DONE || s->status != DNS_OK)
			continue;
		*families |= i == DNS_SUB_V6 ? DNS_HAVE_V6 : DNS_HAVE_V4;
		uint32_t t = n[i] ? s->ttl : DNS_NEG_TTL_S;
		ttl = t < ttl ? t : ttl;
	}
	return dns_ttl_clamp(ttl);
}

/* Stores what the servers said: addresses, no-address, or NXDOMAIN. */
static void dns_cache_store(struct dns *d, const struct dns_query *q)
{
	struct dns_cache_entry *e;
	uint8_t families;
	uint32_t ttl = dns_query_ttl(q, &families), h = dns_hash(q->name);

	if (!d->cache || d->cache_size == 0 || strlen(q->name) > DNS_CACHE_NAME_MAX)
		return;
	if (q->status == DNS_ERR_NXDOMAIN) {
		ttl = DNS_NEG_TTL_S;
		families = DNS_HAVE_V6 | DNS_HAVE_V4;
	} else if ((q->status != DNS_OK && q->status != DNS_ERR_NODATA) || families == 0) {
		return;
	}
	e = dns_cache_slot(d, q->name, h);
	memset(e, 0, sizeof(*e));
	strcpy(e->name, q->name);
	e->hash = h;
	e->status = (int8_t)(q->status == DNS_ERR_NXDOMAIN ? DNS_ERR_NXDOMAIN : DNS_OK);
	e->families = families;
	e->n6 = q->n6;
	e->n4 = q->n4;
	memcpy(e->v6, q->v6, sizeof(e->v6));
	memcpy(e->v4, q->v4, sizeof(e->v4));
	e->used = ++d->cache_clock;
	e->expires_ms = rx_now(d->rx) + (uint64_t)ttl * 1000u;
}

void dns_cache_flush(struct dns *d)
{
	if (d->cache)
		memset(d->cache, 0, d->cache_size * sizeof(*d->cache));
}

/* ---- query list and delivery ---- */

static void dns_query_link(struct dns *d, struct dns_query *q)
{
	q->prev = NULL;
	q->next = d->queries;
	if (d->queries)
		d->queries->prev = q;
	d->queries = q;
}

static void dns_query_unlink(struct dns *d, struct dns_query *q)
{
	if (q->prev)
		q->prev->next = q->next;
	else
		d->queries = q->next;
	if (q->next)
		q->next->prev = q->prev;
	q->next = q->prev = NULL;
}

/* Sockets live only while some query asks servers: an idle resolver holds
 * no fd and keeps no rx_run() alive, late replies die with the socket, and
 * the next burst gets a fresh ephemeral port (RFC 5452 §9.2). */
static void dns_sock_close(struct dns *d, struct dns_sock *s)
{
	if (s->fd < 0)
		return;
	rx_io_del(d->rx, &s->io);
	close(s->fd);
	s->fd = -1;
}

static void dns_asking_end(struct dns *d, struct dns_query *q)
{
	if (q->state != DNS_Q_ASKING)
		return;
	for (int i = 0; i < 2; i++)
		if (q->sub[i].state == DNS_SUB_ASKING)
			q->sub[i].state = DNS_SUB_IDLE;
	if (--d->nasking == 0) {
		dns_sock_close(d, &d->sock[0]);
		dns_sock_close(d, &d->sock[1]);
	}
}

/* The one place a callback runs: q is idle and unlinked first, and nothing
 * of q or d is touched after the call. */
static void dns_query_deliver(struct rx *rx, struct rx_timer *t)
{
	struct dns_query *q = DNS_CONTAINER(t, struct dns_query, timer);
	struct net_addr addrs[DNS_MAX_ADDRS];
	size_t n = q->status == DNS_OK ? dns_query_naddrs(q) : 0;

	(void)rx;
	for (size_t i = 0; i < n; i++)
		dns_query_addr(q, i, &addrs[i]);
	dns_query_unlink(q->d, q);
	q->state = DNS_Q_IDLE;
	q->done(q, q->status, addrs, n);
}

/* Ends q with status; the callback follows from a zero-delay timer. */
static void dns_query_finish(struct dns *d, struct dns_query *q, int status)
{
	if (status != DNS_OK)
		q->n6 = q->n4 = 0;
	q->status = status;
	dns_asking_end(d, q);
	q->state = DNS_Q_DELIVERING;
	rx_timer_arm(d->rx, &q->timer, rx_now(d->rx), dns_query_deliver);
}

/* ---- local answers: literals, hosts, localhost, cache ---- */

static bool dns_literal(struct dns_query *q, const char *name)
{
	uint8_t ip[16];
	bool v6;

	if (inet_pton(AF_INET, name, ip) == 1)
		v6 = false;
	else if (inet_pton(AF_INET6, name, ip) == 1)
		v6 = true;
	else
		return false;
	dns_query_put(q, v6, ip);
	return true;
}

/* Like glibc's "files" source: every line naming q->name; hosts that only
 * list the other family leave the question to DNS. */
static bool dns_hosts_lookup(const struct dns *d, struct dns_query *q)
{
	for (size_t i = 0; i < d->nhosts; i++)
		if (strcmp(d->hosts[i].name, q->name) == 0)
			dns_query_put(q, d->hosts[i].v6, d->hosts[i].ip);
	return dns_query_naddrs(q) > 0;
}

/* RFC 6761 §6.3: localhost and its subdomains are loopback, never asked. */
static bool dns_localhost(struct dns_query *q)
{
	static const uint8_t v6[16] = {[15] = 1}, v4[4] = {127, 0, 0, 1};
	size_t n = strlen(q->name);

	if (strcmp(q->name, "localhost") != 0 &&
	    (n < 10 || strcmp(q->name + n - 10, ".localhost") != 0))
		return false;
	dns_query_put(q, true, v6);
	dns_query_put(q, false, v4);
	return true;
}

/* Fills q and returns true when no server needs asking. */
static bool dns_answer_locally(struct dns *d, struct dns_query *q, const char *name)
{
	size_t n;

	if (dns_literal(q, name)) {
		q->status = dns_query_naddrs(q) ? DNS_OK : DNS_ERR_NODATA;
		return true;
	}
	if (dns_name_check(name, &n) != DNS_MSG_OK) {
		q->status = DNS_ERR_BADNAME;
		return true;
	}
	memcpy(q->name, name, n);
	q->name[n] = '\0';
	dns_name_lower(q->name);
	if (dns_hosts_lookup(d, q) || dns_localhost(q)) {
		q->status = dns_query_naddrs(q) ? DNS_OK : DNS_ERR_NODATA;
		return true;
	}
	return dns_cache_lookup(d, q);
}

/* ---- asking servers ---- */

static void dns_sock_readable(struct rx *rx, struct rx_io *io, unsigned events);

/* The socket for servers of this family, opened on first need. Unconnected:
 * one socket serves every server, replies are matched by source. */
static struct dns_sock *dns_sock_get(struct dns *d, int family)
{
	struct dns_sock *s = &d->sock[family == AF_INET6];
	int fd;

	if (s->fd >= 0)
		return s;
	fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return NULL; /* e.g. no IPv6 on this host: the next server is tried */
	if (rx_io_add(d->rx, &s->io, fd, dns_sock_readable) != 0) {
		close(fd);
		return NULL;
	}
	rx_io_want(d->rx, &s->io, RX_READ);
	s->fd = fd;
	return s;
}

/* Sends the sub's question to its server: 0 or -errno. A full socket
 * buffer counts as a lost datagram: the deadline retries it. */
static int dns_send(struct dns *d, struct dns_query *q, int sub)
{
	uint8_t pkt[DNS_MAX_QUERY];
	const struct dns_sub *s = &q->sub[sub];
	const struct net_addr *to = &d->servers[s->server];
	struct dns_sock *sock = dns_sock_get(d, to->ss.ss_family);
	uint16_t qtype = sub == DNS_SUB_V6 ? DNS_TYPE_AAAA : DNS_TYPE_A;
	int n = dns_msg_build_query(pkt, sizeof(pkt), s->id, q->name, qtype);
	ssize_t sent;

	if (!sock)
		return -EAFNOSUPPORT;
	if (n < 0)
		return -EINVAL;
	do
		sent = sendto(sock->fd, pkt, (size_t)n, 0, (const struct sockaddr *)&to->ss, to->len);
	while (sent == -1 && errno == EINTR);
	if (sent == -1 && errno != EAGAIN && errno != EWOULDBLOCK && errno != ENOBUFS)
		return -errno;
	return 0;
}

static void dns_sub_done(struct dns_sub *s, int status)
{
	s->state = DNS_SUB_DONE;
	s->status = (int8_t)status;
}

/* The next try, on the next server; servers that cannot be sent to are
 * skipped now rather than waited for. */
static void dns_sub_try(struct dns *d, struct dns_query *q, int sub)
{
	struct dns_sub *s = &q->sub[sub];
	unsigned max = d->attempts * d->nservers;

	while (s->tries < max) {
		s->server = (uint8_t)((q->first_server + s->tries) % d->nservers);
		s->tries++;
		s->id = dns_random16();
		if (dns_send(d, q, sub) == 0) {
			s->sent = true;
			s->deadline_ms = rx_now(d->rx) + d->timeout_ms;
			return;
		}
	}
	dns_sub_done(s, s->failed ? DNS_ERR_SERVFAIL : s->sent ? DNS_ERR_TIMEOUT : DNS_ERR_NOSERVER);
}

/* Lower ranks win when no address came (dns.h states the order). */
static int dns_status_rank(int status)
{
	static const int order[] = {DNS_ERR_NXDOMAIN, DNS_ERR_SERVFAIL, DNS_ERR_TIMEOUT,
	                            DNS_ERR_NOSERVER, DNS_ERR_NODATA};
	int r = 0;

	while (r < 4 && order[r] != status)
		r++;
	return r;
}

static int dns_query_result(const struct dns_query *q)
{
	int worst = DNS_ERR_NODATA;

	if (dns_query_naddrs(q) > 0)
		return DNS_OK;
	for (int i = 0; i < 2; i++) {
		int st = q->sub[i].status == DNS_OK ? DNS_ERR_NODATA : q->sub[i].status;
		if (q->sub[i].state == DNS_SUB_DONE && dns_status_rank(st) < dns_status_rank(worst))
			worst = st;
	}
	return worst;
}

static void dns_query_timeout(struct rx *rx, struct rx_timer *t);

/* Finishes q when every sub is done (or one says NXDOMAIN), else waits for
 * the earliest deadline. */
static void dns_query_progress(struct dns *d, struct dns_query *q)
{
	uint64_t next = UINT64_MAX;

	for (int i = 0; i < 2; i++) {
		const struct dns_sub *s = &q->sub[i];
		if (s->state == DNS_SUB_DONE && s->status == DNS_ERR_NXDOMAIN)
			next = 0;
		else if (s->state == DNS_SUB_ASKING && next != 0 && s->deadline_ms < next)
			next = s->deadline_ms;
	}
	if (next != UINT64_MAX && next != 0) {
		rx_timer_arm(d->rx, &q->timer, next, dns_query_timeout);
		return;
	}
	int status = dns_query_result(q);
	dns_query_finish(d, q, status);
	dns_cache_store(d, q);
}

static void dns_query_timeout(struct rx *rx, struct rx_timer *t)
{
	struct dns_query *q = DNS_CONTAINER(t, struct dns_query, timer);
	struct dns *d = q->d;

	for (int i = 0; i < 2; i++) {
		struct dns_sub *s = &q->sub[i];
		bool other_has = i == DNS_SUB_V6 ? q->n4 > 0 : q->n6 > 0;
		if (s->state != DNS_SUB_ASKING || s->deadline_ms > rx_now(rx))
			continue;
		if (other_has)
			dns_sub_done(s, DNS_ERR_TIMEOUT);
		else
			dns_sub_try(d, q, i);
	}
	dns_query_progress(d, q);
}

/* A response from the sub's server with its id and question (or malformed
 * after all that: a broken server, so the next one is asked). */
static void dns_sub_answer(struct dns *d, struct dns_query *q, int sub, int rc,
                           const struct dns_msg_result *r)
{
	struct dns_sub *s = &q->sub[sub];

	if (rc == DNS_MSG_OK && r->rcode == DNS_RCODE_NXDOMAIN) {
		dns_sub_done(s, DNS_ERR_NXDOMAIN);
		return;
	}
	if (rc == DNS_MSG_OK && r->rcode == DNS_RCODE_NOERROR && !(r->truncated && !r->naddrs)) {
		for (unsigned i = 0; i < r->naddrs; i++)
			dns_query_put(q, sub == DNS_SUB_V6, r->addrs[i]);
		s->ttl = r->ttl;
		dns_sub_done(s, DNS_OK);
		return;
	}
	s->failed = true; /* SERVFAIL, REFUSED, ..., or TC with nothing usable */
	dns_sub_try(d, q, sub);
}

/* Finds the asking sub this datagram answers; others are dropped (late,
 * stray, spoofed). Ids may collide across queries, so the question decides. */
static void dns_datagram(struct dns *d, const uint8_t *msg, size_t len,
                         const struct net_addr *from)
{
	uint16_t id;

	if (len < DNS_HEADER_LEN)
		return;
	id = (uint16_t)((msg[0] << 8) | msg[1]);
	for (struct dns_query *q = d->queries; q; q = q->next) {
		for (int i = 0; q->state == DNS_Q_ASKING && i < 2; i++) {
			struct dns_sub *s = &q->sub[i];
			struct dns_msg_result r;
			if (s->state != DNS_SUB_ASKING || s->id != id ||
			    !dns_addr_same(&d->servers[s->server], from))
				continue;
			int rc = dns_msg_parse_response(msg, len, id, q->name,
			                                i == DNS_SUB_V6 ? DNS_TYPE_AAAA : DNS_TYPE_A, &r);
			if (rc == DNS_MSG_ERR_MISMATCH)
				continue;
			dns_sub_answer(d, q, i, rc, &r);
			dns_query_progress(d, q);
			return;
		}
	}
}

/* No user callback runs from here (results are delivered by timers), so d
 * stays valid for the whole batch; the socket closes when the last asking
 * query ends. ICMP errors are not reported on an
 * unconnected socket: a dead server is found by its deadline. */
static void dns_sock_readable(struct rx *rx, struct rx_io *io, unsigned events)
{
	struct dns_sock *s = DNS_CONTAINER(io, struct dns_sock, io);
	uint8_t buf[DNS_RECV_MAX];

	(void)rx;
	(void)events;
	for (int i = 0; i < DNS_RECV_BATCH && s->fd >= 0; i++) {
		struct net_addr from;
		ssize_t n;

		from.len = sizeof(from.ss);
		n = recvfrom(s->fd, buf, sizeof(buf), 0, (struct sockaddr *)&from.ss, &from.len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			return;
		dns_datagram(s->d, buf, (size_t)n, &from);
	}
}

static void dns_query_ask(struct dns *d, struct dns_query *q)
{
	q->first_server = (uint8_t)(d->rotate ? d->next_server++ % d->nservers : 0);
	q->state = DNS_Q_ASKING;
	d->nasking++;
	for (int i = 0; i < 2; i++) {
		if (!dns_query_wants(q, i))
			continue;
		q->sub[i].state = DNS_SUB_ASKING;
		dns_sub_try(d, q, i);
	}
	dns_query_progress(d, q);
}

/* ---- public ---- */

int dns_resolve(struct dns *d, struct dns_query *q, const char *name, uint16_t port,
                unsigned family, dns_done_fn done)
{
	if (!d || !q || !name || !done || family > DNS_ONLY_V6)
		return -EINVAL;
	if (q->state != DNS_Q_IDLE)
		return -EBUSY;
	memset(q, 0, sizeof(*q)); /* idle: its timer is not armed */
	q->d = d;
	q->done = done;
	q->port = port;
	q->family = (uint8_t)family;
	dns_query_link(d, q);
	if (dns_answer_locally(d, q, name))
		dns_query_finish(d, q, q->status);
	else
		dns_query_ask(d, q);
	return 0;
}

void dns_cancel(struct dns *d, struct dns_query *q)
{
	(void)d;
	if (q->state == DNS_Q_IDLE)
		return;
	rx_timer_cancel(q->d->rx, &q->timer);
	dns_asking_end(q->d, q);
	dns_query_unlink(q->d, q);
	q->state = DNS_Q_IDLE;
}

int dns_servers_check(const char *list)
{
	struct net_addr servers[DNS_MAX_SERVERS];
	unsigned n;

	return list && dns_servers_parse(list, servers, &n) == 0 ? 0 : -EINVAL;
}

int dns_set_servers(struct dns *d, const char *list)
{
	struct net_addr servers[DNS_MAX_SERVERS];
	unsigned n;

	if (!list || dns_servers_parse(list, servers, &n) != 0)
		return -EINVAL;
	if (d->nasking > 0)
		return -EBUSY;
	memcpy(d->servers, servers, sizeof(servers));
	d->nservers = n;
	d->next_server = 0;
	dns_cache_flush(d);
	return 0;
}

static int dns_init_config(struct dns *d, const struct dns_config *cfg)
{
	const char *resolv = cfg && cfg->resolv_conf ? cfg->resolv_conf : DNS_RESOLV_CONF;
	int rc = dns_resolv_load(d, resolv);

	if (rc != 0)
		return rc;
	if (cfg && cfg->servers && dns_servers_parse(cfg->servers, d->servers, &d->nservers) != 0)
		return -EINVAL;
	if (cfg && cfg->timeout_ms)
		d->timeout_ms = cfg->timeout_ms < DNS_MAX_TIMEOUT_MS ? cfg->timeout_ms : DNS_MAX_TIMEOUT_MS;
	if (cfg && cfg->attempts)
		d->attempts = cfg->attempts < DNS_MAX_ATTEMPTS ? cfg->attempts : DNS_MAX_ATTEMPTS;
	if (d->nservers == 0) /* resolv.conf(5): the local name server */
		net_addr_from_ip("127.0.0.1", DNS_PORT, &d->servers[d->nservers++]);
	return 0;
}

static int dns_init_tables(struct dns *d, const struct dns_config *cfg)
{
	int rc = dns_hosts_load(d, cfg && cfg->hosts ? cfg->hosts : DNS_HOSTS);
	int size = cfg && cfg->cache_size ? cfg->cache_size : DNS_CACHE_DEFAULT;

	if (rc != 0 || size < 0)
		return rc;
	d->cache = calloc((size_t)size, sizeof(*d->cache));
	if (!d->cache)
		return -ENOMEM;
	d->cache_size = (unsigned)size;
	return 0;
}

int dns_init(struct dns *d, struct rx *rx, const struct dns_config *cfg)
{
	int rc;

	memset(d, 0, sizeof(*d));
	d->rx = rx;
	d->timeout_ms = DNS_DEFAULT_TIMEOUT_MS;
	d->attempts = DNS_DEFAULT_ATTEMPTS;
	for (int i = 0; i < 2; i++) {
		d->sock[i].fd = -1;
		d->sock[i].d = d;
	}
	rc = dns_init_config(d, cfg);
	if (rc == 0)
		rc = dns_init_tables(d, cfg);
	if (rc != 0)
		dns_free(d);
	return rc;
}

void dns_free(struct dns *d)
{
	while (d->queries)
		dns_cancel(d, d->queries);
	dns_sock_close(d, &d->sock[0]);
	dns_sock_close(d, &d->sock[1]);
	free(d->hosts);
	free(d->hosts_text);
	free(d->cache);
	d->hosts = NULL;
	d->hosts_text = NULL;
	d->cache = NULL;
	d->nhosts = 0;
	d->cache_size = 0;
}

const char *dns_strerror(int status)
{
	switch (status) {
	case DNS_OK:
		return "resolved";
	case DNS_ERR_NXDOMAIN:
		return "name not found";
	case DNS_ERR_NODATA:
		return "name has no address of the requested family";
	case DNS_ERR_TIMEOUT:
		return "name servers timed out";
	case DNS_ERR_SERVFAIL:
		return "name server failure";
	case DNS_ERR_BADNAME:
		return "invalid host name";
	case DNS_ERR_NOSERVER:
		return "no name server reachable";
	default:
		return "unknown resolver error";
	}
}
