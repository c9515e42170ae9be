/* rx_test.c — the reactor against real fds, timers and signals: readiness,
 * deferred interest, delete-and-free during dispatch, timer heap order and
 * cost, rx_run's exit rule, signals, EINTR and the before-sleep hook. */
#include "core/rx.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "test/check.h"

#define container_of(p, type, member) ((type *)(void *)((char *)(p)-offsetof(type, member)))

/* ---- helpers ---- */

static void set_nonblock(int fd)
{
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

static int make_pair(int sv[2])
{
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == -1)
		return -1;
	set_nonblock(sv[0]);
	set_nonblock(sv[1]);
	return 0;
}

static uint64_t wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* An io owner that records what it was called with. */
struct probe {
	struct rx_io io;
	int calls;
	unsigned last;
	unsigned seen;
};

static void probe_cb(struct rx *rx, struct rx_io *io, unsigned events)
{
	struct probe *p = container_of(io, struct probe, io);

	(void)rx;
	p->calls++;
	p->last = events;
	p->seen |= events;
}

/* ---- io readiness and interest ---- */

static void test_io_readiness(void)
{
	struct rx rx;
	struct probe p = { 0 };
	int sv[2];

	CHECK_EQ_INT(rx_init(&rx), 0);
	CHECK_EQ_INT(make_pair(sv), 0);
	CHECK_EQ_INT(rx_io_add(&rx, &p.io, sv[0], probe_cb), 0);
	CHECK_EQ_INT(rx.nios, 1);

	rx_run_once(&rx, 0); /* no interest: nothing */
	CHECK_EQ_INT(p.calls, 0);

	rx_io_want(&rx, &p.io, RX_WRITE); /* an empty socket is writable */
	CHECK_EQ_INT(rx_run_once(&rx, 100), 0);
	CHECK_EQ_INT(p.calls, 1);
	CHECK_EQ_INT(p.last, RX_WRITE);

	rx_io_want(&rx, &p.io, RX_READ); /* nothing to read yet */
	CHECK_EQ_INT(rx_run_once(&rx, 0), 0);
	CHECK_EQ_INT(p.calls, 1);

	CHECK_EQ_INT(write(sv[1], "x", 1), 1);
	CHECK_EQ_INT(rx_run_once(&rx, 100), 0);
	CHECK_EQ_INT(p.calls, 2);
	CHECK_EQ_INT(p.last, RX_READ);

	/* Level-triggered: unread data fires again. */
	CHECK_EQ_INT(rx_run_once(&rx, 100), 0);
	CHECK_EQ_INT(p.calls, 3);

	rx_io_want(&rx, &p.io, RX_READ | RX_WRITE);
	CHECK_EQ_INT(rx_run_once(&rx, 100), 0);
	CHECK_EQ_INT(p.calls, 4);
	CHECK_EQ_INT(p.last, RX_READ | RX_WRITE);

	rx_io_want(&rx, &p.io, 0); /* readable, but nobody asks */
	CHECK_EQ_INT(rx_run_once(&rx, 0), 0);
	CHECK_EQ_INT(p.calls, 4);
	CHECK_EQ_INT(p.io.applied, 0);

	rx_io_del(&rx, &p.io);
	CHECK_EQ_INT(rx.nios, 0);
	close(sv[0]);
	close(sv[1]);
	rx_free(&rx);
}

/* How often io sits on the pending-change list (the signal pipe may too). */
static int dirty_count(const struct rx *rx, const struct rx_io *io)
{
	int n = 0;

	for (const struct rx_io *d = rx->dirty; d; d = d->dirty_next)
		n += d == io;
	return n;
}

/* Flipping interest within one iteration leaves at most one pending change,
 * and asking again for what the poller holds cancels it. */
