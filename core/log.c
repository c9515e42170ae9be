/* log.c — levelled log lines to stderr, an append-only file or a callback.
 * Owns the process's sink and each thread's choice of sink; each line is
 * formatted on the stack and leaves in one write(2), never buffered. */
#include "core/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Longer lines are cut and end in "..."; 1 KiB stays under PIPE_BUF, so a
 * line written to a pipe is never interleaved with another writer's. */
#define LOG_LINE_MAX 1024

static struct log_sink log_process = {LOG_LEVEL_INFO, STDERR_FILENO, -1, NULL, NULL};
_Thread_local struct log_sink *log_now = &log_process;
enum log_level log_level_now = LOG_LEVEL_INFO;

static const char *const log_level_names[] = {
	[LOG_LEVEL_ERROR] = "error",
	[LOG_LEVEL_WARN] = "warn",
	[LOG_LEVEL_INFO] = "info",
	[LOG_LEVEL_DEBUG] = "debug",
	[LOG_LEVEL_TRACE] = "trace",
};

#define LOG_NLEVELS (sizeof(log_level_names) / sizeof(log_level_names[0]))

void log_sink_init(struct log_sink *s)
{
	*s = (struct log_sink){LOG_LEVEL_INFO, STDERR_FILENO, -1, NULL, NULL};
}

void log_sink_close(struct log_sink *s)
{
	if (s->fd != STDERR_FILENO)
		close(s->fd);
	s->fd = STDERR_FILENO;
}

struct log_sink *log_use(struct log_sink *s)
{
	struct log_sink *prev = log_now;
	log_now = s ? s : &log_process;
	return prev;
}

void log_set_level(enum log_level level)
{
	log_now->level = level;
	if (level > log_level_now || log_now == &log_process)
		log_level_now = level;
}

int log_level_parse(const char *name, enum log_level *out)
{
	for (size_t i = 0; i < LOG_NLEVELS; i++) {
		if (strcmp(name, log_level_names[i]) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	return -1;
}

int log_open_file(const char *path)
{
	int fd;

	do
		fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	while (fd == -1 && errno == EINTR);
	if (fd == -1)
		return -errno;
	if (log_now->fd != STDERR_FILENO)
		close(log_now->fd);
	log_now->fd = fd;
	return 0;
}

void log_set_timestamps(int on)
{
	log_now->timestamps = on ? 1 : 0;
}

static int log_wants_timestamp(const struct log_sink *s)
{
	if (s->timestamps == -1)
		return s->fd != STDERR_FILENO;
	return s->timestamps;
}

/* Days since 1970-01-01 -> civil date (H. Hinnant's days_from_civil
 * inverse): integer arithmetic only, so the static binary carries no
 * gmtime/strftime/tz code (several KiB of musl). */
static void log_civil(int64_t days, int *y, unsigned *m, unsigned *d)
{
	days += 719468;
	int64_t era = (days >= 0 ? days : days - 146096) / 146097;
	unsigned doe = (unsigned)(days - era * 146097);
	unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	unsigned mp = (5 * doy + 2) / 153;
	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = (int)(yoe + era * 400 + (*m <= 2));
}

/* UTC with milliseconds (ISO 8601): sortable, and no tz files to read. */
static size_t log_put_timestamp(char *out, size_t cap)
{
	struct timespec ts;
	int y;
	unsigned mo, d;

	if (clock_gettime(CLOCK_REALTIME, &ts) == -1)
		return 0;
	int64_t secs = (int64_t)ts.tv_sec, days = secs / 86400, rem = secs % 86400;
	if (rem < 0) {
		rem += 86400;
		days--;
	}
	log_civil(days, &y, &mo, &d);
	int n = snprintf(out, cap, "%04d-%02u-%02uT%02u:%02u:%02u.%03ldZ ", y, mo, d,
	                 (unsigned)(rem / 3600), (unsigned)(rem / 60 % 60), (unsigned)(rem % 60),
	                 ts.tv_nsec / 1000000L);
	return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}

/* "[timestamp ][wsferry: ]level: " — the program name only on stderr,
 * where other programs' lines mix with ours. */
static size_t log_put_prefix(const struct log_sink *s, char *out, size_t cap,
                             enum log_level level)
{
	size_t n = log_wants_timestamp(s) ? log_put_timestamp(out, cap) : 0;
	const char *name = (size_t)level < LOG_NLEVELS ? log_level_names[level] : "log";
	int w = snprintf(out + n, cap - n, "%s%s: ",
	                 s->fd == STDERR_FILENO ? "wsferry: " : "", name);

	return w < 0 ? n : n + (size_t)w;
}

/* Formats into out[0..cap) keeping the NUL inside; a cut ends in "...". */
static size_t log_put_message(char *out, size_t cap, const char *fmt, va_list ap)
{
	int w;

	if (cap < 4)
		return 0;
	w = vsnprintf(out, cap, fmt, ap);
	if (w < 0)
		return 0;
	if ((size_t)w < cap)
		return (size_t)w;
	memcpy(out + cap - 4, "...", 3);
	return cap - 1;
}

/* Logging never blocks the loop: EINTR is retried, a short write or a full
 * pipe loses the rest of the line rather than retrying. */
static void log_emit(const struct log_sink *s, const char *line, size_t len)
{
	while (write(s->fd, line, len) == -1 && errno == EINTR)
		;
}

/* err < 0 means no errno suffix. The suffix is kept whole: only the message
 * is cut. errno is saved so a log call never disturbs the caller's check. */
static void log_vwrite(enum log_level level, int err, const char *fmt, va_list ap)
{
	char line[LOG_LINE_MAX], suffix[128] = "";
	size_t len, room, slen = 0;
	int saved = errno;

	if (err >= 0) {
		int w = snprintf(suffix, sizeof(suffix), ": %s", strerror(err));

		slen = w < 0 ? 0 : (size_t)w < sizeof(suffix) ? (size_t)w : sizeof(suffix) - 1;
	}
	const struct log_sink *s = log_now;
	len = s->fn ? 0 : log_put_prefix(s, line, sizeof(line), level);
	room = sizeof(line) - len - slen; /* includes the byte kept for '\n' */
	len += log_put_message(line + len, room, fmt, ap);
	memcpy(line + len, suffix, slen);
	len += slen;
	if (s->fn) {
		line[len] = '\0'; /* the byte kept for '\n' */
		s->fn(s->arg, level, line, len);
	} else {
		line[len++] = '\n';
		log_emit(s, line, len);
	}
	errno = saved;
}

void log_write(enum log_level level, const char *fmt, ...)
{
	va_list ap;

	if (level > log_now->level)
		return;
	va_start(ap, fmt);
	log_vwrite(level, -1, fmt, ap);
	va_end(ap);
}

/* Core functions return -errno: either sign names the same error. */
void log_write_errno(enum log_level level, int err, const char *fmt, ...)
{
	va_list ap;

	if (level > log_now->level)
		return;
	va_start(ap, fmt);
	log_vwrite(level, err < 0 ? -err : err, fmt, ap);
	va_end(ap);
}
