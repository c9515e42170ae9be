/* dns_test.c — the resolver against real UDP name servers written here, on
 * 127.0.0.1 (and ::1 when the host has it), served by the same reactor:
 * A+AAAA, order, NXDOMAIN, timeouts and retries across servers, SERVFAIL and
 * TC fail-over, spoofed replies, cache, cancel from callbacks, and the
 * resolv.conf / hosts / --dns parsers. */
#include "core/dns.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "test/check.h"

#define CONTAINER(ptr, type, member) ((type *)(void *)((char *)(ptr) - offsetof(type, member)))
#define WAIT_MS 3000 /* bound on any wait for a callback */

/* ---- the canned zone ---- */

struct zone_rr {
	const char *name;
	uint16_t type;
	const char *data; /* address text, or the CNAME target */
};

static const struct zone_rr zone[] = {
	{"dual.test", DNS_TYPE_AAAA, "2001:db8::1"},
	{"dual.test", DNS_TYPE_AAAA, "2001:db8::2"},
	{"dual.test", DNS_TYPE_A, "192.0.2.1"},
	{"dual.test", DNS_TYPE_A, "192.0.2.2"},
	{"v4only.test", DNS_TYPE_A, "192.0.2.4"},
	{"www.cname.test", DNS_TYPE_CNAME, "edge.cdn.test"},
	{"edge.cdn.test", DNS_TYPE_CNAME, "node7.cdn.test"},
	{"node7.cdn.test", DNS_TYPE_A, "192.0.2.7"},
	{"short.test", DNS_TYPE_A, "192.0.2.8"},
};

enum fake_mode {
	FAKE_ANSWER = 0, /* answers from the zone; unknown names NXDOMAIN */
	FAKE_DROP,       /* never answers */
	FAKE_SERVFAIL,   /* SERVFAIL to everything */
	FAKE_TC_EMPTY,   /* TC set, no answers */
	FAKE_SPOOF,      /* wrong id, wrong source, wrong question, then the truth */
};

struct fake_server {
	struct rx_io io;
	int fd, spoof_fd;
	struct net_addr addr;
	enum fake_mode mode;
	unsigned queries; /* received */
	unsigned ttl;
};

/* ---- a response writer for the fake server ---- */

struct reply {
	uint8_t b[1024];
	size_t len;
};

static void r16(struct reply *r, unsigned v)
{
	r->b[r->len++] = (uint8_t)(v >> 8);
	r->b[r->len++] = (uint8_t)v;
}

static void r32(struct reply *r, uint32_t v)
{
	r16(r, v >> 16);
	r16(r, v & 0xFFFF);
}

static size_t rname(struct reply *r, const char *name)
{
	size_t at = r->len;
	while (*name) {
		size_t n = strcspn(name, ".");
		r->b[r->len++] = (uint8_t)n;
		memcpy(r->b + r->len, name, n);
		r->len += n;
		name += n + (name[n] == '.');
	}
	r->b[r->len++] = 0;
	return at;
}

/* The query's name as text and its type; false if unreadable. */
static bool query_read(const uint8_t *q, size_t len, char *name, size_t cap, uint16_t *type,
                       size_t *qend)
{
	size_t pos = 12, out = 0;

	while (pos < len && q[pos] != 0) {
		size_t n = q[pos];
		if (n > 63 || pos + 1 + n >= len || out + n + 1 >= cap)
			return false;
		if (out)
			name[out++] = '.';
		memcpy(name + out, q + pos + 1, n);
		out += n;
		pos += 1 + n;
	}
	name[out] = '\0';
	if (pos + 5 > len)
		return false;
	*type = (uint16_t)((q[pos + 1] << 8) | q[pos + 2]);
	*qend = pos + 5;
	return true;
}

static bool zone_has(const char *name)
{
	for (size_t i = 0; i < sizeof(zone) / sizeof(zone[0]); i++)
		if (strcasecmp(zone[i].name, name) == 0)
			return true;
	return false;
}

static const struct zone_rr *zone_find(const char *name, uint16_t type, size_t from)
{
	for (size_t i = from; i < sizeof(zone) / sizeof(zone[0]); i++)
		if (strcasecmp(zone[i].name, name) == 0 && zone[i].type == type)
			return &zone[i];
	return NULL;
}

static void reply_rr_head(struct reply *r, size_t owner, uint16_t type, unsigned ttl)
{
	r16(r, 0xC000u | (unsigned)owner);
	r16(r, type);
	r16(r, DNS_CLASS_IN);
	r32(r, ttl);
}

/* Answers: the CNAME chain from the question, then the records of the type,
 * each owner compressed against the name that introduced it. */
static unsigned reply_answers(struct reply *r, const char *qname, uint16_t type, unsigned ttl)
{
	const char *name = qname;
	size_t owner = 12;
	unsigned an = 0;
	const struct zone_rr *rr;

	while ((rr = zone_find(name, DNS_TYPE_CNAME, 0)) != NULL) {
		reply_rr_head(r, owner, DNS_TYPE_CNAME, ttl);
		size_t len_at = r->len;
		r16(r, 0);
		owner = rname(r, rr->data);
		r->b[len_at + 1] = (uint8_t)(r->len - owner);
		name = rr->data;
		an++;
	}
	for (size_t i = 0; (rr = zone_find(name, type, i)) != NULL; i = (size_t)(rr - zone) + 1) {
		uint8_t ip[16];
		int family = type == DNS_TYPE_A ? AF_INET : AF_INET6;
		reply_rr_head(r, owner, type, ttl);
		r16(r, type == DNS_TYPE_A ? 4 : 16);
		inet_pton(family, rr->data, ip);
		memcpy(r->b + r->len, ip, type == DNS_TYPE_A ? 4 : 16);
		r->len += type == DNS_TYPE_A ? 4 : 16;
		an++;
	}
	return an;
}

