/* replay_redis.c — --replay-store on Redis: one connection per reactor,
 * SET wsferry:nonce:<hex> 1 NX EX <ttl> per claim, pipelined (replies come
 * in order, so claims are a FIFO ring). Our own RESP client (proto/resp.c)
 * instead of hiredis: it lives on our reactor like every other socket, needs
 * no adapter, no per-command malloc and no library in the link, and three
 * commands (AUTH, SELECT, SET) are all it speaks. Never blocks: a Redis that
 * is down, slow (no reply within CLAIM_TIMEOUT_MS) or out of step is
 * dropped, its claims answered DOWN, and reconnected with backoff. */
#include "tun/server/replay_store.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "core/dns.h"
#include "core/dns_block.h"
#include "core/log.h"
#include "core/net.h"
#include "proto/resp.h"

#define CLAIM_MAX 1024          /* claims in flight; more are answered DOWN */
#define CLAIM_TIMEOUT_MS 1000   /* the oldest claim unanswered this long: Redis is stuck */
#define TICK_MS 100
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 2000
#define OUT_CAP (64u << 10)     /* a SET is ~90 bytes: CLAIM_MAX fit */
#define IN_CAP (16u << 10)
#define LOG_EVERY_MS 10000
#define KEY_PREFIX "wsferry:nonce:"

const bool replay_store_available = true;

struct claim {
	replay_store_fn fn; /* NULL: cancelled (the reply is still read) */
	void *owner;
	uint64_t sent_ms;
	uint32_t ticket;
};


struct replay_store {
	struct rx *rx;
	struct rx_io io;
	struct rx_timer tick;
	int fd;                 /* -1: down, waiting for retry_at */
	bool connected;         /* the non-blocking connect finished */
	struct net_addr addr;   /* TCP, or AF_UNIX */
	struct resp_url url;
	char name[300];         /* for logs: no password */
	unsigned handshake;     /* AUTH/SELECT replies still to read */
	uint64_t retry_at, backoff_ms, logged_ms;
	uint32_t next_ticket;
	struct claim ring[CLAIM_MAX];
	size_t head, count;     /* oldest claim in flight, how many */
	size_t out_len, in_len;
	uint8_t out[OUT_CAP];
	uint8_t in[IN_CAP];
};

/* ---- the URL ---- */

int replay_store_check_url(const char *url, const char **why)
{
	struct resp_url u;
	return resp_url_parse(url, &u, why);
}

/* ---- the connection ---- */

static void store_want(struct replay_store *s)
{
	if (s->fd < 0)
		return;
	unsigned mask = RX_READ;
	if (!s->connected || s->out_len)
		mask |= RX_WRITE;
	rx_io_want(s->rx, &s->io, mask);
}

static bool append(struct replay_store *s, const struct resp_slice *args, size_t n)
{
	size_t len = resp_command(s->out + s->out_len, OUT_CAP - s->out_len, args, n);
	s->out_len += len;
	return len > 0;
}

#define SLICE(str) ((struct resp_slice){(const uint8_t *)(str), strlen(str)})

/* Drops the connection: every claim in flight is answered DOWN (the ring is
 * emptied first, so a callback that claims again meets a store that is down). */
static void store_fail(struct replay_store *s, const char *why)
{
	uint64_t now = rx_now(s->rx);
	if (!s->logged_ms || now - s->logged_ms >= LOG_EVERY_MS) {
		log_warn("replay store %s: %s", s->name, why);
		s->logged_ms = now;
	}
	if (s->fd >= 0) {
		rx_io_del(s->rx, &s->io);
		close(s->fd);
		s->fd = -1;
	}
	s->connected = false;
	s->out_len = s->in_len = 0;
	s->handshake = 0;
	s->backoff_ms = s->backoff_ms ? s->backoff_ms * 2 : BACKOFF_MIN_MS;
	if (s->backoff_ms > BACKOFF_MAX_MS)
		s->backoff_ms = BACKOFF_MAX_MS;
	s->retry_at = now + s->backoff_ms;
	size_t n = s->count;
	struct claim *pending = n ? malloc(n * sizeof(*pending)) : NULL;
	for (size_t i = 0; i < n; i++) {
		struct claim *c = &s->ring[(s->head + i) % CLAIM_MAX];
		if (pending)
			pending[i] = *c;
		c->fn = NULL;
	}
	s->head = s->count = 0;
	for (size_t i = 0; pending && i < n; i++)
		if (pending[i].fn)
			pending[i].fn(pending[i].owner, REPLAY_STORE_DOWN);
	free(pending); /* on OOM the owners' handshake deadlines end them */
}

static void store_on_io(struct rx *rx, struct rx_io *io, unsigned events);

