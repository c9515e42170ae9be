/* rx.c — the portable half of the reactor: loop iteration, cached clock,
 * timer min-heap, deferred interest changes and the signal self-pipe.
 * Owns only the pipe; the poller lives in the backend behind rx_os.h, and it
 * never allocates after rx_init. */
#include "core/rx.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/rx_os.h"

/* ---- clock ---- */

void rx_update_time(struct rx *rx)
{
	struct timespec ts;

	/* CLOCK_MONOTONIC never fails with a valid pointer; it is a vDSO call. */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	rx->now_ms = (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

uint64_t rx_now(const struct rx *rx)
{
	return rx->now_ms;
}

/* ---- timer heap: the libuv heap-inl.h shape, nodes linked by pointers, the
 * shape kept complete by walking to slot n through the bits of n ---- */

static bool rx_timer_less(const struct rx_timer *a, const struct rx_timer *b)
{
	return a->deadline_ms < b->deadline_ms;
}

/* The link in the tree that holds (or will hold) level-order slot n >= 1;
 * *parent gets that slot's parent. */
static struct rx_timer **rx_heap_slot(struct rx_timer_heap *h, size_t n,
                                      struct rx_timer **parent)
{
	struct rx_timer **link = &h->min;
	size_t path = 0, depth = 0;

	/* The bits of n under its top bit, read top-down, say left (0) or right (1). */
	for (; n >= 2; n /= 2, depth++)
		path = (path << 1) | (n & 1);
	*parent = NULL;
	for (; depth > 0; depth--, path >>= 1) {
		*parent = *link;
		link = (path & 1) ? &(*link)->right : &(*link)->left;
	}
	return link;
}

/* Swaps child with its parent p by relinking, never by copying the timers. */
static void rx_heap_swap(struct rx_timer_heap *h, struct rx_timer *p, struct rx_timer *c)
{
	struct rx_timer *gp = p->parent, *sibling;
	struct rx_timer *cl = c->left, *cr = c->right;

	if (p->left == c) {
		sibling = p->right;
		c->left = p;
		c->right = sibling;
	} else {
		sibling = p->left;
		c->right = p;
		c->left = sibling;
	}
	c->parent = gp;
	p->parent = c;
	p->left = cl;
	p->right = cr;
	if (cl)
		cl->parent = p;
	if (cr)
		cr->parent = p;
	if (sibling)
		sibling->parent = c;
	if (!gp)
		h->min = c;
	else if (gp->left == p)
		gp->left = c;
	else
		gp->right = c;
}

static void rx_heap_sift_up(struct rx_timer_heap *h, struct rx_timer *t)
{
	while (t->parent && rx_timer_less(t, t->parent))
		rx_heap_swap(h, t->parent, t);
}

static void rx_heap_sift_down(struct rx_timer_heap *h, struct rx_timer *t)
{
	for (;;) {
		struct rx_timer *least = t;

		if (t->left && rx_timer_less(t->left, least))
			least = t->left;
		if (t->right && rx_timer_less(t->right, least))
			least = t->right;
		if (least == t)
			return;
		rx_heap_swap(h, t, least);
	}
}

static void rx_heap_insert(struct rx_timer_heap *h, struct rx_timer *t)
{
	struct rx_timer *parent;
	struct rx_timer **link = rx_heap_slot(h, h->count + 1, &parent);

	t->left = t->right = NULL;
	t->parent = parent;
	*link = t;
	h->count++;
	rx_heap_sift_up(h, t);
}

/* Puts the last node in t's place, then restores the order around it. */
static void rx_heap_remove(struct rx_timer_heap *h, struct rx_timer *t)
{
	struct rx_timer *parent;
	struct rx_timer **link = rx_heap_slot(h, h->count, &parent);
	struct rx_timer *last = *link;

	*link = NULL;
	h->count--;
	if (last == t)
		return;
	last->left = t->left;
	last->right = t->right;
	last->parent = t->parent;
	if (last->left)
		last->left->parent = last;
	if (last->right)
		last->right->parent = last;
	if (!t->parent)
		h->min = last;
	else if (t->parent->left == t)
		t->parent->left = last;
	else
		t->parent->right = last;
	rx_heap_sift_down(h, last);
	rx_heap_sift_up(h, last);
}

void rx_timer_arm(struct rx *rx, struct rx_timer *t, uint64_t deadline_ms, rx_timer_fn fn)
{
	if (t->armed)
		rx_heap_remove(&rx->timers, t);
	t->deadline_ms = deadline_ms;
	t->fn = fn;
	t->armed = true;
	rx_heap_insert(&rx->timers, t);
}

void rx_timer_cancel(struct rx *rx, struct rx_timer *t)
{
	if (!t->armed)
		return;
	rx_heap_remove(&rx->timers, t);
	t->armed = false;
}

/* Runs due timers. At most as many as were armed on entry, so a callback that
 * re-arms itself at "now" runs again next iteration instead of spinning here. */
static void rx_timers_run(struct rx *rx)
{
	size_t budget = rx->timers.count;

	while (budget-- > 0) {
		struct rx_timer *t = rx->timers.min;

		if (!t || t->deadline_ms > rx->now_ms)
			return;
		rx_heap_remove(&rx->timers, t);
		t->armed = false;
		t->fn(rx, t); /* last touch: the callback may free t */
	}
}

/* ---- interest: a dirty list applied right before the wait ---- */

/* io->dirty says "on rx->dirty or rx->refused"; a head has no prev. */
static void rx_list_unlink(struct rx *rx, struct rx_io *io)
{
	if (io->dirty_prev)
		io->dirty_prev->dirty_next = io->dirty_next;
	else if (rx->dirty == io)
		rx->dirty = io->dirty_next;
	else
		rx->refused = io->dirty_next;
	if (io->dirty_next)
		io->dirty_next->dirty_prev = io->dirty_prev;
	io->dirty_next = io->dirty_prev = NULL;
	io->dirty = false;
}

static void rx_list_push(struct rx_io **head, struct rx_io *io)
{
	io->dirty_prev = NULL;
	io->dirty_next = *head;
	if (*head)
		(*head)->dirty_prev = io;
	*head = io;
	io->dirty = true;
}

int rx_io_add(struct rx *rx, struct rx_io *io, int fd, rx_io_fn fn)
{
	if (fd < 0 || !fn)
		return -EINVAL;
	if (io->fn) /* zeroed or deleted ios have none: this is a double add */
		return -EEXIST;
	memset(io, 0, sizeof(*io));
	io->fd = fd;
	io->fn = fn;
	rx->nios++;
	return 0;
}

void rx_io_want(struct rx *rx, struct rx_io *io, unsigned mask)
{
	if (!io->fn)
		return;
	io->want = mask & (RX_READ | RX_WRITE);
	if (io->want == io->applied) {
		if (io->dirty)
			rx_list_unlink(rx, io);
	} else if (!io->dirty) {
		rx_list_push(&rx->dirty, io);
	}
}

void rx_io_close(struct rx *rx, struct rx_io *io)
{
	if (!io->fn)
		return;
	if (io->dirty)
		rx_list_unlink(rx, io);
	rx_os_invalidate(rx, io);
	close(io->fd);
	io->fn = NULL;
	io->want = io->applied = 0;
	rx->nios--;
}

void rx_io_del(struct rx *rx, struct rx_io *io)
{
	if (!io->fn)
		return;
	if (io->dirty)
		rx_list_unlink(rx, io);
	if (io->applied)
		rx_os_set(rx, io, 0);
	rx_os_invalidate(rx, io);
	io->fn = NULL;
	io->want = 0;
	rx->nios--;
}

/* One poller call per changed fd. An fd the poller refuses (EPERM for a
 * regular file, EBADF, ENOSPC) is reported ready after the wait, so its
 * owner's next read/write meets the cause, as poll(2) would do. */
static void rx_interest_apply(struct rx *rx)
{
	struct rx_io *io;

	while ((io = rx->dirty) != NULL) {
		rx_list_unlink(rx, io);
		if (rx_os_set(rx, io, io->want) != 0)
			rx_list_push(&rx->refused, io);
	}
}

/* ---- signals: the handler only writes the signo byte to a pipe ---- */

/* One loop per process takes signals; -1 while none is set up. */
static volatile sig_atomic_t rx_sig_wfd = -1;

static void rx_signal_handler(int signo)
{
	int saved = errno;
	unsigned char byte = (unsigned char)signo;

	if (rx_sig_wfd != -1) {
		ssize_t n = write(rx_sig_wfd, &byte, 1);

		(void)n; /* non-blocking: a full pipe already holds a wake-up */
	}
	errno = saved;
}

static struct rx_sig *rx_signal_find(struct rx *rx, int signo)
{
	for (size_t i = 0; i < rx->nsigs; i++)
		if (rx->sigs[i].signo == signo)
			return &rx->sigs[i];
	return NULL;
}

static void rx_signal_dispatch(struct rx *rx, int signo)
{
	struct rx_sig *s = rx_signal_find(rx, signo);

	if (s)
		s->fn(rx, signo, s->arg);
}

static void rx_signal_drain(struct rx *rx, struct rx_io *io, unsigned events)
{
	unsigned char bytes[64];
	ssize_t n;

	(void)events;
	for (;;) {
		n = read(io->fd, bytes, sizeof(bytes));
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		for (ssize_t i = 0; i < n; i++)
			rx_signal_dispatch(rx, bytes[i]);
		if ((size_t)n < sizeof(bytes))
			return;
	}
}

static int rx_fd_nonblock_cloexec(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl == -1 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) == -1)
		return -errno;
	if (fcntl(fd, F_SETFD, FD_CLOEXEC) == -1)
		return -errno;
	return 0;
}