static void test_io_want_coalesces(void)
{
	struct rx rx;
	struct probe p = { 0 };
	int sv[2];

	CHECK_EQ_INT(rx_init(&rx), 0);
	CHECK_EQ_INT(make_pair(sv), 0);
	CHECK_EQ_INT(rx_io_add(&rx, &p.io, sv[0], probe_cb), 0);
	CHECK_EQ_INT(rx_io_add(&rx, &p.io, sv[0], probe_cb), -EEXIST);

	rx_io_want(&rx, &p.io, RX_READ);
	rx_io_want(&rx, &p.io, RX_WRITE);
	rx_io_want(&rx, &p.io, RX_READ | RX_WRITE);
	CHECK_EQ_INT(dirty_count(&rx, &p.io), 1);
	rx_io_want(&rx, &p.io, 0); /* back to what is applied */
	CHECK(!p.io.dirty);
	CHECK_EQ_INT(dirty_count(&rx, &p.io), 0);

	rx_io_want(&rx, &p.io, RX_WRITE);
	CHECK_EQ_INT(rx_run_once(&rx, 100), 0);
	CHECK_EQ_INT(p.io.applied, RX_WRITE);
	CHECK(!p.io.dirty);
	rx_io_want(&rx, &p.io, RX_READ);
	rx_io_want(&rx, &p.io, RX_WRITE);
	CHECK(!p.io.dirty);

	/* Deleting a dirty io takes it off the list. */
	rx_io_want(&rx, &p.io, RX_READ);
	CHECK(p.io.dirty);
	rx_io_del(&rx, &p.io);
	CHECK(!p.io.dirty);
	CHECK_EQ_INT(dirty_count(&rx, &p.io), 0);
	rx_io_del(&rx, &p.io); /* twice is harmless */
	rx_io_want(&rx, &p.io, RX_READ); /* and so is wanting after delete */
	CHECK(!p.io.dirty);
	CHECK_EQ_INT(rx.nios, 0);

	close(sv[0]);
	close(sv[1]);
	rx_free(&rx);
}

/* Hangups and half-closes arrive as readiness the next read or write can
 * explain. */
static void test_io_hangup(void)
{
	struct rx rx;
	struct probe r = { 0 }, w = { 0 };
	int a[2], b[2];
	char c;

	CHECK_EQ_INT(rx_init(&rx), 0);
	CHECK_EQ_INT(make_pair(a), 0);
	CHECK_EQ_INT(make_pair(b), 0);
	CHECK_EQ_INT(rx_io_add(&rx, &r.io, a[0], probe_cb), 0);
	CHECK_EQ_INT(rx_io_add(&rx, &w.io, b[0], probe_cb), 0);
	rx_io_want(&rx, &r.io, RX_READ);
	rx_io_want(&rx, &w.io, RX_READ);
	CHECK_EQ_INT(rx_run_once(&rx, 0), 0);
	CHECK_EQ_INT(r.calls + w.calls, 0);

	shutdown(a[1], SHUT_WR); /* half-close: readable, read says EOF */
	close(b[1]);             /* full close */
	CHECK_EQ_INT(rx_run_once(&rx, 100), 0);
	CHECK_EQ_INT(r.calls, 1);
	CHECK_EQ_INT(r.last, RX_READ);
	CHECK_EQ_INT(read(a[0], &c, 1), 0);
	CHECK_EQ_INT(w.calls, 1);
	CHECK(w.last & RX_READ);

	/* A writer whose peer is gone is woken and meets EPIPE. */
	rx_io_want(&rx, &w.io, RX_WRITE);
	CHECK_EQ_INT(rx_run_once(&rx, 100), 0);
	CHECK_EQ_INT(w.calls, 2);
	CHECK_EQ_INT(w.last, RX_WRITE);
	CHECK_EQ_INT(send(b[0], "x", 1, MSG_NOSIGNAL), -1);
	CHECK_EQ_INT(errno, EPIPE);

	rx_io_del(&rx, &r.io);
	rx_io_del(&rx, &w.io);
	close(a[0]);
	close(a[1]);
	close(b[0]);
	rx_free(&rx);
}

/* ---- delete and free during dispatch ---- */

struct peer {
	struct rx_io io;
	struct peer *other;
	int *calls;
};

/* Whichever fires first deletes and frees the other, then itself. */
static void peer_cb(struct rx *rx, struct rx_io *io, unsigned events)
{
	struct peer *me = container_of(io, struct peer, io);

	(void)events;
	(*me->calls)++;
	rx_io_del(rx, &me->other->io);
	close(me->other->io.fd);
	free(me->other);
	rx_io_del(rx, &me->io);
	close(me->io.fd);
	free(me);
}

