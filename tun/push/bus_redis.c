/* bus_redis.c — --push-bus on Redis pub/sub: two connections per process
 * (a subscribed connection may not PUBLISH in RESP2), both on the reactor
 * with our own RESP client (proto/resp.c, as replay_redis.c: no library, no
 * per-message malloc). The publisher pipelines PUBLISH and matches the
 * integer replies in order (a FIFO ring of acks); the subscriber reads
 * "message" pushes whole. Never blocks: a connection that fails, stalls
 * (a publish unanswered for ACK_TIMEOUT_MS, a PING unanswered) or goes out
 * of step is dropped and reconnected with backoff; the subscription is
 * renewed on every reconnect. */
#include "tun/push/bus.h"

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
#include "core/rand.h"
#include "proto/pushbus.h"
#include "proto/resp.h"

#define ACK_MAX 1024            /* publishes in flight; more are refused (0) */
#define ACK_TIMEOUT_MS 1000     /* the oldest publish unanswered this long: Redis is stuck */
#define CONNECT_TIMEOUT_MS 2000
#define SUB_IDLE_MS 5000        /* a silent subscription is PINGed after this */
#define SUB_PING_MS 2000        /* ... and dropped when nothing comes back */
#define TICK_MS 100
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 2000
#define LOG_EVERY_MS 10000
/* A PUBLISH carries at most a POST body (PUSH_MAX_BODY) and its header. */
#define PUB_OUT_CAP (256u << 10)
#define SUB_IN_CAP (RESP_MAX_BULK + 1024)
#define PUB_IN_CAP (16u << 10)
#define SUB_OUT_CAP 2048
#define CHANNEL_MAX 200
#define PAYLOAD_MAX RESP_MAX_BULK /* what a subscriber of ours accepts */

const bool push_bus_available = true;

struct ack {
	push_bus_ack_fn fn; /* NULL: cancelled (the reply is still read) */
	void *owner;
	uint64_t sent_ms;
	uint32_t ticket;
};

/* One connection: the publisher's or the subscriber's. */
struct link {
	struct push_bus *bus;
	struct rx_io io;
	const char *role;       /* "publish" or "subscribe", for logs */
	int fd;                 /* -1: down, waiting for retry_at */
	bool connected;         /* the non-blocking connect finished */
	bool ready;             /* publish: AUTH done; subscribe: subscribed */
	unsigned handshake;     /* AUTH replies still to read */
	uint64_t started_ms, retry_at, backoff_ms, heard_ms, ping_ms;
	size_t out_len, in_len, out_cap, in_cap;
	uint8_t *out, *in;
};

struct push_bus {
	struct rx *rx;
	struct rx_timer tick;
	struct net_addr addr;
	struct resp_url url;
	char name[300];         /* for logs: no password */
	char channel[CHANNEL_MAX + 1];
	char tag[PUSHBUS_TAG_MAX + 1];
	push_bus_msg_fn on_msg;
	void *owner;
	struct link pub, sub;
	struct ack ring[ACK_MAX];
	size_t head, count;     /* oldest publish in flight, how many */
	uint32_t next_ticket;
	uint64_t logged_ms, ignored_ms;
	char *payload;          /* PAYLOAD_MAX: one message being published */
};

#define SLICE(str) ((struct resp_slice){(const uint8_t *)(str), strlen(str)})

/* ---- one connection ---- */

static void link_want(struct link *l)
{
	if (l->fd < 0)
		return;
	unsigned mask = RX_READ;
	if (!l->connected || l->out_len)
		mask |= RX_WRITE;
	rx_io_want(l->bus->rx, &l->io, mask);
}

static bool link_append(struct link *l, const struct resp_slice *args, size_t n)
{
	size_t len = resp_command(l->out + l->out_len, l->out_cap - l->out_len, args, n);
	l->out_len += len;
	return len > 0;
}

static void bus_log(struct push_bus *b, const struct link *l, const char *why)
{
	uint64_t now = rx_now(b->rx);
	if (!b->logged_ms || now - b->logged_ms >= LOG_EVERY_MS) {
		log_warn("push bus %s (%s): %s", b->name, l->role, why);
		b->logged_ms = now;
	}
}

/* Every publish in flight is answered -1 (the ring emptied first, so a
 * callback that publishes again meets a bus that is down). */