/* pipe + fcntl rather than pipe2: macOS, a kqueue target, lacks pipe2. */
static int rx_signal_pipe_open(struct rx *rx)
{
	int rc;

	if (pipe(rx->sig_pipe) == -1)
		return -errno;
	rc = rx_fd_nonblock_cloexec(rx->sig_pipe[0]);
	if (rc == 0)
		rc = rx_fd_nonblock_cloexec(rx->sig_pipe[1]);
	if (rc == 0)
		rc = rx_io_add(rx, &rx->sig_io, rx->sig_pipe[0], rx_signal_drain);
	if (rc != 0)
		return rc;
	rx->nios--; /* the pipe alone does not keep rx_run going */
	rx_io_want(rx, &rx->sig_io, RX_READ);
	return 0;
}

int rx_signal(struct rx *rx, int signo, rx_signal_fn fn, void *arg)
{
	struct rx_sig *s;
	struct sigaction sa;

	if (signo <= 0 || signo > UCHAR_MAX || !fn) /* the pipe carries one byte */
		return -EINVAL;
	s = rx_signal_find(rx, signo);
	if (!s && rx->nsigs == RX_MAX_SIGNALS)
		return -ENOSPC;
	rx_sig_wfd = rx->sig_pipe[1];
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = rx_signal_handler;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	if (sigaction(signo, &sa, NULL) == -1)
		return -errno;
	if (!s)
		s = &rx->sigs[rx->nsigs++];
	*s = (struct rx_sig){ .signo = signo, .fn = fn, .arg = arg };
	return 0;
}

