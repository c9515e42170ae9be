/* opts.c — argv parsing against an option table. Never exits: returns the
 * verdict to main, which owns exit codes. */
#include "bin/opts.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "proto/conf.h"
#include "proto/tunnel.h"
#include "proto/url.h"

/* "wsferry: a: b" on stderr, or the line "a: b" to an embedding program's
 * log callback (bin/lib.c), which has no stderr to show. */
static void say(const char *a, const char *b)
{
	if (log_now->fn)
		log_error("%s%s%s", a, b ? ": " : "", b ? b : "");
	else
		fprintf(stderr, "wsferry: %s%s%s\n", a, b ? ": " : "", b ? b : "");
}

int opts_usage_error(const char *what, const char *why)
{
	say(what ? what : why, what ? why : NULL);
	if (!log_now->fn)
		fprintf(stderr, "Try 'wsferry --help' or 'man wsferry'.\n");
	return 2;
}

static const struct opt *find_long(const struct opt *t, const char *name, size_t len)
{
	for (; t->name; t++)
		if (strlen(t->name) == len && strncmp(t->name, name, len) == 0)
			return t;
	return NULL;
}

#define CONFIG_MAX (64 * 1024) /* a config file larger than this is a mistake */

static int file_error(const char *path, unsigned line, const char *what, const char *why)
{
	char where[300];
	if (what)
		snprintf(where, sizeof(where), "%s:%u: %s", path, line, what);
	else
		snprintf(where, sizeof(where), "%s:%u", path, line);
	say(where, why);
	return -1;
}

static char *read_config(const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		say(path, strerror(errno));
		return NULL;
	}
	char *text = malloc(CONFIG_MAX + 1);
	size_t n = text ? fread(text, 1, CONFIG_MAX + 1, f) : 0;
	fclose(f);
	if (!text || n > CONFIG_MAX) {
		say(path, text ? "larger than 64 KiB" : "out of memory");
		free(text);
		return NULL;
	}
	text[n] = '\0';
	if (memchr(text, '\0', n)) {
		say(path, "not a text file");
		free(text);
		return NULL;
	}
	return text;
}

static const struct opt *find_long(const struct opt *t, const char *name, size_t len);

int opts_parse_file(const struct opt *table, const char *path, void *ctx, char **keep)
{
	char *text = read_config(path);
	if (!text)
		return -1;
	free(*keep);
	*keep = text;
	unsigned line = 0;
	for (char *p = text; p && *p;) {
		char *nl = strchr(p, '\n');
		if (nl)
			*nl = '\0';
		line++;
		char *key, *val;
		int rc = conf_split_line(p, &key, &val);
		p = nl ? nl + 1 : NULL;
		if (rc == 0)
			continue;
		if (rc < 0)
			return file_error(path, line, NULL, "expected \"key value\"");
		const struct opt *o = find_long(table, key, strlen(key));
		if (!o || strcmp(key, "config") == 0)
			return file_error(path, line, key, "unknown key");
		if (!o->takes_value && *val)
			return file_error(path, line, key, "takes no value");
		if (o->takes_value && !*val && !o->optional_value)
			return file_error(path, line, key, "needs a value");
		const char *why = "invalid value";
		if (o->apply(ctx, *val || o->takes_value ? (*val ? val : NULL) : NULL, &why) < 0)
			return file_error(path, line, key, why);
	}
	return 0; /* text stays: option values point into it */
}

const char *opts_config_path(int argc, char **argv)
{
	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			return NULL;
		if ((strcmp(argv[i], "-c") == 0 || strcmp(argv[i], "--config") == 0) && i + 1 < argc)
			return argv[i + 1];
		if (strncmp(argv[i], "--config=", 9) == 0)
			return argv[i] + 9;
	}
	return NULL;
}

static const struct opt *find_short(const struct opt *t, char c)
{
	for (; t->name; t++)
		if (t->short_name == c)
			return t;
	return NULL;
}

/* Names the option as the user wrote it (-L or --local). */
static int apply(const struct opt *o, bool as_short, void *ctx, const char *val)
{
	const char *why = "invalid value";
	char what[64];
	if (as_short)
		snprintf(what, sizeof(what), "-%c", o->short_name);
	else
		snprintf(what, sizeof(what), "--%s", o->name);
	if (o->apply(ctx, val, &why) < 0) {
		opts_usage_error(what, why);
		return -1;
	}
	return 0;
}

/* Handles argv[*i] (an option); may consume the next argument as value. */
static int parse_one(const struct opt *table, int argc, char **argv, int *i, void *ctx)
{
	const char *arg = argv[*i];
	const struct opt *o;
	const char *val = NULL;
	if (arg[1] == '-') {
		const char *eq = strchr(arg + 2, '=');
		size_t len = eq ? (size_t)(eq - arg - 2) : strlen(arg + 2);
		o = find_long(table, arg + 2, len);
		val = eq ? eq + 1 : NULL;
	} else {
		o = arg[2] == '\0' ? find_short(table, arg[1]) : NULL;
	}
	if (!o)
		return opts_usage_error(arg, "unknown option"), -1;
	if (!o->takes_value && val)
		return opts_usage_error(arg, "takes no value"), -1;
	if (o->takes_value && !val && !o->optional_value) {
		if (*i + 1 >= argc)
			return opts_usage_error(arg, "needs a value"), -1;
		val = argv[++*i];
	}
	return apply(o, arg[1] != '-', ctx, val);
}

int opts_parse(const struct opt *table, int argc, char **argv, void *ctx,
               opt_apply_fn positional)
{
	bool only_positional = false;
	for (int i = 0; i < argc; i++) {
		const char *arg = argv[i];
		if (!only_positional && strcmp(arg, "--") == 0) {
			only_positional = true;
			continue;
		}
		if (!only_positional && arg[0] == '-' && arg[1] != '\0') {
			if (parse_one(table, argc, argv, &i, ctx) < 0)
				return -1;
			continue;
		}
		const char *why = "unexpected argument";
		if (!positional || positional(ctx, arg, &why) < 0) {
			opts_usage_error(arg, why);
			return -1;
		}
	}
	return 0;
}

int opts_parse_metrics(const char *val, struct net_addr *out, const char **why)
{
	char host[URL_MAX_HOST + 1] = "127.0.0.1";
	uint16_t port = 0;
	bool bare = val[0] && strspn(val, "0123456789") == strlen(val);
	*why = "[ADDR:]PORT with an IP address, e.g. 9100, 127.0.0.1:9100 or [::1]:9100";
	if (bare ? url_parse_port(val, strlen(val), &port) < 0
	         : tunnel_target_split(val, strlen(val), host, sizeof(host), &port) < 0)
		return -1;
	if (strcmp(host, "localhost") == 0)
		strcpy(host, "127.0.0.1");
	return port == 0 || net_addr_from_ip(host, port, out) < 0 ? -1 : 0;
}
