/* log_test.c — logging to a file: level parsing and filtering, the line
 * format with and without timestamps, truncation of long lines, the errno
 * variant, and that a log call leaves errno alone. */
#include "core/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test/check.h"

static char log_path[64];

/* Points the log at a fresh file, removing the previous one. */
static void fresh_log(void)
{
	int fd;

	if (log_path[0])
		unlink(log_path);
	snprintf(log_path, sizeof(log_path), "/tmp/log_test_XXXXXX");
	fd = mkstemp(log_path);
	if (fd != -1)
		close(fd);
	CHECK_EQ_INT(log_open_file(log_path), 0);
}

/* Reads the whole log file into buf (NUL-terminated); returns its length. */
static size_t slurp(char *buf, size_t cap)
{
	int fd = open(log_path, O_RDONLY);
	ssize_t n = fd == -1 ? -1 : read(fd, buf, cap - 1);

	if (fd != -1)
		close(fd);
	n = n < 0 ? 0 : n;
	buf[n] = '\0';
	return (size_t)n;
}

/* Before any file is opened: stderr lines carry the program name and no
 * timestamp. Checked in a child whose stderr is a pipe. */
static void test_stderr_format(void)
{
	char buf[256] = "";
	int p[2];
	pid_t pid;
	ssize_t n;

	CHECK_EQ_INT(pipe(p), 0);
	pid = fork();
	if (pid == 0) {
		dup2(p[1], STDERR_FILENO);
		log_error("c1 %s", "x");
		log_debug("hidden");
		_exit(0);
	}
	close(p[1]);
	waitpid(pid, NULL, 0);
	n = read(p[0], buf, sizeof(buf) - 1);
	close(p[0]);
	CHECK_EQ_INT(n, (ssize_t)strlen("wsferry: error: c1 x\n"));
	CHECK(strcmp(buf, "wsferry: error: c1 x\n") == 0);
}

static void test_level_parse(void)
{
	enum log_level l = LOG_LEVEL_ERROR;

	CHECK_EQ_INT(log_level_parse("error", &l), 0);
	CHECK_EQ_INT(l, LOG_LEVEL_ERROR);
	CHECK_EQ_INT(log_level_parse("warn", &l), 0);
	CHECK_EQ_INT(l, LOG_LEVEL_WARN);
	CHECK_EQ_INT(log_level_parse("info", &l), 0);
	CHECK_EQ_INT(l, LOG_LEVEL_INFO);
	CHECK_EQ_INT(log_level_parse("debug", &l), 0);
	CHECK_EQ_INT(l, LOG_LEVEL_DEBUG);
	CHECK_EQ_INT(log_level_parse("trace", &l), 0);
	CHECK_EQ_INT(l, LOG_LEVEL_TRACE);
	CHECK_EQ_INT(log_level_parse("verbose", &l), -1);
	CHECK_EQ_INT(log_level_parse("", &l), -1);
	CHECK_EQ_INT(log_level_parse("ERROR", &l), -1);
	CHECK_EQ_INT(l, LOG_LEVEL_TRACE); /* untouched on failure */
}

static int formatted; /* counts argument evaluations */

static int count_format(void)
{
	return ++formatted;
}

static void test_level_filter(void)
{
	char buf[4096];

	fresh_log();
	log_set_timestamps(0);
	log_set_level(LOG_LEVEL_WARN);
	formatted = 0;
	log_error("c%d boom", 1);
	log_warn("c%d careful", 2);
	log_info("c%d hello %d", 3, count_format());
	log_debug("c%d detail %d", 4, count_format());
	log_trace("c%d bytes %d", 5, count_format());
	log_write(LOG_LEVEL_INFO, "direct call below level");
	CHECK_EQ_INT(formatted, 0); /* below the level: not even evaluated */
	slurp(buf, sizeof(buf));
	CHECK(strcmp(buf, "error: c1 boom\nwarn: c2 careful\n") == 0);

	log_set_level(LOG_LEVEL_DEBUG);
	log_debug("c%d now %s", 6, "shown");
	slurp(buf, sizeof(buf));
	CHECK(strstr(buf, "debug: c6 now shown\n") != NULL);
	log_set_level(LOG_LEVEL_INFO);
}