/* A reply to q (id, question copied) with rcode, flags and the zone's answers. */
static void reply_build(struct reply *r, const uint8_t *q, size_t qend, const char *qname,
                        uint16_t type, unsigned rcode, unsigned extra_flags, unsigned ttl)
{
	unsigned an = 0;

	memcpy(r->b, q, qend);
	r->len = qend;
	if (rcode == DNS_RCODE_NOERROR && !extra_flags)
		an = reply_answers(r, qname, type, ttl);
	r->b[2] = (uint8_t)(0x81 | (extra_flags >> 8)); /* QR, RD, TC if asked */
	r->b[3] = (uint8_t)(0x80 | rcode);              /* RA */
	r->b[6] = (uint8_t)(an >> 8);
	r->b[7] = (uint8_t)an;
}

static void send_to(int fd, const struct reply *r, const struct net_addr *to)
{
	ssize_t n = sendto(fd, r->b, r->len, 0, (const struct sockaddr *)&to->ss, to->len);
	(void)n;
}

/* Three lies first, each of which the resolver must ignore. */
static void fake_spoof(struct fake_server *s, const uint8_t *q, size_t qend, uint16_t type,
                       const struct net_addr *to)
{
	struct reply r;
	uint8_t other[512];

	reply_build(&r, q, qend, "short.test", type, 0, 0, 60); /* 192.0.2.8 */
	r.b[0] ^= 0x5A;                                         /* wrong id */
	send_to(s->fd, &r, to);
	r.b[0] ^= 0x5A;
	send_to(s->spoof_fd, &r, to); /* right id, wrong source port */
	memcpy(other, q, qend);
	other[12 + 1] = 'x'; /* the question of another name */
	reply_build(&r, other, qend, "short.test", type, 0, 0, 60);
	send_to(s->fd, &r, to);
}

static void fake_readable(struct rx *rx, struct rx_io *io, unsigned events)
{
	struct fake_server *s = CONTAINER(io, struct fake_server, io);
	uint8_t q[512];
	char name[256];
	uint16_t type;
	size_t qend;
	struct net_addr from;
	struct reply r;

	(void)rx;
	(void)events;
	from.len = sizeof(from.ss);
	ssize_t n = recvfrom(s->fd, q, sizeof(q), 0, (struct sockaddr *)&from.ss, &from.len);
	if (n <= 0 || !query_read(q, (size_t)n, name, sizeof(name), &type, &qend))
		return;
	s->queries++;
	if (s->mode == FAKE_DROP)
		return;
	if (s->mode == FAKE_SPOOF)
		fake_spoof(s, q, qend, type, &from);
	unsigned rcode = s->mode == FAKE_SERVFAIL ? DNS_RCODE_SERVFAIL
	                 : zone_has(name) ? DNS_RCODE_NOERROR : DNS_RCODE_NXDOMAIN;
	reply_build(&r, q, qend, name, type, rcode, s->mode == FAKE_TC_EMPTY ? 0x0200 : 0, s->ttl);
	send_to(s->fd, &r, &from);
}