static void test_del_frees_other_in_same_iteration(void)
{
	struct rx rx;
	struct peer *x = calloc(1, sizeof(*x)), *y = calloc(1, sizeof(*y));
	int s1[2], s2[2], calls = 0;

	CHECK_EQ_INT(rx_init(&rx), 0);
	CHECK_EQ_INT(make_pair(s1), 0);
	CHECK_EQ_INT(make_pair(s2), 0);
	x->other = y;
	y->other = x;
	x->calls = y->calls = &calls;
	CHECK_EQ_INT(rx_io_add(&rx, &x->io, s1[0], peer_cb), 0);
	CHECK_EQ_INT(rx_io_add(&rx, &y->io, s2[0], peer_cb), 0);
	rx_io_want(&rx, &x->io, RX_READ);
	rx_io_want(&rx, &y->io, RX_READ);
	CHECK_EQ_INT(write(s1[1], "a", 1), 1);
	CHECK_EQ_INT(write(s2[1], "b", 1), 1);

	/* Both are readable in the same wait; ASan would flag a dispatch of
	 * the freed one. */
	CHECK_EQ_INT(rx_run_once(&rx, 100), 0);
	CHECK_EQ_INT(calls, 1);
	CHECK_EQ_INT(rx.nios, 0);
	CHECK_EQ_INT(rx_run(&rx), 0); /* nothing left: returns at once */

	close(s1[1]);
	close(s2[1]);
	rx_free(&rx);
}

/* An io re-added at the address of a freed one during the same dispatch
 * must not inherit the freed one's fired entry. */
struct readder {
	struct rx_io io;
	struct probe *victim;
	int fd;
};

static void readder_cb(struct rx *rx, struct rx_io *io, unsigned events)
{
	struct readder *r = container_of(io, struct readder, io);

	(void)events;
	rx_io_del(rx, &r->victim->io);
	memset(&r->victim->io, 0, sizeof(r->victim->io));
	rx_io_add(rx, &r->victim->io, r->fd, probe_cb);
	rx_io_want(rx, &r->victim->io, RX_READ);
	rx_io_del(rx, io);
}

static void test_del_then_readd_in_same_iteration(void)
{
	struct rx rx;
	struct probe victim = { 0 };
	struct readder r = { .victim = &victim };
	int s1[2], s2[2], s3[2];

	CHECK_EQ_INT(rx_init(&rx), 0);
	CHECK_EQ_INT(make_pair(s1), 0);
	CHECK_EQ_INT(make_pair(s2), 0);
	CHECK_EQ_INT(make_pair(s3), 0);
	r.fd = s3[0]; /* quiet: nothing written there */
	CHECK_EQ_INT(rx_io_add(&rx, &r.io, s1[0], readder_cb), 0);
	CHECK_EQ_INT(rx_io_add(&rx, &victim.io, s2[0], probe_cb), 0);
	rx_io_want(&rx, &r.io, RX_READ);
	rx_io_want(&rx, &victim.io, RX_READ);
	CHECK_EQ_INT(write(s1[1], "a", 1), 1);
	CHECK_EQ_INT(write(s2[1], "b", 1), 1);

	/* Dispatch order is the poller's: run until the readder has fired. */
	for (int i = 0; i < 3 && r.io.fn; i++)
		CHECK_EQ_INT(rx_run_once(&rx, 100), 0);
	CHECK(r.io.fn == NULL);
	CHECK_EQ_INT(rx_run_once(&rx, 0), 0);
	/* Either the victim fired before being replaced (fd s2) or never since:
	 * s3 is silent, so no call may happen after the replacement. */
	CHECK(victim.calls <= 1);
	CHECK_EQ_INT(victim.io.fd, s3[0]);
	rx_io_del(&rx, &victim.io);
	for (int i = 0; i < 2; i++) {
		close(s1[i]);
		close(s2[i]);
		close(s3[i]);
	}
	rx_free(&rx);
}

/* rx_io_close: the fd leaves the poller with its close, no deregistering
 * call. A socket opened next reuses the number; registered in the same
 * iteration it must work, and the closed one must never fire again. */
