/* opts.c — argv parsing against an option table. Never exits: returns the
 * verdict to main, which owns exit codes. */
#include "bin/opts.h"

#include <stdio.h>
#include <string.h>

int opts_usage_error(const char *what, const char *why)
{
	if (what)
		fprintf(stderr, "wsferry: %s: %s\n", what, why);
	else
		fprintf(stderr, "wsferry: %s\n", why);
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

static const struct opt *find_short(const struct opt *t, char c)
{
	for (; t->name; t++)
		if (t->short_name == c)
			return t;
	return NULL;
}

static int apply(const struct opt *o, void *ctx, const char *val)
{
	const char *why = "invalid value";
	char what[64];
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
	return apply(o, ctx, val);
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