static void bus_fail_acks(struct push_bus *b)
{
	size_t n = b->count;
	struct ack *pending = n ? malloc(n * sizeof(*pending)) : NULL;
	for (size_t i = 0; i < n; i++) {
		struct ack *a = &b->ring[(b->head + i) % ACK_MAX];
		if (pending)
			pending[i] = *a;
		a->fn = NULL;
	}
	b->head = b->count = 0;
	for (size_t i = 0; pending && i < n; i++)
		if (pending[i].fn)
			pending[i].fn(pending[i].owner, -1);
	free(pending); /* on OOM the owners' own deadlines end them */
}

static void link_fail(struct link *l, const char *why)
{
	struct push_bus *b = l->bus;
	bus_log(b, l, why);
	if (l->fd >= 0) {
		rx_io_del(b->rx, &l->io);
		close(l->fd);
		l->fd = -1;
	}
	l->connected = l->ready = false;
	l->out_len = l->in_len = 0;
	l->handshake = 0;
	l->ping_ms = 0;
	l->backoff_ms = l->backoff_ms ? l->backoff_ms * 2 : BACKOFF_MIN_MS;
	if (l->backoff_ms > BACKOFF_MAX_MS)
		l->backoff_ms = BACKOFF_MAX_MS;
	l->retry_at = rx_now(b->rx) + l->backoff_ms;
	if (l == &b->pub)
		bus_fail_acks(b);
}

static void link_on_io(struct rx *rx, struct rx_io *io, unsigned events);

/* Pipelined ahead of anything else: AUTH, then (subscriber) SUBSCRIBE.
 * No SELECT: pub/sub channels are the same in every database. */
static void link_connect(struct link *l)
{
	struct push_bus *b = l->bus;
	int fd = net_connect(&b->addr);
	if (fd < 0) {
		link_fail(l, strerror(-fd));
		return;
	}
	l->fd = fd;
	l->connected = false;
	l->started_ms = l->heard_ms = rx_now(b->rx);
	memset(&l->io, 0, sizeof(l->io));
	if (rx_io_add(b->rx, &l->io, fd, link_on_io) < 0) {
		close(fd);
		l->fd = -1;
		link_fail(l, "cannot watch the socket");
		return;
	}
	if (b->url.has_password) {
		struct resp_slice a[3] = {SLICE("AUTH"), SLICE(b->url.user), SLICE(b->url.password)};
		if (b->url.user[0])
			link_append(l, a, 3);
		else
			link_append(l, (struct resp_slice[]){a[0], a[2]}, 2);
		l->handshake++;
	}
	if (l == &b->sub) {
		struct resp_slice a[2] = {SLICE("SUBSCRIBE"), SLICE(b->channel)};
		link_append(l, a, 2);
	}
	link_want(l);
}

/* Redis refused what we sent (wrong password, NOAUTH ...): says its words. */
static void link_refused(struct link *l, const char *what, const struct resp_reply *r)
{
	char why[200];
	if (r->type == RESP_ERROR)
		snprintf(why, sizeof(why), "%s: %.*s", what,
		         (int)(r->text.len > 150 ? 150 : r->text.len), (const char *)r->text.p);
	else
		snprintf(why, sizeof(why), "%s: a reply out of step", what);
	link_fail(l, why);
}

/* A handshake reply (AUTH): false when it refused us (link failed). */
static bool link_handshake(struct link *l, const struct resp_reply *r)
{
	l->handshake--;
	if (r->type == RESP_ERROR) {
		link_refused(l, "AUTH", r);
		return false;
	}
	if (l == &l->bus->pub && l->handshake == 0)
		l->ready = true;
	return true;
}

/* ---- the publisher ---- */

static void pub_reply(struct push_bus *b, const struct resp_reply *r)
{
	struct link *l = &b->pub;
	if (l->handshake) {
		link_handshake(l, r);
		return;
	}
	if (b->count == 0 || r->type != RESP_INTEGER) {
		link_refused(l, "PUBLISH", r);
		return;
	}
	struct ack a = b->ring[b->head];
	b->head = (b->head + 1) % ACK_MAX;
	b->count--;
	l->backoff_ms = 0; /* a working connection */
	if (a.fn)
		a.fn(a.owner, (long)r->integer);
}

/* ---- the subscriber ---- */

