/* prom.c — the exposition text, one line at a time, numbers formatted here
 * (integer digits only: the static build must not pull float printf). */
#include "proto/prom.h"

#include <string.h>

static void put(struct prom_out *o, const char *s, size_t n)
{
	if (o->overflow || o->cap - o->len < n) {
		o->overflow = true;
		return;
	}
	memcpy(o->p + o->len, s, n);
	o->len += n;
}

static void puts_(struct prom_out *o, const char *s)
{
	put(o, s, strlen(s));
}

/* Decimal digits of v into the end of tmp[20]; returns where they start. */
static char *u64_digits(uint64_t v, char tmp[20])
{
	char *p = tmp + 20;
	do {
		*--p = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	return p;
}

static void put_u64(struct prom_out *o, uint64_t v)
{
	char tmp[20];
	char *p = u64_digits(v, tmp);
	put(o, p, (size_t)(tmp + 20 - p));
}

void prom_family(struct prom_out *o, const char *name, const char *type, const char *help)
{
	puts_(o, "# HELP ");
	puts_(o, name);
	put(o, " ", 1);
	puts_(o, help);
	puts_(o, "\n# TYPE ");
	puts_(o, name);
	put(o, " ", 1);
	puts_(o, type);
	put(o, "\n", 1);
}

static void sample_head(struct prom_out *o, const char *name, const char *labels)
{
	puts_(o, name);
	if (labels && *labels) {
		put(o, "{", 1);
		puts_(o, labels);
		put(o, "}", 1);
	}
	put(o, " ", 1);
}

void prom_sample(struct prom_out *o, const char *name, const char *labels, uint64_t v)
{
	sample_head(o, name, labels);
	put_u64(o, v);
	put(o, "\n", 1);
}

void prom_sample_signed(struct prom_out *o, const char *name, const char *labels, int64_t v)
{
	sample_head(o, name, labels);
	if (v < 0)
		put(o, "-", 1);
	put_u64(o, v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v);
	put(o, "\n", 1);
}

size_t prom_seconds_str(uint64_t ms, char *out, size_t cap)
{
	char tmp[20];
	char *p = u64_digits(ms / 1000, tmp);
	size_t n = (size_t)(tmp + 20 - p);
	unsigned frac = (unsigned)(ms % 1000);
	if (cap < n + 5)
		return 0;
	memcpy(out, p, n);
	if (frac) {
		out[n++] = '.';
		for (unsigned div = 100; frac && div; div /= 10) {
			out[n++] = (char)('0' + frac / div);
			frac %= div;
		}
	}
	out[n] = '\0';
	return n;
}

void prom_sample_seconds(struct prom_out *o, const char *name, const char *labels, uint64_t ms)
{
	char s[24];
	size_t n = prom_seconds_str(ms, s, sizeof(s));
	sample_head(o, name, labels);
	put(o, s, n);
	put(o, "\n", 1);
}

bool prom_label_escape(const char *value, char *out, size_t cap)
{
	size_t n = 0;
	for (const char *s = value; *s; s++) {
		const char *rep = *s == '\\' ? "\\\\" : *s == '"' ? "\\\"" : *s == '\n' ? "\\n" : NULL;
		size_t k = rep ? 2 : 1;
		if (cap - n <= k)
			return false;
		if (rep)
			memcpy(out + n, rep, 2);
		else
			out[n] = *s;
		n += k;
	}
	if (cap == 0)
		return false;
	out[n] = '\0';
	return true;
}