static int udp_bound(const char *ip, struct net_addr *addr)
{
	struct net_addr any;
	int fd;

	if (net_addr_from_ip(ip, 0, &any) != 0)
		return -1;
	fd = socket(any.ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return -1;
	if (bind(fd, (struct sockaddr *)&any.ss, any.len) != 0 || net_local_addr(fd, addr) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static int fake_start(struct rx *rx, struct fake_server *s, const char *ip, enum fake_mode mode)
{
	struct net_addr spoof_addr;

	memset(s, 0, sizeof(*s));
	s->mode = mode;
	s->ttl = 300;
	s->fd = udp_bound(ip, &s->addr);
	s->spoof_fd = udp_bound(ip, &spoof_addr);
	if (s->fd < 0 || s->spoof_fd < 0)
		return -1;
	rx_io_add(rx, &s->io, s->fd, fake_readable);
	rx_io_want(rx, &s->io, RX_READ);
	return 0;
}

static void fake_stop(struct rx *rx, struct fake_server *s)
{
	rx_io_del(rx, &s->io);
	close(s->fd);
	close(s->spoof_fd);
}

static const char *fake_spec(const struct fake_server *s, char *out, size_t cap)
{
	return net_addr_str(&s->addr, out, cap);
}

/* ---- a caller: one query embedded in it ---- */

struct waiter {
	struct dns_query q;
	struct dns *d;
	int calls;
	int status;
	size_t n;
	char addrs[DNS_MAX_ADDRS][NET_ADDR_STRLEN];
	bool in_resolve;              /* set around dns_resolve: must never be seen */
	bool ran_inside_resolve;
	void (*then)(struct waiter *w); /* runs inside the callback */
	struct waiter *peer;
};

static void waiter_done(struct dns_query *q, int status, const struct net_addr *addrs, size_t n)
{
	struct waiter *w = CONTAINER(q, struct waiter, q);

	w->calls++;
	w->status = status;
	w->n = n;
	if (w->in_resolve)
		w->ran_inside_resolve = true;
	for (size_t i = 0; i < n && i < DNS_MAX_ADDRS; i++)
		net_addr_str(&addrs[i], w->addrs[i], sizeof(w->addrs[i]));
	if (w->then)
		w->then(w);
}

static int resolve(struct waiter *w, struct dns *d, const char *name, uint16_t port,
                   unsigned family)
{
	int rc;

	w->d = d;
	w->calls = 0;
	w->in_resolve = true;
	rc = dns_resolve(d, &w->q, name, port, family, waiter_done);
	w->in_resolve = false;
	return rc;
}

static void run_until(struct rx *rx, const int *calls, int want, int max_ms)
{
	rx_update_time(rx);
	uint64_t end = rx_now(rx) + (uint64_t)max_ms;
	while (*calls < want && rx_now(rx) < end)
		rx_run_once(rx, 10);
}

static void run_for(struct rx *rx, int ms)
{
	int never = 0;
	run_until(rx, &never, 1, ms);
}

/* ---- fixture: a reactor, up to three fake servers, a resolver ---- */

struct env {
	struct rx rx;
	struct dns d;
	struct fake_server srv[3];
	int nsrv;
	size_t nios_base;
};

static int env_cache_size; /* for the next env_open: 0 default, < 0 none */

static int env_open(struct env *e, const enum fake_mode *modes, int nsrv, unsigned timeout_ms,
                    unsigned attempts, const char *hosts)
{
	char list[3 * NET_ADDR_STRLEN + 3] = "", one[NET_ADDR_STRLEN];
	struct dns_config cfg = {
		.resolv_conf = "/nonexistent/resolv.conf",
		.hosts = hosts ? hosts : "",
		.servers = list,
		.timeout_ms = timeout_ms,
		.attempts = attempts,
		.cache_size = env_cache_size,
	};

	memset(e, 0, sizeof(*e));
	if (rx_init(&e->rx) != 0)
		return -1;
	for (int i = 0; i < nsrv; i++) {
		if (fake_start(&e->rx, &e->srv[i], "127.0.0.1", modes[i]) != 0)
			return -1;
		strcat(list, i ? "," : "");
		strcat(list, fake_spec(&e->srv[i], one, sizeof(one)));
	}
	e->nsrv = nsrv;
	e->nios_base = e->rx.nios;
	return dns_init(&e->d, &e->rx, &cfg);
}

static void env_close(struct env *e)
{
	dns_free(&e->d);
	for (int i = 0; i < e->nsrv; i++)
		fake_stop(&e->rx, &e->srv[i]);
	rx_free(&e->rx);
}

static unsigned env_queries(const struct env *e)
{
	unsigned n = 0;
	for (int i = 0; i < e->nsrv; i++)
		n += e->srv[i].queries;
	return n;
}

/* ---- tests ---- */

static void test_dual_stack(void)
{
	static const enum fake_mode modes[] = {FAKE_ANSWER};
	struct env e;
	struct waiter w = {0};
	struct net_addr a;
	char s[NET_ADDR_STRLEN];

	CHECK_EQ_INT(env_open(&e, modes, 1, 1000, 1, NULL), 0);
	CHECK_EQ_INT(resolve(&w, &e.d, "Dual.Test.", 443, DNS_PREFER_V6), 0);
	CHECK_EQ_INT(w.calls, 0);
	CHECK(e.d.sock[0].fd >= 0); /* IPv4 server: its socket only */
	CHECK_EQ_INT(e.d.sock[1].fd, -1);
	run_until(&e.rx, &w.calls, 1, WAIT_MS);
	CHECK_EQ_INT(w.calls, 1);
	CHECK_EQ_INT(w.status, DNS_OK);
	CHECK_EQ_INT(w.n, 4);
	CHECK(strcmp(w.addrs[0], "[2001:db8::1]:443") == 0);
	CHECK(strcmp(w.addrs[1], "[2001:db8::2]:443") == 0);
	CHECK(strcmp(w.addrs[2], "192.0.2.1:443") == 0);
	CHECK(strcmp(w.addrs[3], "192.0.2.2:443") == 0);
	CHECK_EQ_INT(e.srv[0].queries, 2); /* A and AAAA */
	/* the result stays readable after the callback */
	CHECK_EQ_INT(dns_query_naddrs(&w.q), 4);
	CHECK_EQ_INT(dns_query_addr(&w.q, 3, &a), 0);
	CHECK(strcmp(net_addr_str(&a, s, sizeof(s)), "192.0.2.2:443") == 0);
	CHECK_EQ_INT(dns_query_addr(&w.q, 4, &a), -ENOENT);
	/* idle again: no socket, no timer, nothing holds the loop */
	CHECK_EQ_INT(e.rx.nios, e.nios_base);
	CHECK_EQ_INT(e.rx.timers.count, 0);
	CHECK_EQ_INT(e.d.sock[0].fd, -1);
	CHECK_EQ_INT(e.d.sock[1].fd, -1);
	env_close(&e);
}

static void test_order_and_families(void)
{
	static const enum fake_mode modes[] = {FAKE_ANSWER};
	struct env e;
	struct waiter w = {0};

	env_cache_size = -1; /* ask the server every time */
	CHECK_EQ_INT(env_open(&e, modes, 1, 1000, 1, NULL), 0);
	env_cache_size = 0;
	CHECK_EQ_INT(resolve(&w, &e.d, "dual.test", 80, DNS_PREFER_V4), 0);
	run_until(&e.rx, &w.calls, 1, WAIT_MS);
	CHECK_EQ_INT(w.n, 4);
	CHECK(strcmp(w.addrs[0], "192.0.2.1:80") == 0);
	CHECK(strcmp(w.addrs[2], "[2001:db8::1]:80") == 0);
	CHECK_EQ_INT(resolve(&w, &e.d, "dual.test", 80, DNS_ONLY_V6), 0);
	run_until(&e.rx, &w.calls, 1, WAIT_MS);
	CHECK_EQ_INT(w.n, 2);
	CHECK(strcmp(w.addrs[1], "[2001:db8::2]:80") == 0);
	CHECK_EQ_INT(e.srv[0].queries, 3);
	/* a name with A only: dual lookup gives IPv4, IPv6-only gives NODATA */
	CHECK_EQ_INT(resolve(&w, &e.d, "v4only.test", 1, DNS_PREFER_V6), 0);
	run_until(&e.rx, &w.calls, 1, WAIT_MS);
	CHECK_EQ_INT(w.status, DNS_OK);
	CHECK_EQ_INT(w.n, 1);
	CHECK(strcmp(w.addrs[0], "192.0.2.4:1") == 0);
	CHECK_EQ_INT(resolve(&w, &e.d, "v4only.test", 1, DNS_ONLY_V6), 0);
	run_until(&e.rx, &w.calls, 1, WAIT_MS);
	CHECK_EQ_INT(w.status, DNS_ERR_NODATA);
	CHECK_EQ_INT(w.n, 0);
	/* CNAME chain served over the wire */
	CHECK_EQ_INT(resolve(&w, &e.d, "www.cname.test", 8443, DNS_ONLY_V4), 0);
	run_until(&e.rx, &w.calls, 1, WAIT_MS);
	CHECK_EQ_INT(w.status, DNS_OK);
	CHECK_EQ_INT(w.n, 1);
	CHECK(strcmp(w.addrs[0], "192.0.2.7:8443") == 0);
	env_close(&e);
}

static void test_nxdomain_and_cache(void)
{
	static const enum fake_mode modes[] = {FAKE_ANSWER};
	struct env e;
	struct waiter w = {0};
	unsigned before;

	CHECK_EQ_INT(env_open(&e, modes, 1, 1000, 1, NULL), 0);
	CHECK_EQ_INT(resolve(&w, &e.d, "missing.test", 80, DNS_PREFER_V6), 0);
	run_until(&e.rx, &w.calls, 1, WAIT_MS);
	CHECK_EQ_INT(w.calls, 1);
	CHECK_EQ_INT(w.status, DNS_ERR_NXDOMAIN);
	CHECK_EQ_INT(w.n, 0);
	CHECK(strcmp(dns_strerror(w.status), "name not found") == 0);
	/* negative answer cached: no query, still deferred */
	before = env_queries(&e);
	CHECK_EQ_INT(resolve(&w, &e.d, "MISSING.test", 80, DNS_ONLY_V4), 0);
	CHECK_EQ_INT(w.calls, 0);
	run_until(&e.rx, &w.calls, 1, WAIT_MS);
	CHECK_EQ_INT(w.status, DNS_ERR_NXDOMAIN);
	CHECK_EQ_INT(env_queries(&e), before);
	/* positive answer cached, with the new port */
	CHECK_EQ_INT(resolve(&w, &e.d, "dual.test", 1, DNS_PREFER_V6), 0);
	run_until(&e.rx, &w.calls, 1, WAIT_MS);
	before = env_queries(&e);
	CHECK_EQ_INT(resolve(&w, &e.d, "dual.test", 2, DNS_PREFER_V4), 0);
	CHECK_EQ_INT(w.calls, 0);
	run_until(&e.rx, &w.calls, 1, WAIT_MS);
	CHECK(!w.ran_inside_resolve);
	CHECK_EQ_INT(w.status, DNS_OK);
	CHECK_EQ_INT(w.n, 4);
	CHECK(strcmp(w.addrs[0], "192.0.2.1:2") == 0);
	CHECK_EQ_INT(env_queries(&e), before);
	/* an entry knowing only IPv4 does not answer a dual question */
	CHECK_EQ_INT(resolve(&w, &e.d, "short.test", 2, DNS_ONLY_V4), 0);
	run_until(&e.rx, &w.calls, 1, WAIT_MS);
	before = env_queries(&e);
	CHECK_EQ_INT(resolve(&w, &e.d, "short.test", 2, DNS_PREFER_V6), 0);
	run_until(&e.rx, &w.calls, 1, WAIT_MS);
	CHECK_EQ_INT(env_queries(&e), before + 2);
	/* expiry: the floor of DNS_TTL_FLOOR_S applies to TTL 0; step past it */
	e.srv[0].ttl = 0;
	dns_cache_flush(&e.d);
	CHECK_EQ_INT(resolve(&w, &e.d, "v4only.test", 2, DNS_ONLY_V4), 0);
	run_until(&e.rx, &w.calls, 1, WAIT_MS);
	before = env_queries(&e);
	e.rx.now_ms += DNS_TTL_FLOOR_S * 1000 + 1; /* as if that much time passed */
	CHECK_EQ_INT(resolve(&w, &e.d, "v4only.test", 2, DNS_ONLY_V4), 0);
	run_until(&e.rx, &w.calls, 1, WAIT_MS);
	CHECK_EQ_INT(env_queries(&e), before + 1);
	env_close(&e);
}

/* First server drops everything: after one timeout the second answers. */
static void test_timeout_retry_next_server(void)
{
	static const enum fake_mode modes[] = {FAKE_DROP, FAKE_ANSWER};
	struct env e;
	struct waiter w = {0};
	uint64_t start;

	CHECK_EQ_INT(env_open(&e, modes, 2, 150, 1, NULL), 0);
	rx_update_time(&e.rx);
	start = rx_now(&e.rx);
	CHECK_EQ_INT(resolve(&w, &e.d, "dual.test", 80, DNS_PREFER_V6), 0);
	run_until(&e.rx, &w.calls, 1, WAIT_MS);
	CHECK_EQ_INT(w.status, DNS_OK);
	CHECK_EQ_INT(w.n, 4);
	CHECK(rx_now(&e.rx) - start >= 150);
	CHECK_EQ_INT(e.srv[0].queries, 2);
	CHECK_EQ_INT(e.srv[1].queries, 2);
	env_close(&e);
}

/* Nobody answers: attempts x servers tries per family, then TIMEOUT. */
static void test_timeout_gives_up(void)
{
	static const enum fake_mode modes[] = {FAKE_DROP, FAKE_DROP};
	struct env e;
	struct waiter w = {0};
	uint64_t start;

	CHECK_EQ_INT(env_open(&e, modes, 2, 60, 2, NULL), 0);
	rx_update_time(&e.rx);
	start = rx_now(&e.rx);
	CHECK_EQ_INT(resolve(&w, &e.d, "dual.test", 80, DNS_PREFER_V6), 0);
	run_until(&e.rx, &w.calls, 1, WAIT_MS);
	CHECK_EQ_INT(w.calls, 1);
	CHECK_EQ_INT(w.status, DNS_ERR_TIMEOUT);
	CHECK(rx_now(&e.rx) - start >= 4 * 60);
	CHECK_EQ_INT(e.srv[0].queries, 4); /* 2 attempts x 2 families */
	CHECK_EQ_INT(e.srv[1].queries, 4);
	/* failures are not cached */
	CHECK_EQ_INT(resolve(&w, &e.d, "dual.test", 80, DNS_ONLY_V4), 0);
	run_until(&e.rx, &w.calls, 1, WAIT_MS);
	CHECK_EQ_INT(e.srv[0].queries, 6);
	env_close(&e);
}

/* SERVFAIL and an empty truncated reply move on at once, not at the deadline. */
static void test_servfail_and_tc_fail_over(void)
{
	static const enum fake_mode modes[] = {FAKE_SERVFAIL, FAKE_TC_EMPTY, FAKE_ANSWER};
	static const enum fake_mode all_fail[] = {FAKE_SERVFAIL, FAKE_TC_EMPTY};
	struct env e;
	struct waiter w = {0};
	uint64_t start;

	CHECK_EQ_INT(env_open(&e, modes, 3, 2000, 1, NULL), 0);
	rx_update_time(&e.rx);
	start = rx_now(&e.rx);
	CHECK_EQ_INT(resolve(&w, &e.d, "dual.test", 80, DNS_PREFER_V6), 0);
	run_until(&e.rx, &w.calls, 1, WAIT_MS);
	CHECK_EQ_INT(w.status, DNS_OK);
	CHECK(rx_now(&e.rx) - start < 1000);
	CHECK_EQ_INT(e.srv[0].queries, 2);
	CHECK_EQ_INT(e.srv[1].queries, 2);
	CHECK_EQ_INT(e.srv[2].queries, 2);
	env_close(&e);

	CHECK_EQ_INT(env_open(&e, all_fail, 2, 2000, 1, NULL), 0);
	CHECK_EQ_INT(resolve(&w, &e.d, "dual.test", 80, DNS_PREFER_V6), 0);
	run_until(&e.rx, &w.calls, 1, WAIT_MS);
	CHECK_EQ_INT(w.status, DNS_ERR_SERVFAIL);
	env_close(&e);
}

/* Wrong id, wrong source port and a wrong question arrive before the truth. */
static void test_spoofed_replies_ignored(void)
{
	static const enum fake_mode modes[] = {FAKE_SPOOF};
	struct env e;
	struct waiter w = {0};

	CHECK_EQ_INT(env_open(&e, modes, 1, 1000, 1, NULL), 0);
	CHECK_EQ_INT(resolve(&w, &e.d, "v4only.test", 80, DNS_ONLY_V4), 0);
	run_until(&e.rx, &w.calls, 1, WAIT_MS);
	CHECK_EQ_INT(w.status, DNS_OK);
	CHECK_EQ_INT(w.n, 1);
	CHECK(strcmp(w.addrs[0], "192.0.2.4:80") == 0);
	CHECK_EQ_INT(e.srv[0].queries, 1);
	env_close(&e);
}

static void cancel_peer(struct waiter *w)
{
	dns_cancel(w->d, &w->peer->q);
}

static void resolve_again(struct waiter *w)
{
	w->then = NULL;
	CHECK_EQ_INT(dns_resolve(w->d, &w->q, "short.test", 9, DNS_ONLY_V4, waiter_done), 0);
}

static void free_resolver(struct waiter *w)
{
	dns_free(w->d);
}

/* Whichever of two network queries finishes first cancels the other. */
static void test_cancel_inside_callback(void)
{
	static const enum fake_mode modes[] = {FAKE_ANSWER};
	struct env e;
	struct waiter a = {0}, b = {0};

	CHECK_EQ_INT(env_open(&e, modes, 1, 1000, 1, NULL), 0);
	a.peer = &b;
	b.peer = &a;
	a.then = b.then = cancel_peer;
	CHECK_EQ_INT(resolve(&a, &e.d, "dual.test", 1, DNS_PREFER_V6), 0);
	CHECK_EQ_INT(resolve(&b, &e.d, "v4only.test", 1, DNS_PREFER_V6), 0);
	run_until(&e.rx, &a.calls, 1, WAIT_MS);
	run_for(&e.rx, 100);
	CHECK_EQ_INT(a.calls + b.calls, 1);
	CHECK_EQ_INT(e.rx.nios, e.nios_base);
	/* both answered from cache/literal: deferred, so both cancel-able */
	CHECK_EQ_INT(resolve(&a, &e.d, "10.0.0.1", 1, DNS_PREFER_V6), 0);
	CHECK_EQ_INT(resolve(&b, &e.d, "::1", 1, DNS_PREFER_V6), 0);
	run_for(&e.rx, 50);
	CHECK_EQ_INT(a.calls + b.calls, 1);
	/* cancel right after resolve, and cancel of an idle query */
	a.then = b.then = NULL;
	CHECK_EQ_INT(resolve(&a, &e.d, "dual.test", 1, DNS_PREFER_V6), 0);
	dns_cancel(&e.d, &a.q);
	dns_cancel(&e.d, &a.q);
	CHECK_EQ_INT(resolve(&b, &e.d, "1.2.3.4", 1, DNS_PREFER_V6), 0);
	dns_cancel(&e.d, &b.q);
	run_for(&e.rx, 100);
	CHECK_EQ_INT(a.calls + b.calls, 0);
	CHECK_EQ_INT(e.rx.nios, e.nios_base);
	/* the callback reuses its own query */
	a.then = resolve_again;
	CHECK_EQ_INT(resolve(&a, &e.d, "v4only.test", 1, DNS_ONLY_V4), 0);
	run_until(&e.rx, &a.calls, 2, WAIT_MS);
	CHECK_EQ_INT(a.calls, 2);
	CHECK(strcmp(a.addrs[0], "192.0.2.8:9") == 0);
	/* busy and bad arguments */
	a.then = NULL;
	CHECK_EQ_INT(resolve(&a, &e.d, "v4only.test", 1, DNS_ONLY_V4), 0);
	CHECK_EQ_INT(dns_resolve(&e.d, &a.q, "x.test", 1, DNS_ONLY_V4, waiter_done), -EBUSY);
	CHECK_EQ_INT(dns_resolve(&e.d, &b.q, "x.test", 1, 9, waiter_done), -EINVAL);
	CHECK_EQ_INT(dns_resolve(&e.d, &b.q, NULL, 1, 0, waiter_done), -EINVAL);
	/* dns_free from inside a callback, another query still pending */
	run_until(&e.rx, &a.calls, 1, WAIT_MS);
	a.then = free_resolver;
	b.then = NULL;
	CHECK_EQ_INT(resolve(&b, &e.d, "www.cname.test", 1, DNS_PREFER_V6), 0); /* not cached */
	CHECK_EQ_INT(e.d.nasking, 1);
	CHECK_EQ_INT(resolve(&a, &e.d, "192.0.2.99", 1, DNS_PREFER_V6), 0);
	run_until(&e.rx, &a.calls, 1, WAIT_MS);
	run_for(&e.rx, 100);
	CHECK_EQ_INT(a.calls, 1);
	CHECK_EQ_INT(b.calls, 0);
	CHECK_EQ_INT(e.rx.nios, e.nios_base);
	CHECK_EQ_INT(e.rx.timers.count, 0);
	env_close(&e); /* a second dns_free is harmless */
}

static void test_literals_and_bad_names(void)
{
	static const enum fake_mode modes[] = {FAKE_ANSWER};
	struct env e;
	struct waiter w = {0};

	CHECK_EQ_INT(env_open(&e, modes, 1, 1000, 1, NULL), 0);
	CHECK_EQ_INT(resolve(&w, &e.d, "192.0.2.55", 22, DNS_PREFER_V6), 0);
	CHECK_EQ_INT(w.calls, 0);
	run_until(&e.rx, &w.calls, 1, WAIT_MS);
	CHECK_EQ_INT(w.status, DNS_OK);
	CHECK(strcmp(w.addrs[0], "192.0.2.55:22") == 0);
	CHECK_EQ_INT(resolve(&w, &e.d, "2001:DB8::9", 22, DNS_PREFER_V4), 0);
	run_until(&e.rx, &w.calls, 1, WAIT_MS);
	CHECK(strcmp(w.addrs[0], "[2001:db8::9]:22") == 0);
	CHECK_EQ_INT(resolve(&w, &e.d, "192.0.2.55", 22, DNS_ONLY_V6), 0);
	run_until(&e.rx, &w.calls, 1, WAIT_MS);
	CHECK_EQ_INT(w.status, DNS_ERR_NODATA);
	const char *bad[] = {"", "a..b", "bad name", "x/y", "[::1]", "-", "\xff"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECK_EQ_INT(resolve(&w, &e.d, bad[i], 1, DNS_PREFER_V6), 0);
		run_until(&e.rx, &w.calls, 1, WAIT_MS);
		CHECK_EQ_INT(w.status, i == 5 ? DNS_ERR_NXDOMAIN : DNS_ERR_BADNAME);
	}
	/* localhost never leaves the host (no hosts file here) */
	CHECK_EQ_INT(resolve(&w, &e.d, "LocalHost.", 5, DNS_PREFER_V6), 0);
	run_until(&e.rx, &w.calls, 1, WAIT_MS);
	CHECK_EQ_INT(w.n, 2);
	CHECK(strcmp(w.addrs[0], "[::1]:5") == 0);
	CHECK(strcmp(w.addrs[1], "127.0.0.1:5") == 0);
	CHECK_EQ_INT(resolve(&w, &e.d, "app.localhost", 5, DNS_ONLY_V4), 0);
	run_until(&e.rx, &w.calls, 1, WAIT_MS);
	CHECK_EQ_INT(w.n, 1);
	CHECK_EQ_INT(e.srv[0].queries, 2); /* only "-" went out (A and AAAA) */
	env_close(&e);
}

static const char *write_temp(const char *text, char *path)
{
	strcpy(path, "/tmp/wsf_dns_XXXXXX");
	int fd = mkstemp(path);
	if (fd == -1)
		return NULL;
	ssize_t n = write(fd, text, strlen(text));
	close(fd);
	return n == (ssize_t)strlen(text) ? path : NULL;
}

static void test_hosts_file(void)
{
	static const enum fake_mode modes[] = {FAKE_ANSWER};
	static const char hosts[] =
		"# a hosts file\n"
		"127.0.0.1\tlocalhost\n"
		"::1 localhost ip6-localhost ip6-loopback\n"
		"10.0.0.1   Foo.Example foo   # comment\n"
		"10.0.0.2 foo.example.\n"
		"2001:db8::5 foo.example\n"
		"not-an-ip  ignored.example\n"
		"10.0.0.9\n"
		"10.0.0.3 bad..name ok.example\n"
		"fe80::1%1 scoped.example\n"
		"10.0.0.4 dual.test"; /* no final newline */
	char path[64];
	struct env e;
	struct waiter w = {0};

	CHECK(write_temp(hosts, path) != NULL);
	CHECK_EQ_INT(env_open(&e, modes, 1, 1000, 1, path), 0);
	CHECK_EQ_INT(resolve(&w, &e.d, "FOO.example", 80, DNS_PREFER_V6), 0);
	run_until(&e.rx, &w.calls, 1, WAIT_MS);
	CHECK_EQ_INT(w.n, 3);
	CHECK(strcmp(w.addrs[0], "[2001:db8::5]:80") == 0);
	CHECK(strcmp(w.addrs[1], "10.0.0.1:80") == 0);
	CHECK(strcmp(w.addrs[2], "10.0.0.2:80") == 0);
	CHECK_EQ_INT(resolve(&w, &e.d, "foo", 80, DNS_PREFER_V6), 0);
	run_until(&e.rx, &w.calls, 1, WAIT_MS);
	CHECK_EQ_INT(w.n, 1);
	CHECK_EQ_INT(resolve(&w, &e.d, "localhost", 80, DNS_PREFER_V4), 0);
	run_until(&e.rx, &w.calls, 1, WAIT_MS);
	CHECK_EQ_INT(w.n, 2);
	CHECK(strcmp(w.addrs[0], "127.0.0.1:80") == 0);
	CHECK_EQ_INT(resolve(&w, &e.d, "ok.example", 80, DNS_PREFER_V6), 0);
	run_until(&e.rx, &w.calls, 1, WAIT_MS);
	CHECK_EQ_INT(w.n, 1);
	CHECK_EQ_INT(resolve(&w, &e.d, "scoped.example", 80, DNS_PREFER_V6), 0);
	run_until(&e.rx, &w.calls, 1, WAIT_MS);
	CHECK_EQ_INT(w.n, 1);
	CHECK_EQ_INT(e.srv[0].queries, 0);
	/* hosts lists dual.test for IPv4 only: IPv6-only goes to the server */
	CHECK_EQ_INT(resolve(&w, &e.d, "dual.test", 80, DNS_ONLY_V6), 0);
	run_until(&e.rx, &w.calls, 1, WAIT_MS);
	CHECK_EQ_INT(w.n, 2);
	CHECK_EQ_INT(e.srv[0].queries, 1);
	CHECK_EQ_INT(resolve(&w, &e.d, "dual.test", 80, DNS_PREFER_V6), 0);
	run_until(&e.rx, &w.calls, 1, WAIT_MS);
	CHECK_EQ_INT(w.n, 1);
	CHECK(strcmp(w.addrs[0], "10.0.0.4:80") == 0);
	CHECK_EQ_INT(resolve(&w, &e.d, "ignored.example", 80, DNS_PREFER_V6), 0);
	run_until(&e.rx, &w.calls, 1, WAIT_MS);
	CHECK_EQ_INT(w.status, DNS_ERR_NXDOMAIN);
	env_close(&e);
	unlink(path);
}

static void test_resolv_conf(void)
{
	static const char conf[] =
		"# generated\n"
		"search example.com\n"
		"nameserver 127.0.0.53\n"
		"nameserver ::1 ; trailing comment\n"
		";nameserver 9.9.9.9\n"
		"nameserver bogus\n"
		"nameserver fe80::1%1\n"
		"nameserver 1.1.1.1\n"
		"options ndots:2 timeout:3 attempts:9 rotate\n";
	char path[64];
	struct rx rx;
	struct dns d;
	struct dns_config cfg = {.hosts = ""};
	char s[NET_ADDR_STRLEN];

	CHECK_EQ_INT(rx_init(&rx), 0);
	CHECK(write_temp(conf, path) != NULL);
	cfg.resolv_conf = path;
	CHECK_EQ_INT(dns_init(&d, &rx, &cfg), 0);
	CHECK_EQ_INT(d.nservers, 3);
	CHECK(strcmp(net_addr_str(&d.servers[0], s, sizeof(s)), "127.0.0.53:53") == 0);
	CHECK(strcmp(net_addr_str(&d.servers[1], s, sizeof(s)), "[::1]:53") == 0);
	CHECK_EQ_INT(((struct sockaddr_in6 *)&d.servers[2].ss)->sin6_scope_id, 1);
	CHECK_EQ_INT(d.timeout_ms, 3000);
	CHECK_EQ_INT(d.attempts, DNS_MAX_ATTEMPTS);
	CHECK(d.rotate);
	dns_free(&d);
	/* the config wins over the file */
	cfg.servers = "192.0.2.53:5353";
	cfg.timeout_ms = 250;
	cfg.attempts = 1;
	CHECK_EQ_INT(dns_init(&d, &rx, &cfg), 0);
	CHECK_EQ_INT(d.nservers, 1);
	CHECK(strcmp(net_addr_str(&d.servers[0], s, sizeof(s)), "192.0.2.53:5353") == 0);
	CHECK_EQ_INT(d.timeout_ms, 250);
	CHECK_EQ_INT(d.attempts, 1);
	dns_free(&d);
	cfg.servers = "not an address";
	CHECK_EQ_INT(dns_init(&d, &rx, &cfg), -EINVAL);
	unlink(path);
	/* no file, or no nameserver line: the local server, defaults */
	cfg = (struct dns_config){.resolv_conf = "/nonexistent", .hosts = "/nonexistent"};
	CHECK_EQ_INT(dns_init(&d, &rx, &cfg), 0);
	CHECK_EQ_INT(d.nservers, 1);
	CHECK(strcmp(net_addr_str(&d.servers[0], s, sizeof(s)), "127.0.0.1:53") == 0);
	CHECK_EQ_INT(d.timeout_ms, DNS_DEFAULT_TIMEOUT_MS);
	CHECK_EQ_INT(d.attempts, DNS_DEFAULT_ATTEMPTS);
	CHECK(!d.rotate);
	CHECK_EQ_INT(d.nhosts, 0);
	dns_free(&d);
	/* the real files parse (whatever they hold) */
	CHECK_EQ_INT(dns_init(&d, &rx, NULL), 0);
	CHECK(d.nservers >= 1 && d.nservers <= DNS_MAX_SERVERS);
	dns_free(&d);
	rx_free(&rx);
}

static void test_set_servers(void)
{
	struct rx rx;
	struct dns d;
	struct dns_config cfg = {.resolv_conf = "/nonexistent", .hosts = ""};
	char s[NET_ADDR_STRLEN];
	static const char *bad[] = {
		"", " ", "1.2.3.4:0", "1.2.3.4:65536", "1.2.3.4:", "[1.2.3.4]:53", "[::1",
		"[::1]x", "host.example", "1.2.3.4,5.6.7.8,9.9.9.9,1.1.1.1", "1.2.3",
	};

	CHECK_EQ_INT(rx_init(&rx), 0);
	CHECK_EQ_INT(dns_init(&d, &rx, &cfg), 0);
	CHECK_EQ_INT(dns_set_servers(&d, "9.9.9.9"), 0);
	CHECK(strcmp(net_addr_str(&d.servers[0], s, sizeof(s)), "9.9.9.9:53") == 0);
	CHECK_EQ_INT(dns_set_servers(&d, "1.1.1.1:5353, [2606:4700::1111]:853 ::1"), 0);
	CHECK_EQ_INT(d.nservers, 3);
	CHECK(strcmp(net_addr_str(&d.servers[0], s, sizeof(s)), "1.1.1.1:5353") == 0);
	CHECK(strcmp(net_addr_str(&d.servers[1], s, sizeof(s)), "[2606:4700::1111]:853") == 0);
	CHECK(strcmp(net_addr_str(&d.servers[2], s, sizeof(s)), "[::1]:53") == 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECK_EQ_INT(dns_set_servers(&d, bad[i]), -EINVAL);
		CHECK_EQ_INT(dns_servers_check(bad[i]), -EINVAL);
	}
	CHECK_EQ_INT(dns_servers_check("[::1]:5353,127.0.0.1"), 0);
	CHECK_EQ_INT(dns_servers_check(NULL), -EINVAL);
	CHECK_EQ_INT(d.nservers, 3); /* unchanged by the failures */
	dns_free(&d);
	rx_free(&rx);
}

/* The IPv6 socket: a server on ::1, when the host has IPv6 loopback. */
static void test_ipv6_server(void)
{
	struct rx rx;
	struct dns d;
	struct fake_server srv;
	struct waiter w = {0};
	char spec[NET_ADDR_STRLEN];
	struct dns_config cfg = {.resolv_conf = "/nonexistent", .hosts = "", .timeout_ms = 1000};

	CHECK_EQ_INT(rx_init(&rx), 0);
	if (fake_start(&rx, &srv, "::1", FAKE_ANSWER) != 0) {
		printf("skip test_ipv6_server: no IPv6 loopback\n");
		rx_free(&rx);
		return;
	}
	cfg.servers = fake_spec(&srv, spec, sizeof(spec));
	CHECK_EQ_INT(dns_init(&d, &rx, &cfg), 0);
	CHECK_EQ_INT(resolve(&w, &d, "dual.test", 80, DNS_PREFER_V6), 0);
	run_until(&rx, &w.calls, 1, WAIT_MS);
	CHECK_EQ_INT(w.status, DNS_OK);
	CHECK_EQ_INT(w.n, 4);
	CHECK_EQ_INT(srv.queries, 2);
	dns_free(&d);
	fake_stop(&rx, &srv);
	rx_free(&rx);
}

/* A server nobody can send to (no route): NOSERVER at once, not a timeout. */
static void test_unreachable_server(void)
{
	struct rx rx;
	struct dns d;
	struct waiter w = {0};
	struct dns_config cfg = {.resolv_conf = "/nonexistent", .hosts = "",
	                         .servers = "0.0.0.0:0", .timeout_ms = 5000};

	CHECK_EQ_INT(rx_init(&rx), 0);
	/* port 0 is refused by the parser; the broadcast address is refused by
	 * sendto (EACCES without SO_BROADCAST) */
	CHECK_EQ_INT(dns_init(&d, &rx, &cfg), -EINVAL);
	cfg.servers = "255.255.255.255";
	CHECK_EQ_INT(dns_init(&d, &rx, &cfg), 0);
	CHECK_EQ_INT(resolve(&w, &d, "dual.test", 80, DNS_PREFER_V6), 0);
	run_until(&rx, &w.calls, 1, WAIT_MS);
	CHECK_EQ_INT(w.calls, 1);
	CHECK_EQ_INT(w.status, DNS_ERR_NOSERVER);
	dns_free(&d);
	rx_free(&rx);
}

static void test_strerror_and_sizes(void)
{
	for (int s = DNS_ERR_NOSERVER; s <= DNS_OK; s++)
		CHECK(strcmp(dns_strerror(s), "unknown resolver error") != 0);
	CHECK(strcmp(dns_strerror(-99), "unknown resolver error") == 0);
	printf("sizeof(struct dns_query) = %zu, sizeof(struct dns) = %zu\n",
	       sizeof(struct dns_query), sizeof(struct dns));
	CHECK(sizeof(struct dns_query) <= 512);
}

int main(void)
{
	TEST_RUN(test_dual_stack);
	TEST_RUN(test_order_and_families);
	TEST_RUN(test_nxdomain_and_cache);
	TEST_RUN(test_timeout_retry_next_server);
	TEST_RUN(test_timeout_gives_up);
	TEST_RUN(test_servfail_and_tc_fail_over);
	TEST_RUN(test_spoofed_replies_ignored);
	TEST_RUN(test_cancel_inside_callback);
	TEST_RUN(test_literals_and_bad_names);
	TEST_RUN(test_hosts_file);
	TEST_RUN(test_resolv_conf);
	TEST_RUN(test_set_servers);
	TEST_RUN(test_ipv6_server);
	TEST_RUN(test_unreachable_server);
	TEST_RUN(test_strerror_and_sizes);
	return test_summary();
}