static void test_file_format(void)
{
	char buf[4096];
	struct stat st;
	const char *line;

	fresh_log();
	CHECK_EQ_INT(stat(log_path, &st), 0);
	CHECK_EQ_INT(st.st_mode & 0777, 0600);

	/* Files get timestamps by default: "YYYY-MM-DDTHH:MM:SS.mmmZ info: ". */
	log_info("c42 %s", "open");
	slurp(buf, sizeof(buf));
	line = buf;
	CHECK_EQ_INT(strlen(line), 25 + strlen("info: c42 open\n"));
	CHECK(line[4] == '-' && line[7] == '-' && line[10] == 'T');
	CHECK(line[13] == ':' && line[16] == ':' && line[19] == '.');
	CHECK(line[23] == 'Z' && line[24] == ' ');
	CHECK(strcmp(line + 25, "info: c42 open\n") == 0);
	log_set_timestamps(0);

	/* Appends, never truncates, when reopened. */
	CHECK_EQ_INT(log_open_file(log_path), 0);
	log_warn("second");
	slurp(buf, sizeof(buf));
	CHECK(strstr(buf, "info: c42 open\nwarn: second\n") != NULL);
}

static void test_long_line_truncated(void)
{
	char *big = malloc(5000), buf[8192];
	size_t n;

	memset(big, 'a', 4999);
	big[4999] = '\0';
	fresh_log();
	log_set_timestamps(0);
	log_error("%s", big);
	log_error("after");
	n = slurp(buf, sizeof(buf));
	CHECK_EQ_INT(n, 1024 + strlen("error: after\n"));
	CHECK(strncmp(buf, "error: aaaa", 11) == 0);
	CHECK(memcmp(buf + 1020, "...\n", 4) == 0);
	CHECK(strcmp(buf + 1024, "error: after\n") == 0);

	/* The errno suffix survives a cut: only the message is shortened. */
	fresh_log();
	log_write_errno(LOG_LEVEL_ERROR, EPIPE, "%s", big);
	n = slurp(buf, sizeof(buf));
	CHECK_EQ_INT(n, 1024);
	CHECK(strstr(buf, "...: Broken pipe\n") != NULL);
	CHECK_EQ_INT(buf[n - 1], '\n');
	free(big);
}

static void test_errno_variant(void)
{
	char buf[4096], expect[256];

	fresh_log();
	log_set_timestamps(0);
	errno = EAGAIN;
	log_error_errno(ENOENT, "c7 open %s", "/nope");
	CHECK_EQ_INT(errno, EAGAIN); /* logging leaves errno alone */
	log_warn_errno(-ECONNRESET, "c7 read"); /* core's -errno works too */
	log_set_level(LOG_LEVEL_ERROR);
	log_warn_errno(EPIPE, "filtered");
	log_set_level(LOG_LEVEL_INFO);
	slurp(buf, sizeof(buf));
	snprintf(expect, sizeof(expect), "error: c7 open /nope: %s\nwarn: c7 read: %s\n",
	         strerror(ENOENT), strerror(ECONNRESET));
	CHECK(strcmp(buf, expect) == 0);
}

static void test_open_failure_keeps_output(void)
{
	char buf[4096];

	fresh_log();
	log_set_timestamps(0);
	CHECK_EQ_INT(log_open_file("/nonexistent-dir/x.log"), -ENOENT);
	log_error("still here");
	slurp(buf, sizeof(buf));
	CHECK(strcmp(buf, "error: still here\n") == 0);
	unlink(log_path);
}

int main(void)
{
	TEST_RUN(test_level_parse);
	TEST_RUN(test_stderr_format); /* before any log_open_file */
	TEST_RUN(test_file_format); /* before log_set_timestamps: checks the default */
	TEST_RUN(test_level_filter);
	TEST_RUN(test_long_line_truncated);
	TEST_RUN(test_errno_variant);
	TEST_RUN(test_open_failure_keeps_output);
	return test_summary();
}