struct closer {
	struct rx_io io;
	struct probe *next; /* registered on a new socket from the callback */
	int next_peer;
};

static void closer_cb(struct rx *rx, struct rx_io *io, unsigned events)
{
	struct closer *c = container_of(io, struct closer, io);
	int sv[2];

	(void)events;
	int old = io->fd;
	rx_io_close(rx, io);
	CHECK_EQ_INT(make_pair(sv), 0);
	CHECK_EQ_INT(sv[0], old); /* the lowest free number: the closed one */
	CHECK_EQ_INT(rx_io_add(rx, &c->next->io, sv[0], probe_cb), 0);
	rx_io_want(rx, &c->next->io, RX_READ);
	c->next_peer = sv[1];
}

static void test_io_close_then_reuse(void)
{
	struct rx rx;
	struct probe next = { 0 };
	struct closer c = { .next = &next, .next_peer = -1 };
	int s1[2];

	CHECK_EQ_INT(rx_init(&rx), 0);
	CHECK_EQ_INT(make_pair(s1), 0);
	CHECK_EQ_INT(rx_io_add(&rx, &c.io, s1[0], closer_cb), 0);
	rx_io_want(&rx, &c.io, RX_READ);
	CHECK_EQ_INT(write(s1[1], "a", 1), 1);
	CHECK_EQ_INT(rx_run_once(&rx, 100), 0);
	CHECK(c.io.fn == NULL);
	CHECK_EQ_INT(rx.nios, 1);
	CHECK_EQ_INT(rx_run_once(&rx, 0), 0);
	CHECK_EQ_INT(next.calls, 0); /* nothing written to the new one yet */
	CHECK_EQ_INT(write(c.next_peer, "b", 1), 1);
	CHECK_EQ_INT(rx_run_once(&rx, 100), 0);
	CHECK_EQ_INT(next.calls, 1);
	CHECK(next.last & RX_READ);
	rx_io_close(&rx, &next.io);
	rx_io_close(&rx, &next.io); /* twice is harmless: the fd is not closed again */
	CHECK_EQ_INT(rx.nios, 0);
	close(c.next_peer);
	close(s1[1]);
	rx_free(&rx);
}

/* ---- refused fds ---- */

/* epoll refuses regular files (EPERM); kqueue takes them and says readable
 * while the offset is before EOF. Either way the owner sees its file
 * readable, as poll(2) would say. */
static void test_io_refused_is_ready(void)
{
	struct rx rx;
	struct probe p = { 0 };
	char path[] = "/tmp/rx_test_XXXXXX";
	int fd = mkstemp(path);

	CHECK(fd != -1);
	unlink(path);
	CHECK_EQ_INT(write(fd, "data", 4), 4);
	CHECK_EQ_INT(lseek(fd, 0, SEEK_SET), 0);
	CHECK_EQ_INT(rx_init(&rx), 0);
	CHECK_EQ_INT(rx_io_add(&rx, &p.io, fd, probe_cb), 0);
	rx_io_want(&rx, &p.io, RX_READ);
	CHECK_EQ_INT(rx_run_once(&rx, 100), 0);
	CHECK_EQ_INT(p.calls, 1);
	CHECK_EQ_INT(p.last, RX_READ);
	rx_io_del(&rx, &p.io);
	CHECK(rx.refused == NULL);
	CHECK(rx.dirty == NULL);
	CHECK_EQ_INT(rx_run_once(&rx, 0), 0);
	CHECK_EQ_INT(p.calls, 1);
	close(fd);
	rx_free(&rx);
}

/* ---- timers ---- */

struct tick {
	struct rx_timer t;
	int id;
	int runs;
};

static uint64_t last_deadline;
static int order_ok, fired, late;

static void tick_ordered(struct rx *rx, struct rx_timer *t)
{
	struct tick *k = container_of(t, struct tick, t);

	if (t->deadline_ms < last_deadline)
		order_ok = 0;
	if (rx_now(rx) < t->deadline_ms)
		late = 1; /* ran before its deadline */
	last_deadline = t->deadline_ms;
	k->runs++;
	fired++;
}

