/* prom.h — the Prometheus text exposition format 0.0.4, written: HELP and
 * TYPE lines, samples with integer values, seconds from integer
 * milliseconds. Pure: appends to the caller's buffer, no allocation, no
 * floating point (the router build carries no float printf). */
#ifndef WSF_PROTO_PROM_H
#define WSF_PROTO_PROM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PROM_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* Where the text goes. Once cap is reached, overflow is set and nothing more
 * is written (the caller retries with a larger buffer). */
struct prom_out {
	char *p;
	size_t len, cap;
	bool overflow;
};

/* "# HELP name help\n# TYPE name type\n"; type is "counter", "gauge" or
 * "histogram"; help MUST NOT hold a newline or a backslash. */
void prom_family(struct prom_out *o, const char *name, const char *type, const char *help);
/* "name{labels} v\n"; labels is the inside of the braces, already quoted
 * and escaped (`kind="tls",result="ok"`), or NULL for none. */
void prom_sample(struct prom_out *o, const char *name, const char *labels, uint64_t v);
/* As prom_sample for a gauge that may go below zero. */
void prom_sample_signed(struct prom_out *o, const char *name, const char *labels, int64_t v);
/* As prom_sample, the value ms / 1000 in seconds, no trailing zeros
 * ("0.25", "1", "12.003"). */
void prom_sample_seconds(struct prom_out *o, const char *name, const char *labels, uint64_t ms);
/* ms / 1000 written the same way into out (cap >= 24); returns its length. */
size_t prom_seconds_str(uint64_t ms, char *out, size_t cap);
/* A label value escaped as the format asks (\\, \", \n) into out, NUL
 * ended; false when it does not fit. */
bool prom_label_escape(const char *value, char *out, size_t cap);

#endif
