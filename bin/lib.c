/* lib.c — libwsferry (include/wsferry.h): `wsferry client` or `wsferry
 * server` as an instance inside another program. Owns each instance's
 * settings (parsed by the command's own option code), log sink, wake-up
 * pipe and lock; never installs a signal handler, forks or exits. */
#include "include/wsferry.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bin/cmd.h"
#include "core/buf.h"
#include "core/log.h"
#include "core/rx.h"
#include "core/splice.h"
#include "proto/auth.h"
#include "tun/client/client.h"
#include "tun/conn.h"
#include "tun/relay.h"
#include "tun/server/server.h"

struct wsferry {
	pthread_mutex_t lock; /* recursive: a callback may call back in */
	struct wsferry_callbacks cb;
	struct log_sink log;
	struct conn_events events;
	struct client_cmd *cc; /* the role's settings: one of the two */
	struct server_cmd *sc;
	struct client *client; /* from wsferry_start on: one of the two */
	struct server *server;
	struct rx *rx;
	struct auth_keys keys; /* --key: the settings point here, not at key.c's slot */
	char **argv;           /* our copy: settings point into it */
	int wake[2];           /* wsferry_stop's byte, and add/remove's nudge */
	struct rx_io wake_io;
	atomic_int stop_asked;  /* lock-free: safe from threads and signal handlers */
	bool stopped;
	uint32_t removed;      /* tunnels whose listener was closed, by number */
};

/* ---- entering an instance: its lock and, on this thread, its log sink ---- */

static struct log_sink *enter(wsferry *w)
{
	pthread_mutex_lock(&w->lock);
	return log_use(&w->log);
}

static void leave(wsferry *w, struct log_sink *prev)
{
	log_use(prev);
	pthread_mutex_unlock(&w->lock);
}

static void lib_log(void *arg, enum log_level level, const char *msg, size_t len)
{
	wsferry *w = arg;
	(void)len;
	w->cb.log(w->cb.arg, (enum wsferry_level)level, msg);
}

static void lib_tell(void *arg, const struct relay *r, bool open)
{
	wsferry *w = arg;
	struct wsferry_event ev = {.type = open ? WSFERRY_TUNNEL_OPENED : WSFERRY_TUNNEL_CLOSED,
	                           .id = relay_id(r)};
	if (!open) {
		ev.bytes_out = relay_bytes_up(r);
		ev.bytes_in = relay_bytes_down(r);
		ev.error = relay_broke(r);
	}
	w->cb.event(w->cb.arg, &ev);
}

/* ---- creation ---- */

/* One block: the pointer array, then the strings (parsing may overwrite a
 * secret's bytes in it, never the caller's). */
static char **argv_copy(int argc, const char *const *argv)
{
	size_t size = (size_t)(argc + 1) * sizeof(char *);
	for (int i = 0; i < argc; i++)
		size += strlen(argv[i]) + 1;
	char **copy = malloc(size);
	if (!copy)
		return NULL;
	char *p = (char *)(copy + argc + 1);
	for (int i = 0; i < argc; i++) {
		size_t n = strlen(argv[i]) + 1;
		copy[i] = memcpy(p, argv[i], n);
		p += n;
	}
	copy[argc] = NULL;
	return copy;
}

/* key.c derives into one slot per thread, which the next instance made on
 * this thread would overwrite: the instance keeps its own copy. */
static void own_keys(wsferry *w, const struct auth_keys **keys)
{
	if (*keys) {
		w->keys = **keys;
		*keys = &w->keys;
	}
}

static int parse_role(wsferry *w, const char *role, int argc)
{
	if (role && strcmp(role, "client") == 0) {
		if (!(w->cc = calloc(1, sizeof(*w->cc))))
			return -1;
		w->cc->lib = true;
		if (client_cmd_parse(w->cc, argc, w->argv) != 0)
			return -1;
		own_keys(w, &w->cc->cfg.keys);
		return 0;
	}
	if (role && strcmp(role, "server") == 0) {
		if (!(w->sc = calloc(1, sizeof(*w->sc))))
			return -1;
		w->sc->lib = true;
		if (server_cmd_parse(w->sc, argc, w->argv) != 0)
			return -1;
		own_keys(w, &w->sc->cfg.keys);
		if (w->sc->cfg.workers > 1) /* forks and signals are the program's */
			return opts_usage_error("--workers", "one process inside a program"), -1;
		return 0;
	}
	log_error("role %s: client or server", role ? role : "(null)");
	return -1;
}