/* Walks the heap checking links, order and size; returns the node count. */
static size_t heap_check(const struct rx_timer *n, const struct rx_timer *parent, int *ok)
{
	if (!n)
		return 0;
	if (n->parent != parent || !n->armed)
		*ok = 0;
	if (parent && n->deadline_ms < parent->deadline_ms)
		*ok = 0;
	return 1 + heap_check(n->left, n, ok) + heap_check(n->right, n, ok);
}

static int heap_valid(const struct rx *rx)
{
	int ok = 1;

	return heap_check(rx->timers.min, NULL, &ok) == rx->timers.count && ok;
}

static void test_timers_fire_in_order(void)
{
	enum { N = 10000 };
	struct rx rx;
	struct tick *ticks = calloc(N, sizeof(*ticks));
	uint64_t start;
	int runs_ok = 1;

	CHECK_EQ_INT(rx_init(&rx), 0);
	srand(12345);
	start = rx_now(&rx);
	for (int i = 0; i < N; i++)
		rx_timer_arm(&rx, &ticks[i].t, start + (uint64_t)(rand() % 40), tick_ordered);
	CHECK_EQ_INT(rx.timers.count, N);
	CHECK(heap_valid(&rx));
	order_ok = 1;
	fired = late = 0;
	last_deadline = 0;
	CHECK_EQ_INT(rx_run(&rx), 0);
	CHECK_EQ_INT(fired, N);
	CHECK(order_ok);
	CHECK(!late);
	CHECK(rx_now(&rx) >= start + 30);
	for (int i = 0; i < N; i++)
		runs_ok &= ticks[i].runs == 1 && !ticks[i].t.armed;
	CHECK(runs_ok);
	CHECK_EQ_INT(rx.timers.count, 0);
	CHECK(rx.timers.min == NULL);
	free(ticks);
	rx_free(&rx);
}

/* Random arm / re-arm / cancel against a shadow count, heap checked often. */
static void test_timers_heap_random_ops(void)
{
	enum { N = 500, OPS = 20000 };
	struct rx rx;
	struct tick *ticks = calloc(N, sizeof(*ticks));
	size_t armed = 0;
	int valid = 1;

	CHECK_EQ_INT(rx_init(&rx), 0);
	srand(777);
	for (int op = 0; op < OPS; op++) {
		struct tick *k = &ticks[rand() % N];

		if (rand() % 3 == 0) {
			armed -= k->t.armed;
			rx_timer_cancel(&rx, &k->t);
		} else {
			armed += !k->t.armed;
			rx_timer_arm(&rx, &k->t, 1000000u + (uint64_t)(rand() % 100), tick_ordered);
		}
		if (op % 97 == 0)
			valid &= heap_valid(&rx) && rx.timers.count == armed;
	}
	CHECK(valid);
	CHECK(heap_valid(&rx));
	CHECK_EQ_INT(rx.timers.count, armed);
	for (int i = 0; i < N; i++)
		rx_timer_cancel(&rx, &ticks[i].t);
	CHECK_EQ_INT(rx.timers.count, 0);
	CHECK(rx.timers.min == NULL);
	free(ticks);
	rx_free(&rx);
}

static struct tick *victim_tick;

static void tick_cancels_victim(struct rx *rx, struct rx_timer *t)
{
	container_of(t, struct tick, t)->runs++;
	rx_timer_cancel(rx, &victim_tick->t);
}

static void tick_count(struct rx *rx, struct rx_timer *t)
{
	(void)rx;
	container_of(t, struct tick, t)->runs++;
}

/* Re-arms itself three times, each 1 ms later. */
static void tick_periodic(struct rx *rx, struct rx_timer *t)
{
	struct tick *k = container_of(t, struct tick, t);

	if (++k->runs < 3)
		rx_timer_arm(rx, t, rx_now(rx) + 1, tick_periodic);
}

