/* log.h — levelled logging to stderr or a file, one write(2) per line.
 * Owns the sinks (level, output fd or callback); never formats below the
 * level. Lines about a connection start with its id ("c42 "), by the
 * caller's format. */
#ifndef WSF_CORE_LOG_H
#define WSF_CORE_LOG_H

#include <stddef.h>

enum log_level {
	LOG_LEVEL_ERROR = 0,
	LOG_LEVEL_WARN,
	LOG_LEVEL_INFO,
	LOG_LEVEL_DEBUG,
	LOG_LEVEL_TRACE,
};

/* Receives each line instead of the fd: msg is the message alone (no
 * prefix, no newline), NUL-terminated, len bytes. */
typedef void (*log_line_fn)(void *arg, enum log_level level, const char *msg, size_t len);

/* Where lines go and from which level. The process has one (stderr, info);
 * an embedding program gives each instance its own (bin/lib.c). */
struct log_sink {
	enum log_level level;
	int fd;         /* STDERR_FILENO, or the --log-file */
	int timestamps; /* -1: on only while logging to a file */
	log_line_fn fn; /* when set, lines go here and never to fd */
	void *arg;
};

/* The calling thread's sink: the process's unless log_use said otherwise.
 * Per thread, so two instances running in two threads never mix lines. */
extern _Thread_local struct log_sink *log_now;
/* The cheap check before formatting, one int for the whole process: the
 * process sink's level, raised by any other sink's (log_write then filters
 * by the current sink's own level). */
extern enum log_level log_level_now;

/* A sink as the process's starts: info, stderr, timestamps only to a file. */
void log_sink_init(struct log_sink *s);
/* Closes its --log-file, if any. */
void log_sink_close(struct log_sink *s);
/* Makes s (NULL: the process's) the calling thread's sink; returns the one
 * it replaces, for the caller to restore. */
struct log_sink *log_use(struct log_sink *s);

#define LOG_FMT __attribute__((format(printf, 2, 3)))

/* These three change the calling thread's current sink. */
void log_set_level(enum log_level level);
/* "error|warn|info|debug|trace" -> 0 and *out, or -1 for anything else. */
int log_level_parse(const char *name, enum log_level *out);
/* Appends to path (created 0600). 0 or -errno; stderr stays on failure. */
int log_open_file(const char *path);
/* Prefixes every line with a timestamp (default: only when logging to a file). */
void log_set_timestamps(int on);

void log_write(enum log_level level, const char *fmt, ...) LOG_FMT;
/* Appends ": strerror(err)" to the line. */
void log_write_errno(enum log_level level, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#define log_at(lvl, ...)                                                     \
	do {                                                                     \
		if ((lvl) <= log_level_now)                                          \
			log_write((lvl), __VA_ARGS__);                                   \
	} while (0)

#define log_error(...) log_at(LOG_LEVEL_ERROR, __VA_ARGS__)
#define log_warn(...) log_at(LOG_LEVEL_WARN, __VA_ARGS__)
#define log_info(...) log_at(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_debug(...) log_at(LOG_LEVEL_DEBUG, __VA_ARGS__)
/* trace costs nothing unless built with make DEBUG=1 */
#if WSF_DEBUG
#define log_trace(...) log_at(LOG_LEVEL_TRACE, __VA_ARGS__)
#else
#define log_trace(...) ((void)0)
#endif

#define log_error_errno(err, ...)                                            \
	do {                                                                     \
		if (LOG_LEVEL_ERROR <= log_level_now)                                \
			log_write_errno(LOG_LEVEL_ERROR, (err), __VA_ARGS__);            \
	} while (0)
#define log_warn_errno(err, ...)                                             \
	do {                                                                     \
		if (LOG_LEVEL_WARN <= log_level_now)                                 \
			log_write_errno(LOG_LEVEL_WARN, (err), __VA_ARGS__);             \
	} while (0)

#endif
