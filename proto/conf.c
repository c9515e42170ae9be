/* conf.c — parsing of durations, sizes, booleans and config lines.
 * Strict: trailing garbage, overflow and empty strings are errors. */
#include "proto/conf.h"

#include <string.h>
#include <strings.h>

static int parse_digits(const char **s, uint64_t *v)
{
	const char *p = *s;
	uint64_t x = 0;
	if (*p < '0' || *p > '9')
		return -1;
	for (; *p >= '0' && *p <= '9'; p++) {
		if (x > (UINT64_MAX - 9) / 10)
			return -1;
		x = x * 10 + (uint64_t)(*p - '0');
	}
	*s = p;
	*v = x;
	return 0;
}

static int scale(uint64_t v, uint64_t mul, uint64_t *out)
{
	if (mul && v > UINT64_MAX / mul)
		return -1;
	*out = v * mul;
	return 0;
}

int conf_parse_duration_ms(const char *s, uint64_t *ms)
{
	uint64_t v;
	if (!s || parse_digits(&s, &v) < 0)
		return -1;
	static const struct {
		const char *unit;
		uint64_t mul;
	} units[] = {{"", 1000}, {"s", 1000}, {"ms", 1}, {"m", 60000}, {"h", 3600000}, {"d", 86400000}};
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (strcmp(s, units[i].unit) == 0)
			return scale(v, units[i].mul, ms);
	return -1;
}

int conf_parse_size(const char *s, uint64_t *bytes)
{
	uint64_t v;
	if (!s || parse_digits(&s, &v) < 0)
		return -1;
	uint64_t mul = 1;
	switch (*s) {
	case 'k': case 'K': mul = 1ull << 10; s++; break;
	case 'm': case 'M': mul = 1ull << 20; s++; break;
	case 'g': case 'G': mul = 1ull << 30; s++; break;
	default: break;
	}
	if (*s == 'i')
		s++;
	if (*s == 'b' || *s == 'B')
		s++;
	return *s ? -1 : scale(v, mul, bytes);
}

int conf_parse_bool(const char *s, bool *out)
{
	static const char *yes[] = {"true", "1", "yes", "on"}, *no[] = {"false", "0", "no", "off"};
	for (size_t i = 0; i < 4; i++) {
		if (strcasecmp(s, yes[i]) == 0)
			return *out = true, 0;
		if (strcasecmp(s, no[i]) == 0)
			return *out = false, 0;
	}
	return -1;
}

int conf_parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	uint64_t v;
	if (!s || parse_digits(&s, &v) < 0 || *s || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

static char *trim(char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	size_t n = strlen(s);
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n'))
		s[--n] = '\0';
	return s;
}

static bool key_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

int conf_split_line(char *line, char **key, char **value)
{
	char *hash = strchr(line, '#');
	if (hash && (hash == line || hash[-1] == ' ' || hash[-1] == '\t'))
		*hash = '\0';
	char *s = trim(line);
	if (*s == '\0')
		return 0;
	char *p = s;
	while (key_char(*p))
		p++;
	if (p == s || (*p && *p != ' ' && *p != '\t' && *p != '='))
		return -1;
	char *v = p;
	if (*v)
		*v++ = '\0';
	v = trim(v);
	if (*v == '=')
		v = trim(v + 1);
	size_t n = strlen(v);
	if (n >= 2 && v[0] == '"' && v[n - 1] == '"') {
		v[n - 1] = '\0';
		v++;
	}
	*key = s;
	*value = v;
	return 1;
}