static void store_connect(struct replay_store *s)
{
	int fd = net_connect(&s->addr);
	if (fd < 0) {
		store_fail(s, strerror(-fd));
		return;
	}
	s->fd = fd;
	s->connected = false;
	memset(&s->io, 0, sizeof(s->io));
	if (rx_io_add(s->rx, &s->io, fd, store_on_io) < 0) {
		close(fd);
		s->fd = -1;
		store_fail(s, "cannot watch the socket");
		return;
	}
	/* Pipelined ahead of any claim: replies come back in this order. */
	if (s->url.has_password) {
		struct resp_slice a[3] = {SLICE("AUTH"), SLICE(s->url.user), SLICE(s->url.password)};
		if (s->url.user[0])
			append(s, a, 3);
		else
			append(s, (struct resp_slice[]){a[0], a[2]}, 2);
		s->handshake++;
	}
	if (s->url.has_db && s->url.db) {
		char db[16];
		snprintf(db, sizeof(db), "%u", s->url.db);
		struct resp_slice a[2] = {SLICE("SELECT"), SLICE(db)};
		append(s, a, 2);
		s->handshake++;
	}
	store_want(s);
}

static void store_reply(struct replay_store *s, const struct resp_reply *r)
{
	if (s->handshake) {
		s->handshake--;
		if (r->type == RESP_ERROR) {
			char why[200];
			snprintf(why, sizeof(why), "%.*s", (int)(r->text.len > 150 ? 150 : r->text.len),
			         (const char *)r->text.p);
			store_fail(s, why); /* wrong password, no such database */
		}
		return;
	}
	if (s->count == 0) {
		store_fail(s, "a reply nobody asked for");
		return;
	}
	struct claim c = s->ring[s->head];
	s->head = (s->head + 1) % CLAIM_MAX;
	s->count--;
	enum replay_store_verdict v = REPLAY_STORE_DOWN;
	if (r->type == RESP_SIMPLE)
		v = REPLAY_STORE_FRESH;
	else if (r->type == RESP_NIL)
		v = REPLAY_STORE_SEEN;
	else {
		uint64_t now = rx_now(s->rx);
		if (!s->logged_ms || now - s->logged_ms >= LOG_EVERY_MS) {
			log_warn("replay store %s: SET answered %.*s", s->name,
			         (int)(r->text.len > 150 ? 150 : r->text.len), (const char *)r->text.p);
			s->logged_ms = now;
		}
	}
	s->backoff_ms = 0; /* a working connection */
	if (c.fn)
		c.fn(c.owner, v);
}

static void store_on_io(struct rx *rx, struct rx_io *io, unsigned events)
{
	struct replay_store *s = (struct replay_store *)((char *)io - offsetof(struct replay_store, io));
	(void)rx;
	if (!s->connected && (events & (RX_WRITE | RX_READ))) {
		int err = net_connect_result(s->fd);
		if (err < 0) {
			store_fail(s, strerror(-err));
			return;
		}
		s->connected = true;
		log_info("replay store %s: connected", s->name);
	}
	if ((events & RX_WRITE) && s->out_len) {
		long n = net_write(s->fd, s->out, s->out_len);
		if (n < 0 && n != -EAGAIN) {
			store_fail(s, strerror((int)-n));
			return;
		}
		if (n > 0) {
			memmove(s->out, s->out + n, s->out_len - (size_t)n);
			s->out_len -= (size_t)n;
		}
	}
	if (events & RX_READ) {
		long n = net_read(s->fd, s->in + s->in_len, IN_CAP - s->in_len);
		if (n == 0 || (n < 0 && n != -EAGAIN)) {
			store_fail(s, n == 0 ? "connection closed by Redis" : strerror((int)-n));
			return;
		}
		if (n > 0)
			s->in_len += (size_t)n;
		size_t at = 0;
		int fd = s->fd;
		while (s->fd == fd) {
			struct resp_reply r;
			size_t used;
			int rc = resp_parse(s->in + at, s->in_len - at, &used, &r);
			if (rc == RESP_NEED_MORE)
				break;
			if (rc < 0) {
				store_fail(s, resp_strerror(rc));
				return;
			}
			store_reply(s, &r);
			at += used;
		}
		if (s->fd != fd)
			return; /* failed inside a reply */
		memmove(s->in, s->in + at, s->in_len - at);
		s->in_len -= at;
		if (s->in_len == IN_CAP) {
			store_fail(s, resp_strerror(RESP_ERR_TOO_BIG));
			return;
		}
	}
	store_want(s);
}

