/* rx.h — the reactor: one loop per process over fds, timers and signals.
 * Owns the OS poller (epoll or kqueue, one backend file each) and the timer heap;
 * never owns the fds or the structs that embed rx_io / rx_timer. */
#ifndef WSF_CORE_RX_H
#define WSF_CORE_RX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct rx;
struct rx_io;
struct rx_timer;

enum {
	RX_READ = 1,  /* readable, or peer half-closed, or error */
	RX_WRITE = 2, /* writable, or error */
};

/* Called with the fired subset of RX_READ|RX_WRITE, cut to the io's current
 * interest. Errors and hangups are reported as readable+writable so the next
 * read/write sees the cause. The callback MAY rx_io_del() and free its owner
 * (even other ios' owners): fired entries of a deleted io are invalidated
 * before they are dispatched. */
typedef void (*rx_io_fn)(struct rx *rx, struct rx_io *io, unsigned events);
typedef void (*rx_timer_fn)(struct rx *rx, struct rx_timer *t);
typedef void (*rx_signal_fn)(struct rx *rx, int signo, void *arg);
typedef void (*rx_hook_fn)(struct rx *rx, void *arg);

/* Embedded in its owner; zero it before rx_io_add. Fields are private. */
struct rx_io {
	int fd;
	unsigned want;     /* interest asked for by the owner */
	unsigned applied;  /* interest the OS poller holds */
	rx_io_fn fn;
	struct rx_io *dirty_next, *dirty_prev;
	bool dirty;
};

/* Intrusive min-heap node (libuv heap-inl.h shape): arming never mallocs.
 * Zero it before the first arm. Fields are private. */
struct rx_timer {
	uint64_t deadline_ms;
	struct rx_timer *parent, *left, *right;
	rx_timer_fn fn;
	bool armed;
};

#define RX_MAX_SIGNALS 8
#define RX_MAX_EVENTS 256 /* fired events taken per wait */

struct rx_sig {
	int signo;
	rx_signal_fn fn;
	void *arg;
};

struct rx_timer_heap {
	struct rx_timer *min;
	size_t count;
};

struct rx {
	int os_fd;                 /* epoll or kqueue descriptor */
	void *os_events;           /* backend's fired-event array */
	int os_nfired, os_cursor;  /* dispatch position in os_events */
	uint64_t now_ms;           /* monotonic, cached per iteration */
	struct rx_timer_heap timers;
	struct rx_io *dirty;       /* ios whose want != applied */
	struct rx_io *refused;     /* ios the poller refused: dispatched as ready */
	struct rx_io sig_io;       /* self-pipe read end */
	int sig_pipe[2];
	struct rx_sig sigs[RX_MAX_SIGNALS];
	size_t nsigs;
	rx_hook_fn before_sleep;
	void *before_sleep_arg;
	size_t nios;               /* registered ios (for leak checks in tests) */
	bool stop;
};

/* 0 or -errno. rx_free releases only what rx_init made. */
int rx_init(struct rx *rx);
void rx_free(struct rx *rx);

/* Runs until rx_stop() or no io and no timer is left. 0 or -errno (poller
 * failure). rx_run_once waits at most timeout_ms (-1: until an event). */
int rx_run(struct rx *rx);
int rx_run_once(struct rx *rx, int timeout_ms);
void rx_stop(struct rx *rx);

/* For a program whose own loop sleeps (bin/lib.c), on os_fd (epoll and
 * kqueue descriptors are themselves pollable: readable while an event is
 * pending): runs due timers and the before-sleep hook and hands the poller
 * every interest, so os_fd alone says when to call rx_run_once(rx, 0)
 * again; returns the longest the caller may sleep before that (ms; -1:
 * until os_fd is readable). */
int rx_settle(struct rx *rx);

/* Monotonic milliseconds cached at the start of the current iteration. */
uint64_t rx_now(const struct rx *rx);
/* Refreshes the cache (after a long callback). */
void rx_update_time(struct rx *rx);

/* Registers a non-blocking fd with no interest yet. 0 or -errno. */
int rx_io_add(struct rx *rx, struct rx_io *io, int fd, rx_io_fn fn);
/* Sets the interest mask; applied right before the next wait, at most one
 * poller call per fd per iteration. An fd the poller refuses (a regular file
 * under epoll) is reported ready each iteration, as poll(2) would. */
void rx_io_want(struct rx *rx, struct rx_io *io, unsigned mask);
/* Unregisters; MUST be called before close(fd). Safe inside any callback. */
void rx_io_del(struct rx *rx, struct rx_io *io);
/* Unregisters and closes the io's fd (once registered; a never-added io is
 * left alone): the close drops the fd from the poller's set by itself, one
 * syscall fewer than rx_io_del + close, which a tunnel pays per socket.
 * Only for fds no other descriptor or process shares (no dup, no fork
 * after it was opened), where a close really releases the socket. */
void rx_io_close(struct rx *rx, struct rx_io *io);

/* Arms (or re-arms) t->fn to run at absolute monotonic deadline_ms. */
void rx_timer_arm(struct rx *rx, struct rx_timer *t, uint64_t deadline_ms, rx_timer_fn fn);
void rx_timer_cancel(struct rx *rx, struct rx_timer *t);

/* Folds a signal into the loop: fn runs from the loop, not the handler.
 * 0 or -errno (-ENOSPC past RX_MAX_SIGNALS). */
int rx_signal(struct rx *rx, int signo, rx_signal_fn fn, void *arg);

/* One hook run after dispatch, before the next wait (batched flushes). */
void rx_set_before_sleep(struct rx *rx, rx_hook_fn fn, void *arg);

#endif