static void lib_release(wsferry *w)
{
	if (w->cc)
		client_cmd_free(w->cc);
	if (w->sc)
		free(w->sc->conf_text);
	explicit_bzero(&w->keys, sizeof(w->keys));
	free(w->cc);
	free(w->sc);
	free(w->argv);
	for (int i = 0; i < 2; i++)
		if (w->wake[i] >= 0)
			close(w->wake[i]);
	log_sink_close(&w->log);
	pthread_mutex_destroy(&w->lock);
	free(w);
}

wsferry *wsferry_new(const char *role, int argc, const char *const *argv,
                     const struct wsferry_callbacks *cb)
{
	wsferry *w = calloc(1, sizeof(*w));
	if (!w)
		return NULL;
	pthread_mutexattr_t attr;
	pthread_mutexattr_init(&attr);
	pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
	pthread_mutex_init(&w->lock, &attr);
	pthread_mutexattr_destroy(&attr);
	w->wake[0] = w->wake[1] = -1;
	log_sink_init(&w->log);
	if (cb)
		w->cb = *cb;
	if (w->cb.log) {
		w->log.fn = lib_log;
		w->log.arg = w;
	}
	w->events = (struct conn_events){lib_tell, w};
	struct log_sink *prev = log_use(&w->log);
	int rc = argc < 0 || !(w->argv = argv_copy(argc, argv)) ? -1 : 0;
	if (rc == 0)
		rc = parse_role(w, role, argc);
	if (rc == 0 && pipe2(w->wake, O_NONBLOCK | O_CLOEXEC) == -1) {
		log_error_errno(errno, "wake-up pipe");
		rc = -1;
	}
	log_use(prev);
	if (rc < 0) {
		lib_release(w);
		return NULL;
	}
	return w;
}

/* ---- the loop ---- */

static void lib_stop_now(wsferry *w)
{
	if (w->stopped)
		return;
	w->stopped = true;
	if (w->client)
		client_stop(w->client);
	else
		server_stop(w->server);
}

static void on_wake(struct rx *rx, struct rx_io *io, unsigned events)
{
	wsferry *w = (wsferry *)((char *)io - offsetof(wsferry, wake_io));
	char drain[64];
	(void)rx;
	(void)events;
	while (read(w->wake[0], drain, sizeof(drain)) > 0)
		;
	if (atomic_load(&w->stop_asked))
		lib_stop_now(w);
}

int wsferry_start(wsferry *w)
{
	struct log_sink *prev = enter(w);
	int rc = -1;
	if (w->rx) {
		log_error("wsferry_start: already started");
	} else if (w->cc && (w->client = client_new(&w->cc->cfg))) {
		w->rx = client_rx(w->client);
		client_conns(w->client)->events = w->cb.event ? &w->events : NULL;
		rc = 0;
	} else if (w->sc && (w->server = server_new(&w->sc->cfg))) {
		w->rx = server_rx(w->server);
		server_conns(w->server)->events = w->cb.event ? &w->events : NULL;
		rc = 0;
	}
	if (rc == 0 && rx_io_add(w->rx, &w->wake_io, w->wake[0], on_wake) == 0) {
		rx_io_want(w->rx, &w->wake_io, RX_READ);
		rx_settle(w->rx);
	}
	leave(w, prev);
	return rc;
}

int wsferry_fd(const wsferry *w)
{
	return w->rx ? w->rx->os_fd : -1;
}

int wsferry_timeout(wsferry *w)
{
	struct log_sink *prev = enter(w);
	int t = w->rx && !w->stopped ? rx_settle(w->rx) : 0;
	leave(w, prev);
	return t;
}

/* The wait happens outside the lock, so other threads may add, remove or
 * stop meanwhile (each nudges the wake-up pipe, which ends the wait). */
int wsferry_run_once(wsferry *w, int timeout_ms)
{
	if (!w->rx)
		return -1;
	if (timeout_ms != 0) {
		int t = wsferry_timeout(w);
		if (t < 0 || (timeout_ms >= 0 && timeout_ms < t))
			t = timeout_ms;
		struct pollfd p = {.fd = w->rx->os_fd, .events = POLLIN};
		if (t != 0 && poll(&p, 1, t) == -1 && errno != EINTR) /* 0 once stopped */
			return -1;
	}
	struct log_sink *prev = enter(w);
	int rc = w->stopped ? 0 : rx_run_once(w->rx, 0);
	if (rc == 0 && !w->stopped)
		rx_settle(w->rx);
	int ret = w->stopped ? 1 : rc < 0 ? -1 : 0;
	leave(w, prev);
	return ret;
}

