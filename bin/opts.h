/* opts.h — one table of options per subcommand, read from argv and (later)
 * from config files with the same keys. Reports bad input as one line naming
 * the option; bin/ turns that into exit code 2. */
#ifndef WSF_BIN_OPTS_H
#define WSF_BIN_OPTS_H

#include <stdbool.h>

#include "core/net.h"

/* Applies val (NULL for flags) to the command's settings. 0, or -1 with
 * *why set to what is wrong (static string or the caller's buffer). */
typedef int (*opt_apply_fn)(void *ctx, const char *val, const char **why);

struct opt {
	const char *name;   /* long name without "--", also the config key */
	char short_name;    /* 0 when none */
	bool takes_value;
	bool optional_value; /* "--ping" or "--ping=NAME" */
	opt_apply_fn apply;
};

/* Positional arguments (URLs) go to positional. Accepts "--name value",
 * "--name=value", "-x value", and "--" to end options. 0 or -1 after
 * printing "wsferry: OPTION: why" to stderr (see opts_usage_error). */
int opts_parse(const struct opt *table, int argc, char **argv, void *ctx,
               opt_apply_fn positional);

/* Applies a config file: one "key value" per line (the long option names,
 * '#' comments, "key = value" and bare flag keys allowed), before argv so
 * flags override it. 0, or -1 after printing "wsferry: FILE:LINE: why". The
 * file's text is left in *keep (malloc'd; an older one there is freed):
 * option values point into it, so it is freed only with the settings. */
int opts_parse_file(const struct opt *table, const char *path, void *ctx, char **keep);

/* Finds "-c FILE" / "--config FILE" in argv (NULL when absent). */
const char *opts_config_path(int argc, char **argv);

/* --metrics [ADDR:]PORT: an IP literal (or localhost) and a port; a bare
 * PORT is 127.0.0.1:PORT. 0, or -1 with *why. */
int opts_parse_metrics(const char *val, struct net_addr *out, const char **why);

/* Prints "wsferry: msg" and the pointer to --help; returns 2 (usage error).
 * Where the calling thread's log sink has a callback (the library), every
 * message of this file goes there instead, as an error line. */
int opts_usage_error(const char *what, const char *why);

#endif
