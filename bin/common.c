/* common.c — the options every subcommand shares (--log-level, --log-file,
 * -q, -c), applied to the calling thread's log sink: the process's for the
 * command, an instance's inside the library (bin/lib.c). */
#include <errno.h>
#include <string.h>

#include "bin/cmd.h"
#include "core/log.h"

int common_log_level(void *ctx, const char *val, const char **why)
{
	enum log_level level;
	(void)ctx;
	if (log_level_parse(val, &level) < 0) {
		*why = "use error, warn, info, debug or trace";
		return -1;
	}
	log_set_level(level);
	return 0;
}

int common_log_file(void *ctx, const char *val, const char **why)
{
	(void)ctx;
	if (log_open_file(val) < 0) {
		*why = strerror(errno);
		return -1;
	}
	return 0;
}

int common_config(void *ctx, const char *val, const char **why)
{
	(void)ctx;
	(void)val;
	(void)why;
	return 0; /* already applied, before argv */
}

int common_quiet(void *ctx, const char *val, const char **why)
{
	(void)ctx;
	(void)val;
	(void)why;
	log_set_level(LOG_LEVEL_ERROR);
	return 0;
}

int common_verbose(void *ctx, const char *val, const char **why)
{
	(void)ctx;
	(void)val;
	(void)why;
	log_set_level(LOG_LEVEL_DEBUG);
	return 0;
}
