/* wsferry.h — wsferry as a library (libwsferry.a): a tunnel client or
 * server inside another program, in its event loop or in a thread of its
 * own. The one public header; everything else in the tree is private.
 * Manual: wsferry(3). Link: -lwsferry -lbearssl [-lsqlite3] -lpthread. */
#ifndef WSFERRY_H
#define WSFERRY_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* One client or server: its own event loop (an epoll or kqueue descriptor),
 * settings, connections and log sink. Any number may live in one process. */
typedef struct wsferry wsferry;

enum wsferry_level {
	WSFERRY_LOG_ERROR = 0,
	WSFERRY_LOG_WARN,
	WSFERRY_LOG_INFO,
	WSFERRY_LOG_DEBUG,
	WSFERRY_LOG_TRACE,
};

/* One log line of this instance: the message alone (no program name, no
 * level word, no newline). Without it, lines go to stderr (or --log-file)
 * exactly as the wsferry command writes them. */
typedef void (*wsferry_log_fn)(void *arg, enum wsferry_level level, const char *msg);

enum wsferry_event_type {
	WSFERRY_TUNNEL_OPENED, /* bytes may flow (the server's 101 arrived / was sent) */
	WSFERRY_TUNNEL_CLOSED, /* once after OPENED, with the bytes it moved */
};

struct wsferry_event {
	enum wsferry_event_type type;
	unsigned id;           /* the connection id the log lines show ("c42") */
	uint64_t bytes_out;    /* CLOSED: read from the local TCP side into the tunnel */
	uint64_t bytes_in;     /* CLOSED: from the tunnel written to the TCP side */
	const char *error;     /* CLOSED: NULL for a clean end, else why it broke */
};

typedef void (*wsferry_event_fn)(void *arg, const struct wsferry_event *ev);

struct wsferry_callbacks {
	wsferry_log_fn log;     /* may be NULL */
	wsferry_event_fn event; /* may be NULL */
	void *arg;              /* passed to both */
};

/* Reads role ("client" or "server") and the options of `wsferry client` or
 * `wsferry server` (wsferry(1); argv holds no program name and no
 * subcommand: {"ws://host:8080", "--key-file", "k", "-L", "..."}; -c FILE
 * works too). argv is copied: the caller's strings are neither kept nor
 * changed. cb (copied; NULL for none) receives this instance's lines from
 * now on, option errors included. Binds nothing yet. NULL on a bad option
 * (reported through cb->log, or on stderr) or out of memory. */
wsferry *wsferry_new(const char *role, int argc, const char *const *argv,
                     const struct wsferry_callbacks *cb);

/* Sets up: resolves, loads certificates, binds every listener, starts -R
 * registrations. 0, or -1 after logging why (then only wsferry_free). */
int wsferry_start(wsferry *w);

/* Runs the loop until wsferry_stop (from any thread, or a callback). 0, or
 * -1 when the poller failed. For a thread of its own. */
int wsferry_run(wsferry *w);

/* For a program with its own loop: the descriptor to watch for reading
 * (the instance's epoll/kqueue fd; valid from wsferry_start on). */
int wsferry_fd(const wsferry *w);
/* Does what is due, waiting at most timeout_ms (0: never, -1: until
 * something happens) on the instance's own descriptor. 0 while running,
 * 1 once stopped, -1 when the poller failed. */
int wsferry_run_once(wsferry *w, int timeout_ms);
/* How long the program may sleep on wsferry_fd before the next
 * wsferry_run_once (ms; -1: until the descriptor is readable). */
int wsferry_timeout(wsferry *w);

/* Asks the instance to stop: listeners and every connection close in the
 * loop's next turn, and wsferry_run returns. Thread-safe and
 * async-signal-safe (it writes one byte to a pipe); idempotent. */
void wsferry_stop(wsferry *w);

/* Client only. spec is a tunnel flag and its value as on the command line:
 * "-L 127.0.0.1:0:example.com:80", "-D 1080", "-R 8022:localhost:22",
 * "--redirect 12345"; a local bind port 0 lets the kernel pick one. Before
 * wsferry_start it joins the tunnels of argv, after it opens at once.
 * Returns the tunnel's number (those of argv are 0, 1, ... in order), or -1
 * after logging why. At most 32 tunnels over the instance's life. */
int wsferry_tunnel_add(wsferry *w, const char *spec);
/* The local port the tunnel listens on (the kernel's choice for port 0),
 * or -1 (no such tunnel, not started, or no local listener: -R). */
int wsferry_tunnel_port(wsferry *w, int tunnel);
/* Closes the tunnel's listener: no new connection; those it accepted run
 * to their end. -D, -L (TCP) and --redirect only; 0 or -1. */
int wsferry_tunnel_remove(wsferry *w, int tunnel);

/* Stops if needed and frees everything: sockets, memory, --log-file.
 * MUST NOT run while another thread is inside wsferry_run (stop, join,
 * then free) and never from a callback. NULL is ignored. */
void wsferry_free(wsferry *w);

#ifdef __cplusplus
}
#endif

#endif