int wsferry_run(wsferry *w)
{
	int rc;
	while ((rc = wsferry_run_once(w, -1)) == 0)
		;
	/* This thread's cached buffers and pipes (core/buf.c, splice.c). */
	buf_pool_drain();
	splice_pool_drain();
	return rc == 1 ? 0 : -1;
}

static void nudge(wsferry *w)
{
	while (write(w->wake[1], "", 1) == -1 && errno == EINTR)
		;
}

void wsferry_stop(wsferry *w)
{
	atomic_store(&w->stop_asked, 1);
	nudge(w);
}

/* ---- tunnels ---- */

/* "-L SPEC", "--local SPEC" or "--local=SPEC" into flag and spec. */
static int split_spec(const char *spec, char *flag, size_t cap, const char **value)
{
	size_t n = strcspn(spec, " \t=");
	if (n == 0 || n >= cap)
		return -1;
	memcpy(flag, spec, n);
	flag[n] = '\0';
	const char *v = spec + n;
	v += strspn(v, spec[n] == '=' ? "=" : " \t");
	*value = v;
	return *v ? 0 : -1;
}

static struct fwd *tunnel_of(wsferry *w, int tunnel)
{
	if (!w->cc || tunnel < 0 || (size_t)tunnel >= w->cc->cfg.nfwds)
		return NULL;
	return &w->cc->cfg.fwds[tunnel];
}

int wsferry_tunnel_add(wsferry *w, const char *spec)
{
	struct log_sink *prev = enter(w);
	char flag[32];
	const char *value, *why = "";
	int id = -1;
	if (!w->cc)
		log_error("%s: tunnels are added to a client", spec);
	else if (w->stopped)
		log_error("%s: the instance is stopped", spec);
	else if (split_spec(spec, flag, sizeof(flag), &value) < 0)
		log_error("%s: expected a flag and its value, e.g. -L 127.0.0.1:0:HOST:PORT", spec);
	else if ((why = "not a tunnel flag (-D, -L, -R, --redirect, --tproxy)",
	          client_cmd_add_fwd(w->cc, flag, value, &why) < 0))
		log_error("%s: %s", spec, why);
	else
		id = (int)w->cc->cfg.nfwds - 1;
	if (id >= 0 && w->client) {
		struct fwd *f = &w->cc->cfg.fwds[id];
		if (client_fwd_start(w->client, f) < 0) {
			client_fwd_stop(w->client, f); /* --tproxy: its TCP half may be up */
			w->cc->cfg.nfwds--;
			id = -1;
		} else {
			rx_settle(w->rx);
			nudge(w); /* a thread asleep in wsferry_run recomputes its timeout */
		}
	}
	leave(w, prev);
	return id;
}

int wsferry_tunnel_port(wsferry *w, int tunnel)
{
	struct log_sink *prev = enter(w);
	const struct fwd *f = tunnel_of(w, tunnel);
	int port = -1;
	if (f && w->client && f->kind != FWD_REMOTE && !(w->removed & (1u << tunnel)))
		port = client_fwd_port(w->client, f);
	leave(w, prev);
	return port;
}

int wsferry_tunnel_remove(wsferry *w, int tunnel)
{
	struct log_sink *prev = enter(w);
	const struct fwd *f = tunnel_of(w, tunnel);
	int rc = -1;
	if (!f || !w->client || (w->removed & (1u << tunnel)))
		log_error("tunnel %d: no such tunnel open", tunnel);
	else if (client_fwd_stop(w->client, f) < 0)
		log_error("%s: only -D, -L (TCP) and --redirect tunnels can be removed", f->spec);
	else {
		w->removed |= 1u << tunnel;
		log_info("%s: removed", f->spec);
		rx_settle(w->rx);
		nudge(w);
		rc = 0;
	}
	leave(w, prev);
	return rc;
}

/* ---- the end ---- */

void wsferry_free(wsferry *w)
{
	if (!w)
		return;
	struct log_sink *prev = enter(w);
	if (w->rx) {
		lib_stop_now(w); /* closed events, while callbacks are still safe */
		rx_io_del(w->rx, &w->wake_io);
	}
	if (w->client)
		client_free(w->client);
	if (w->server)
		server_close(w->server);
	leave(w, prev);
	lib_release(w);
}