static void store_on_tick(struct rx *rx, struct rx_timer *t)
{
	struct replay_store *s = (struct replay_store *)((char *)t - offsetof(struct replay_store, tick));
	uint64_t now = rx_now(rx);
	if (s->fd < 0 && now >= s->retry_at)
		store_connect(s);
	else if (s->count && now - s->ring[s->head].sent_ms >= CLAIM_TIMEOUT_MS)
		store_fail(s, "no answer within 1 s");
	rx_timer_arm(rx, t, now + TICK_MS, store_on_tick);
}

static int resolve(struct replay_store *s, const char *dns, char *err, size_t cap)
{
	struct resp_url *u = &s->url;
	memset(&s->addr, 0, sizeof(s->addr));
	if (u->is_unix) {
		struct sockaddr_un *sun = (struct sockaddr_un *)&s->addr.ss;
		if (strlen(u->path) >= sizeof(sun->sun_path)) {
			snprintf(err, cap, "--replay-store: the socket path is too long");
			return -1;
		}
		sun->sun_family = AF_UNIX;
		memcpy(sun->sun_path, u->path, strlen(u->path) + 1);
		s->addr.len = sizeof(*sun);
		snprintf(s->name, sizeof(s->name), "unix:%s", u->path);
		return 0;
	}
	snprintf(s->name, sizeof(s->name), strchr(u->host, ':') ? "redis://[%s]:%u" : "redis://%s:%u",
	         u->host, u->port);
	if (net_addr_from_ip(u->host, u->port, &s->addr) == 0)
		return 0;
	int n = dns_resolve_blocking(u->host, u->port, dns, &s->addr, 1);
	if (n <= 0) {
		snprintf(err, cap, "cannot resolve the replay store host %s: %s", u->host,
		         dns_strerror(n));
		return -1;
	}
	return 0;
}

struct replay_store *replay_store_open(struct rx *rx, const char *url, const char *dns, char *err,
                                      size_t cap)
{
	const char *why;
	struct replay_store *s = calloc(1, sizeof(*s));
	if (!s) {
		snprintf(err, cap, "out of memory");
		return NULL;
	}
	if (resp_url_parse(url, &s->url, &why) < 0) {
		snprintf(err, cap, "--replay-store: %s", why);
		free(s);
		return NULL;
	}
	if (resolve(s, dns, err, cap) < 0) {
		free(s);
		return NULL;
	}
	s->rx = rx;
	s->fd = -1;
	s->next_ticket = 1;
	store_connect(s); /* a failure here retries from the tick */
	rx_timer_arm(rx, &s->tick, rx_now(rx) + TICK_MS, store_on_tick);
	return s;
}

uint32_t replay_store_claim(struct replay_store *s, const uint8_t nonce[16], unsigned ttl_s,
                            replay_store_fn fn, void *owner)
{
	static const char hex[] = "0123456789abcdef";
	if (s->fd < 0 || s->count == CLAIM_MAX)
		return 0;
	char key[sizeof(KEY_PREFIX) + 32], ttl[16];
	memcpy(key, KEY_PREFIX, sizeof(KEY_PREFIX) - 1);
	for (int i = 0; i < 16; i++) {
		key[sizeof(KEY_PREFIX) - 1 + 2 * i] = hex[nonce[i] >> 4];
		key[sizeof(KEY_PREFIX) + 2 * i] = hex[nonce[i] & 15];
	}
	key[sizeof(key) - 1] = '\0';
	snprintf(ttl, sizeof(ttl), "%u", ttl_s ? ttl_s : 1);
	struct resp_slice a[6] = {SLICE("SET"), SLICE(key), SLICE("1"), SLICE("NX"), SLICE("EX"),
	                          SLICE(ttl)};
	if (!append(s, a, 6))
		return 0; /* the output is full: Redis is not keeping up */
	uint32_t t = s->next_ticket++;
	if (s->next_ticket == 0)
		s->next_ticket = 1;
	s->ring[(s->head + s->count) % CLAIM_MAX] =
		(struct claim){.fn = fn, .owner = owner, .sent_ms = rx_now(s->rx), .ticket = t};
	s->count++;
	store_want(s);
	return t;
}

void replay_store_cancel(struct replay_store *s, uint32_t ticket)
{
	for (size_t i = 0; i < s->count; i++) {
		struct claim *c = &s->ring[(s->head + i) % CLAIM_MAX];
		if (c->ticket == ticket) {
			c->fn = NULL;
			return;
		}
	}
}

void replay_store_close(struct replay_store *s)
{
	if (!s)
		return;
	rx_timer_cancel(s->rx, &s->tick);
	if (s->fd >= 0) {
		rx_io_del(s->rx, &s->io);
		close(s->fd);
	}
	free(s);
}