static void test_timers_cancel_rearm(void)
{
	struct rx rx;
	struct tick a = { 0 }, b = { 0 }, c = { 0 }, killer = { 0 }, victim = { 0 }, per = { 0 };
	uint64_t now;

	CHECK_EQ_INT(rx_init(&rx), 0);
	now = rx_now(&rx);
	rx_timer_arm(&rx, &a.t, now + 5, tick_count);
	rx_timer_arm(&rx, &b.t, now + 60000, tick_count);
	rx_timer_arm(&rx, &c.t, now + 60000, tick_count);
	rx_timer_cancel(&rx, &a.t);
	rx_timer_cancel(&rx, &a.t); /* twice is harmless */
	CHECK(!a.t.armed);
	rx_timer_arm(&rx, &b.t, now + 2, tick_count); /* re-arm earlier */
	rx_timer_arm(&rx, &c.t, now + 1, tick_count);
	rx_timer_arm(&rx, &c.t, now + 3, tick_count); /* and later again */
	CHECK_EQ_INT(rx.timers.count, 2);

	/* Both due together: the earlier one cancels the other. */
	victim_tick = &victim;
	rx_timer_arm(&rx, &killer.t, now + 4, tick_cancels_victim);
	rx_timer_arm(&rx, &victim.t, now + 5, tick_count);
	rx_timer_arm(&rx, &per.t, now, tick_periodic);

	CHECK_EQ_INT(rx_run(&rx), 0);
	CHECK_EQ_INT(a.runs, 0);
	CHECK_EQ_INT(b.runs, 1);
	CHECK_EQ_INT(c.runs, 1);
	CHECK_EQ_INT(killer.runs, 1);
	CHECK_EQ_INT(victim.runs, 0);
	CHECK_EQ_INT(per.runs, 3);
	CHECK(rx_now(&rx) >= now + 3);
	rx_free(&rx);
}

/* A timer re-armed at "now" from its own callback runs once per iteration,
 * not forever inside one. */
static void tick_next_tick(struct rx *rx, struct rx_timer *t)
{
	struct tick *k = container_of(t, struct tick, t);

	if (++k->runs < 1000)
		rx_timer_arm(rx, t, rx_now(rx), tick_next_tick);
}

static void test_timers_rearm_now_yields(void)
{
	struct rx rx;
	struct tick k = { 0 };

	CHECK_EQ_INT(rx_init(&rx), 0);
	rx_timer_arm(&rx, &k.t, rx_now(&rx), tick_next_tick);
	CHECK_EQ_INT(rx_run_once(&rx, 0), 0);
	CHECK(k.runs >= 1 && k.runs <= 2); /* before and after the wait */
	CHECK_EQ_INT(rx_run(&rx), 0);
	CHECK_EQ_INT(k.runs, 1000);
	rx_free(&rx);
}

/* 100,000 arms and cancels in shuffled order: O(log n) each, no malloc. */
static void test_timers_bench(void)
{
	enum { N = 100000 };
	struct rx rx;
	struct tick *ticks = calloc(N, sizeof(*ticks));
	int *order = malloc(N * sizeof(*order));
	uint64_t t0, t1;

	CHECK_EQ_INT(rx_init(&rx), 0);
	srand(42);
	for (int i = 0; i < N; i++)
		order[i] = i;
	for (int i = N - 1; i > 0; i--) {
		int j = rand() % (i + 1), tmp = order[i];

		order[i] = order[j];
		order[j] = tmp;
	}
	t0 = wall_ms();
	for (int i = 0; i < N; i++)
		rx_timer_arm(&rx, &ticks[i].t, rx_now(&rx) + 1000 + (uint64_t)(rand() % 100000), tick_count);
	CHECK_EQ_INT(rx.timers.count, N);
	for (int i = 0; i < N; i++)
		rx_timer_cancel(&rx, &ticks[order[i]].t);
	t1 = wall_ms();
	CHECK_EQ_INT(rx.timers.count, 0);
	CHECK(t1 - t0 < 2000); /* ~10 ms here; generous for valgrind/sanitizers */
	printf("rx_test: %d timer arms + cancels in %llu ms\n", N, (unsigned long long)(t1 - t0));
	free(order);
	free(ticks);
	rx_free(&rx);
}

/* ---- rx_run, rx_stop ---- */

static void tick_stop(struct rx *rx, struct rx_timer *t)
{
	container_of(t, struct tick, t)->runs++;
	rx_stop(rx);
}