static bool text_is(const struct resp_reply *r, const char *s)
{
	return r->type == RESP_BULK && r->text.len == strlen(s) &&
	       memcmp(r->text.p, s, r->text.len) == 0;
}

/* A message on the channel: ours that we delivered already are skipped,
 * what is not a pushbus message is dropped (a warning every 10 s). */
static void sub_message(struct push_bus *b, const char *payload, size_t len)
{
	struct pushbus_msg m;
	if (pushbus_parse(payload, len, &m) != PUSH_OK) {
		uint64_t now = rx_now(b->rx);
		if (!b->ignored_ms || now - b->ignored_ms >= LOG_EVERY_MS) {
			b->ignored_ms = now;
			log_warn("push bus %s: a message that is not a wsferry push was ignored", b->name);
		}
		return;
	}
	if (!(m.local && strcmp(m.tag, b->tag) == 0))
		b->on_msg(b->owner, &m);
}

/* A push: ["message", channel, payload], ["subscribe", channel, n] or
 * ["pong", ""]. */
static void sub_push(struct push_bus *b, const struct resp_reply *el, size_t n)
{
	struct link *l = &b->sub;
	if (n == 3 && text_is(&el[0], "message") && text_is(&el[1], b->channel) &&
	    el[2].type == RESP_BULK) {
		sub_message(b, (const char *)el[2].text.p, el[2].text.len);
	} else if (n == 3 && text_is(&el[0], "subscribe") && text_is(&el[1], b->channel)) {
		l->ready = true;
		l->backoff_ms = 0;
		log_info("push bus %s: subscribed to %s", b->name, b->channel);
	} else if (!(n == 2 && text_is(&el[0], "pong"))) {
		link_fail(l, "an unexpected push on the subscription");
	}
}

/* One reply or push at the front of the subscriber's input: its length, 0
 * for more, -1 when the link failed. */
static long sub_one(struct push_bus *b, const uint8_t *in, size_t len)
{
	struct link *l = &b->sub;
	size_t used, n;
	struct resp_reply el[RESP_MAX_ELEMS];
	int rc = in[0] == '*' ? resp_parse_array(in, len, &used, el, RESP_MAX_ELEMS, &n)
	                      : resp_parse(in, len, &used, &el[0]);
	if (rc == RESP_NEED_MORE)
		return 0;
	if (rc < 0) {
		link_fail(l, resp_strerror(rc));
		return -1;
	}
	int fd = l->fd;
	if (in[0] == '*')
		sub_push(b, el, n);
	else if (l->handshake)
		link_handshake(l, &el[0]);
	else
		link_refused(l, "SUBSCRIBE", &el[0]);
	return l->fd == fd ? (long)used : -1;
}

/* ---- I/O ---- */

static int link_write(struct link *l)
{
	if (!l->out_len)
		return 0;
	long n = net_write(l->fd, l->out, l->out_len);
	if (n < 0 && n != -EAGAIN) {
		link_fail(l, strerror((int)-n));
		return -1;
	}
	if (n > 0) {
		memmove(l->out, l->out + n, l->out_len - (size_t)n);
		l->out_len -= (size_t)n;
	}
	return 0;
}

/* Reads what is waiting and handles every whole reply: -1 when the link
 * failed (it may have been failed by a callback). */
static int link_read(struct link *l)
{
	struct push_bus *b = l->bus;
	long n = net_read(l->fd, l->in + l->in_len, l->in_cap - l->in_len);
	if (n == 0 || (n < 0 && n != -EAGAIN)) {
		link_fail(l, n == 0 ? "connection closed by Redis" : strerror((int)-n));
		return -1;
	}
	if (n < 0)
		return 0;
	l->in_len += (size_t)n;
	l->heard_ms = rx_now(b->rx);
	l->ping_ms = 0;
	size_t at = 0;
	int fd = l->fd;
	while (at < l->in_len) {
		long used;
		if (l == &b->sub) {
			used = sub_one(b, l->in + at, l->in_len - at);
		} else {
			struct resp_reply r;
			size_t u;
			int rc = resp_parse(l->in + at, l->in_len - at, &u, &r);
			if (rc < 0)
				link_fail(l, resp_strerror(rc));
			else if (rc == RESP_REPLY)
				pub_reply(b, &r);
			used = rc < 0 || l->fd != fd ? -1 : (long)u;
		}
		if (used < 0)
			return -1;
		if (used == 0)
			break;
		at += (size_t)used;
	}
	memmove(l->in, l->in + at, l->in_len - at);
	l->in_len -= at;
	if (l->in_len == l->in_cap) {
		link_fail(l, resp_strerror(RESP_ERR_TOO_BIG));
		return -1;
	}
	return 0;
}

