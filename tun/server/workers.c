/* workers.c — --workers N: N processes each with its own reactor share the
 * listening ports (SO_REUSEPORT, so the kernel spreads connections); this
 * parent only supervises: restarts a worker that dies, passes SIGHUP on,
 * and on SIGTERM/SIGINT passes the signal on (SIGTERM: each worker drains)
 * and waits; a second one is passed on too (stop at once). */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "tun/server/workers.h"

#define WORKERS_MAX 64
#define RESTART_FAST_S 2   /* a worker that dies sooner than this is crashing at start */
#define RESTART_GIVE_UP 5  /* ... this many times in a row: stop, something is wrong */

static volatile sig_atomic_t got_stop, got_hup, stop_signo;

static void on_signal(int signo)
{
	if (signo == SIGHUP) {
		got_hup = 1;
	} else {
		got_stop++;
		stop_signo = signo;
	}
}

/* A stop that arrives between fork() and the worker's own handlers would
 * meet this parent's handler in the child (a flag nobody reads there) and
 * be lost: the signals stay blocked across fork and the worker unblocks
 * them once its reactor owns them (server.c), so a pending one
 * becomes an orderly stop. */
static pid_t spawn(const struct server_config *cfg, const struct server_shared *sh,
                   server_worker_fn run, unsigned i)
{
	sigset_t stops, old;
	sigemptyset(&stops);
	sigaddset(&stops, SIGTERM);
	sigaddset(&stops, SIGINT);
	sigaddset(&stops, SIGHUP);
	sigprocmask(SIG_BLOCK, &stops, &old);
	/* The child runs with them blocked until server_worker_run unblocks. */
	pid_t pid = fork();
	if (pid == 0) {
		signal(SIGTERM, SIG_DFL);
		signal(SIGINT, SIG_DFL);
		signal(SIGHUP, SIG_DFL);
		_exit(run(cfg, sh, i));
	}
	sigprocmask(SIG_SETMASK, &old, NULL);
	if (pid > 0)
		log_info("worker %u started (pid %ld)", i, (long)pid);
	else
		log_error_errno(errno, "worker %u: fork", i);
	return pid;
}

static void signal_all(const pid_t *pids, unsigned n, int signo)
{
	for (unsigned i = 0; i < n; i++)
		if (pids[i] > 0)
			kill(pids[i], signo);
}

static int index_of(const pid_t *pids, unsigned n, pid_t pid)
{
	for (unsigned i = 0; i < n; i++)
		if (pids[i] == pid)
			return (int)i;
	return -1;
}

/* Waits for every worker after a stop; 0 when all ended cleanly. A stop
 * signal meanwhile (a draining worker's "stop now") is passed on. */
static int reap_all(pid_t *pids, unsigned n)
{
	int rc = 0;
	sig_atomic_t seen = got_stop;
	for (unsigned i = 0; i < n; i++) {
		int st;
		if (pids[i] <= 0)
			continue;
		while (waitpid(pids[i], &st, 0) == -1 && errno == EINTR) {
			if (got_stop != seen) {
				seen = got_stop;
				signal_all(pids, n, stop_signo);
			}
		}
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
			rc = 1;
		pids[i] = 0;
	}
	return rc;
}

int server_supervise(const struct server_config *cfg, const struct server_shared *sh,
                     server_worker_fn run)
{
	pid_t pids[WORKERS_MAX] = {0};
	time_t started[WORKERS_MAX] = {0};
	unsigned n = cfg->workers > WORKERS_MAX ? WORKERS_MAX : cfg->workers, fast_deaths = 0;
	struct sigaction sa = {.sa_handler = on_signal};
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	for (unsigned i = 0; i < n; i++) {
		pids[i] = spawn(cfg, sh, run, i);
		started[i] = time(NULL);
	}
	while (!got_stop) {
		int st;
		pid_t pid = waitpid(-1, &st, 0);
		if (got_hup) {
			got_hup = 0;
			signal_all(pids, n, SIGHUP);
		}
		if (pid <= 0)
			continue; /* EINTR from a signal */
		int i = index_of(pids, n, pid);
		if (i < 0 || got_stop)
			continue;
		bool fast = time(NULL) - started[i] < RESTART_FAST_S;
		log_warn("worker %d (pid %ld) %s %d; restarting", i, (long)pid,
		         WIFSIGNALED(st) ? "killed by signal" : "exited with",
		         WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
		fast_deaths = fast ? fast_deaths + 1 : 0;
		if (fast_deaths >= RESTART_GIVE_UP) {
			log_error("workers keep dying at start: stopping");
			pids[i] = 0;
			signal_all(pids, n, SIGTERM);
			reap_all(pids, n);
			return 1;
		}
		if (fast)
			sleep(1); /* a crash loop must not spin */
		pids[i] = spawn(cfg, sh, run, (unsigned)i);
		started[i] = time(NULL);
	}
	log_info("stopping %u workers", n);
	signal_all(pids, n, stop_signo == SIGINT ? SIGINT : SIGTERM);
	return reap_all(pids, n);
}