static void test_run_exits_and_stops(void)
{
	struct rx rx;
	struct tick stopper = { 0 }, later = { 0 };
	uint64_t t0;

	CHECK_EQ_INT(rx_init(&rx), 0);
	t0 = wall_ms();
	CHECK_EQ_INT(rx_run(&rx), 0); /* nothing registered: returns at once */
	CHECK_EQ_INT(rx_run_once(&rx, -1), 0); /* and does not block forever */
	CHECK(wall_ms() - t0 < 1000);

	rx_timer_arm(&rx, &stopper.t, rx_now(&rx) + 1, tick_stop);
	rx_timer_arm(&rx, &later.t, rx_now(&rx) + 60000, tick_count);
	CHECK_EQ_INT(rx_run(&rx), 0);
	CHECK_EQ_INT(stopper.runs, 1);
	CHECK_EQ_INT(later.runs, 0);
	CHECK(!rx.stop); /* the flag is spent */
	CHECK(later.t.armed);
	rx_timer_cancel(&rx, &later.t);
	CHECK_EQ_INT(rx_run(&rx), 0);
	rx_free(&rx);
}

/* An io that reads one message and then deletes itself: rx_run then has
 * nothing left and returns. */
static void reader_once(struct rx *rx, struct rx_io *io, unsigned events)
{
	char c;

	probe_cb(rx, io, events);
	if (read(io->fd, &c, 1) == 1)
		rx_io_del(rx, io);
}

static void test_run_exits_after_last_io(void)
{
	struct rx rx;
	struct probe p = { 0 };
	int sv[2];

	CHECK_EQ_INT(rx_init(&rx), 0);
	CHECK_EQ_INT(make_pair(sv), 0);
	CHECK_EQ_INT(rx_io_add(&rx, &p.io, sv[0], reader_once), 0);
	rx_io_want(&rx, &p.io, RX_READ);
	CHECK_EQ_INT(write(sv[1], "z", 1), 1);
	CHECK_EQ_INT(rx_run(&rx), 0);
	CHECK_EQ_INT(p.calls, 1);
	CHECK_EQ_INT(rx.nios, 0);
	close(sv[0]);
	close(sv[1]);
	rx_free(&rx);
}

/* ---- signals ---- */

struct sig_seen {
	int count;
	int signo;
};

static void on_signal(struct rx *rx, int signo, void *arg)
{
	struct sig_seen *s = arg;

	(void)rx;
	s->count++;
	s->signo = signo;
}

static void test_signal_from_loop(void)
{
	struct rx rx;
	struct sig_seen seen = { 0 };

	CHECK_EQ_INT(rx_init(&rx), 0);
	CHECK_EQ_INT(rx_signal(&rx, SIGUSR1, on_signal, &seen), 0);
	errno = 1234;
	raise(SIGUSR1);
	CHECK_EQ_INT(errno, 1234); /* the handler restored it */
	CHECK_EQ_INT(seen.count, 0); /* nothing ran in the handler */
	CHECK_EQ_INT(rx_run_once(&rx, 1000), 0);
	CHECK_EQ_INT(seen.count, 1);
	CHECK_EQ_INT(seen.signo, SIGUSR1);

	raise(SIGUSR1);
	raise(SIGUSR1);
	CHECK_EQ_INT(rx_run_once(&rx, 1000), 0);
	CHECK_EQ_INT(seen.count, 3);
	CHECK_EQ_INT(rx.nios, 0); /* the pipe does not count */
	rx_free(&rx);
}

static void test_signal_limits(void)
{
	static const int sigs[] = { SIGUSR1, SIGUSR2, SIGHUP, SIGALRM,
	                            SIGWINCH, SIGURG, SIGCHLD, SIGPROF };
	struct rx rx;
	struct sig_seen seen = { 0 };

	CHECK_EQ_INT(rx_init(&rx), 0);
	CHECK_EQ_INT(rx_signal(&rx, 0, on_signal, &seen), -EINVAL);
	CHECK_EQ_INT(rx_signal(&rx, SIGKILL, on_signal, &seen), -EINVAL);
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		CHECK_EQ_INT(rx_signal(&rx, sigs[i], on_signal, &seen), 0);
	CHECK_EQ_INT(rx_signal(&rx, SIGUSR1, on_signal, &seen), 0); /* replaces */
	CHECK_EQ_INT(rx_signal(&rx, SIGVTALRM, on_signal, &seen), -ENOSPC);
	CHECK_EQ_INT(rx.nsigs, RX_MAX_SIGNALS);
	rx_free(&rx);
}