static void link_on_io(struct rx *rx, struct rx_io *io, unsigned events)
{
	struct link *l = (struct link *)((char *)io - offsetof(struct link, io));
	(void)rx;
	if (!l->connected && (events & (RX_WRITE | RX_READ))) {
		int err = net_connect_result(l->fd);
		if (err < 0) {
			link_fail(l, strerror(-err));
			return;
		}
		l->connected = true;
		if (l == &l->bus->pub && l->handshake == 0)
			l->ready = true;
		log_info("push bus %s (%s): connected", l->bus->name, l->role);
	}
	if ((events & RX_WRITE) && link_write(l) < 0)
		return;
	if ((events & RX_READ) && link_read(l) < 0)
		return;
	link_want(l);
}

/* Reconnects, and finds the connections that stopped answering. */
static void link_check(struct link *l, uint64_t now)
{
	struct push_bus *b = l->bus;
	if (l->fd < 0) {
		if (now >= l->retry_at)
			link_connect(l);
	} else if (!l->connected && now - l->started_ms >= CONNECT_TIMEOUT_MS) {
		link_fail(l, "no connection within 2 s");
	} else if (l == &b->pub && b->count && now - b->ring[b->head].sent_ms >= ACK_TIMEOUT_MS) {
		link_fail(l, "PUBLISH not answered within 1 s");
	} else if (l == &b->sub && l->connected && l->ping_ms && now - l->ping_ms >= SUB_PING_MS) {
		link_fail(l, "PING not answered within 2 s");
	} else if (l == &b->sub && l->ready && !l->ping_ms && now - l->heard_ms >= SUB_IDLE_MS) {
		struct resp_slice a[1] = {SLICE("PING")};
		if (link_append(l, a, 1)) {
			l->ping_ms = now;
			link_want(l);
		}
	}
}

static void bus_on_tick(struct rx *rx, struct rx_timer *t)
{
	struct push_bus *b = (struct push_bus *)((char *)t - offsetof(struct push_bus, tick));
	uint64_t now = rx_now(rx);
	link_check(&b->pub, now);
	link_check(&b->sub, now);
	rx_timer_arm(rx, t, now + TICK_MS, bus_on_tick);
}

/* ---- setup ---- */

int push_bus_check_url(const char *url, const char **why)
{
	struct resp_url u;
	return resp_url_parse(url, &u, why);
}

static int bus_resolve(struct push_bus *b, const char *dns, char *err, size_t cap)
{
	struct resp_url *u = &b->url;
	memset(&b->addr, 0, sizeof(b->addr));
	if (u->is_unix) {
		struct sockaddr_un *sun = (struct sockaddr_un *)&b->addr.ss;
		if (strlen(u->path) >= sizeof(sun->sun_path)) {
			snprintf(err, cap, "--push-bus: the socket path is too long");
			return -1;
		}
		sun->sun_family = AF_UNIX;
		memcpy(sun->sun_path, u->path, strlen(u->path) + 1);
		b->addr.len = sizeof(*sun);
		snprintf(b->name, sizeof(b->name), "unix:%s", u->path);
		return 0;
	}
	snprintf(b->name, sizeof(b->name), strchr(u->host, ':') ? "redis://[%s]:%u" : "redis://%s:%u",
	         u->host, u->port);
	if (net_addr_from_ip(u->host, u->port, &b->addr) == 0)
		return 0;
	int n = dns_resolve_blocking(u->host, u->port, dns, &b->addr, 1);
	if (n <= 0) {
		snprintf(err, cap, "--push-bus: cannot resolve %s: %s", u->host, dns_strerror(n));
		return -1;
	}
	return 0;
}

/* 16 random hex digits and the pid: unique per process even when workers
 * forked with the same random pool. */
static void bus_tag(struct push_bus *b)
{
	static const char hex[] = "0123456789abcdef";
	uint8_t r[8] = {0};
	rand_bytes(r, sizeof(r));
	for (int i = 0; i < 8; i++) {
		b->tag[2 * i] = hex[r[i] >> 4];
		b->tag[2 * i + 1] = hex[r[i] & 15];
	}
	snprintf(b->tag + 16, sizeof(b->tag) - 16, "-%ld", (long)getpid());
}