/* Default actions come back before the pipe closes, so no handler writes
 * into a closed or reused fd. */
static void rx_signal_close(struct rx *rx)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < rx->nsigs; i++)
		sigaction(rx->sigs[i].signo, &sa, NULL);
	rx->nsigs = 0;
	if (rx_sig_wfd == rx->sig_pipe[1])
		rx_sig_wfd = -1;
	for (int i = 0; i < 2; i++)
		if (rx->sig_pipe[i] != -1)
			close(rx->sig_pipe[i]);
	rx->sig_pipe[0] = rx->sig_pipe[1] = -1;
}

/* ---- lifecycle ---- */

int rx_init(struct rx *rx)
{
	int rc;

	memset(rx, 0, sizeof(*rx));
	rx->os_fd = -1;
	rx->sig_pipe[0] = rx->sig_pipe[1] = -1;
	rx_update_time(rx);
	rc = rx_os_init(rx);
	if (rc != 0)
		return rc;
	rc = rx_signal_pipe_open(rx);
	if (rc != 0) {
		rx_signal_close(rx);
		rx_os_free(rx);
	}
	return rc;
}

void rx_free(struct rx *rx)
{
	rx_signal_close(rx);
	rx_os_free(rx);
	rx->dirty = rx->refused = NULL;
}