/* A signal landing while the loop sleeps interrupts the wait (EINTR), which
 * is no error; its callback runs from the loop. */
static void test_signal_interrupts_wait(void)
{
	struct rx rx;
	struct sig_seen seen = { 0 };
	struct itimerval it = { .it_value = { .tv_sec = 0, .tv_usec = 30000 } };
	struct tick guard = { 0 };
	uint64_t t0;

	CHECK_EQ_INT(rx_init(&rx), 0);
	CHECK_EQ_INT(rx_signal(&rx, SIGALRM, on_signal, &seen), 0);
	rx_timer_arm(&rx, &guard.t, rx_now(&rx) + 5000, tick_count);
	t0 = wall_ms();
	CHECK_EQ_INT(setitimer(ITIMER_REAL, &it, NULL), 0);
	for (int i = 0; i < 3 && seen.count == 0; i++)
		CHECK_EQ_INT(rx_run_once(&rx, 2000), 0);
	CHECK_EQ_INT(seen.count, 1);
	CHECK_EQ_INT(seen.signo, SIGALRM);
	CHECK(wall_ms() - t0 < 1000);
	CHECK_EQ_INT(guard.runs, 0);
	rx_timer_cancel(&rx, &guard.t);
	rx_free(&rx);
}

/* ---- before-sleep hook ---- */

struct flusher {
	int runs;
	struct probe *p;
};

/* Asks for write interest, the way a batched flush that hit EAGAIN would:
 * the change must be applied in the same iteration. */
static void before_sleep(struct rx *rx, void *arg)
{
	struct flusher *f = arg;

	f->runs++;
	if (f->runs == 2)
		rx_io_want(rx, &f->p->io, RX_WRITE);
}

static void test_before_sleep_hook(void)
{
	struct rx rx;
	struct probe p = { 0 };
	struct flusher f = { .p = &p };
	int sv[2];

	CHECK_EQ_INT(rx_init(&rx), 0);
	CHECK_EQ_INT(make_pair(sv), 0);
	CHECK_EQ_INT(rx_io_add(&rx, &p.io, sv[0], probe_cb), 0);
	rx_set_before_sleep(&rx, before_sleep, &f);
	CHECK_EQ_INT(rx_run_once(&rx, 0), 0);
	CHECK_EQ_INT(f.runs, 1);
	CHECK_EQ_INT(p.calls, 0);
	CHECK_EQ_INT(rx_run_once(&rx, 100), 0);
	CHECK_EQ_INT(f.runs, 2);
	CHECK_EQ_INT(p.calls, 1);
	CHECK_EQ_INT(p.last, RX_WRITE);
	rx_set_before_sleep(&rx, NULL, NULL);
	CHECK_EQ_INT(rx_run_once(&rx, 100), 0);
	CHECK_EQ_INT(f.runs, 2);
	rx_io_del(&rx, &p.io);
	close(sv[0]);
	close(sv[1]);
	rx_free(&rx);
}

int main(void)
{
	TEST_RUN(test_io_readiness);
	TEST_RUN(test_io_want_coalesces);
	TEST_RUN(test_io_hangup);
	TEST_RUN(test_del_frees_other_in_same_iteration);
	TEST_RUN(test_del_then_readd_in_same_iteration);
	TEST_RUN(test_io_close_then_reuse);
	TEST_RUN(test_io_refused_is_ready);
	TEST_RUN(test_timers_fire_in_order);
	TEST_RUN(test_timers_heap_random_ops);
	TEST_RUN(test_timers_cancel_rearm);
	TEST_RUN(test_timers_rearm_now_yields);
	TEST_RUN(test_timers_bench);
	TEST_RUN(test_run_exits_and_stops);
	TEST_RUN(test_run_exits_after_last_io);
	TEST_RUN(test_signal_from_loop);
	TEST_RUN(test_signal_limits);
	TEST_RUN(test_signal_interrupts_wait);
	TEST_RUN(test_before_sleep_hook);
	return test_summary();
}