static int link_init(struct push_bus *b, struct link *l, const char *role, size_t in_cap,
                     size_t out_cap)
{
	l->bus = b;
	l->role = role;
	l->fd = -1;
	l->in_cap = in_cap;
	l->out_cap = out_cap;
	l->in = malloc(in_cap);
	l->out = malloc(out_cap);
	return l->in && l->out ? 0 : -1;
}

struct push_bus *push_bus_open(struct rx *rx, const char *url, const char *channel,
                               const char *dns, push_bus_msg_fn on_msg, void *owner, char *err,
                               size_t cap)
{
	const char *why;
	struct push_bus *b = calloc(1, sizeof(*b));
	if (b)
		b->pub.fd = b->sub.fd = -1;
	if (b)
		b->payload = malloc(PAYLOAD_MAX);
	if (!b || !b->payload || link_init(b, &b->pub, "publish", PUB_IN_CAP, PUB_OUT_CAP) < 0 ||
	    link_init(b, &b->sub, "subscribe", SUB_IN_CAP, SUB_OUT_CAP) < 0) {
		snprintf(err, cap, "out of memory");
		push_bus_close(b);
		return NULL;
	}
	b->rx = rx;
	if (resp_url_parse(url, &b->url, &why) < 0 || strlen(channel) > CHANNEL_MAX) {
		snprintf(err, cap, "--push-bus: %s", strlen(channel) > CHANNEL_MAX ? "path too long" : why);
		push_bus_close(b);
		return NULL;
	}
	if (bus_resolve(b, dns, err, cap) < 0) {
		push_bus_close(b);
		return NULL;
	}
	memcpy(b->channel, channel, strlen(channel) + 1);
	b->on_msg = on_msg;
	b->owner = owner;
	b->next_ticket = 1;
	bus_tag(b);
	link_connect(&b->pub); /* a failure here retries from the tick */
	link_connect(&b->sub);
	rx_timer_arm(rx, &b->tick, rx_now(rx) + TICK_MS, bus_on_tick);
	return b;
}

bool push_bus_subscribed(const struct push_bus *b)
{
	return b->sub.ready;
}

uint32_t push_bus_publish(struct push_bus *b, struct pushbus_msg *m, const void *body,
                          size_t len, push_bus_ack_fn fn, void *owner)
{
	struct link *l = &b->pub;
	if (!l->ready || b->count == ACK_MAX)
		return 0;
	memcpy(m->tag, b->tag, sizeof(m->tag));
	size_t hn = pushbus_head(b->payload, PUSHBUS_HEAD_MAX, m);
	if (hn == 0 || len > PAYLOAD_MAX - hn)
		return 0;
	memcpy(b->payload + hn, body, len);
	struct resp_slice a[3] = {SLICE("PUBLISH"), SLICE(b->channel),
	                          {(const uint8_t *)b->payload, hn + len}};
	if (!link_append(l, a, 3))
		return 0; /* the output is full: Redis is not keeping up */
	uint32_t t = b->next_ticket++;
	if (b->next_ticket == 0)
		b->next_ticket = 1;
	b->ring[(b->head + b->count) % ACK_MAX] =
		(struct ack){.fn = fn, .owner = owner, .sent_ms = rx_now(b->rx), .ticket = t};
	b->count++;
	link_want(l);
	return t;
}

void push_bus_cancel(struct push_bus *b, uint32_t ticket)
{
	for (size_t i = 0; i < b->count; i++) {
		struct ack *a = &b->ring[(b->head + i) % ACK_MAX];
		if (a->ticket == ticket) {
			a->fn = NULL;
			return;
		}
	}
}

static void link_close(struct push_bus *b, struct link *l)
{
	if (l->fd >= 0) {
		rx_io_del(b->rx, &l->io);
		close(l->fd);
	}
	free(l->in);
	free(l->out);
}

void push_bus_close(struct push_bus *b)
{
	if (!b)
		return;
	if (b->rx)
		rx_timer_cancel(b->rx, &b->tick); /* never armed: nothing done */
	link_close(b, &b->pub);
	link_close(b, &b->sub);
	free(b->payload);
	free(b);
}