void rx_set_before_sleep(struct rx *rx, rx_hook_fn fn, void *arg)
{
	rx->before_sleep = fn;
	rx->before_sleep_arg = arg;
}

void rx_stop(struct rx *rx)
{
	rx->stop = true;
}

/* ---- the loop ---- */

static bool rx_alive(const struct rx *rx)
{
	return rx->nios > 0 || rx->timers.count > 0;
}

/* The caller's bound, shortened to the earliest deadline; 0 when work is
 * already pending, and never "forever" with nothing registered. */
static int rx_wait_timeout(const struct rx *rx, int timeout_ms)
{
	const struct rx_timer *t = rx->timers.min;

	if (rx->stop || rx->refused || (timeout_ms < 0 && !rx_alive(rx)))
		return 0;
	if (t) {
		uint64_t left = t->deadline_ms > rx->now_ms ? t->deadline_ms - rx->now_ms : 0;

		if (left > INT_MAX)
			left = INT_MAX;
		if (timeout_ms < 0 || (uint64_t)timeout_ms > left)
			timeout_ms = (int)left;
	}
	return timeout_ms;
}

/* Events are cut to the current want: another callback of this iteration
 * may have lowered it (backpressure), and the owner asked for nothing else. */
static void rx_dispatch_fired(struct rx *rx)
{
	struct rx_io *io;
	unsigned events;

	while ((io = rx_os_next(rx, &events)) != NULL) {
		events &= io->want;
		if (events)
			io->fn(rx, io, events);
	}
}

/* Refused ios go back on the dirty list first, so the change is retried
 * next iteration unless the callback changes or deletes it. */
static void rx_dispatch_refused(struct rx *rx)
{
	struct rx_io *io;

	while ((io = rx->refused) != NULL) {
		rx_list_unlink(rx, io);
		rx_list_push(&rx->dirty, io);
		if (io->want)
			io->fn(rx, io, io->want);
	}
}

/* One iteration, libuv's uv_run order: clock, due timers, the before-sleep
 * hook (flushes what the last dispatch and the timers queued, and may change
 * interest), interest applied, wait, clock, dispatch, then the timers the
 * wait was for, so a call that woke for a timer also runs it. */
int rx_run_once(struct rx *rx, int timeout_ms)
{
	int rc;

	rx_update_time(rx);
	rx_timers_run(rx);
	if (rx->before_sleep)
		rx->before_sleep(rx, rx->before_sleep_arg);
	rx_interest_apply(rx);
	rc = rx_os_wait(rx, rx_wait_timeout(rx, timeout_ms));
	rx_update_time(rx);
	if (rc < 0)
		return rc;
	rx_dispatch_fired(rx);
	rx_dispatch_refused(rx);
	rx_timers_run(rx);
	return 0;
}

int rx_settle(struct rx *rx)
{
	rx_update_time(rx);
	rx_timers_run(rx);
	if (rx->before_sleep)
		rx->before_sleep(rx, rx->before_sleep_arg);
	rx_interest_apply(rx);
	if (!rx->stop && !rx->refused && !rx->timers.min)
		return -1;
	return rx_wait_timeout(rx, -1);
}

int rx_run(struct rx *rx)
{
	int rc = 0;

	while (rc == 0 && !rx->stop && rx_alive(rx))
		rc = rx_run_once(rx, -1);
	rx->stop = false;
	return rc;
}
