/* text.h — a bounded text builder for the heads and replies proto/ writes
 * into caller buffers: appends stop at the first one that does not fit, and
 * the result is then 0 (never a truncated head on the wire). */
#ifndef WSF_PROTO_TEXT_H
#define WSF_PROTO_TEXT_H

#include <stdbool.h>
#include <stddef.h>

struct text_out {
	char *buf;
	size_t cap;
	size_t len;
	bool over; /* something did not fit */
};

void text_put_bytes(struct text_out *o, const char *s, size_t n);
/* NULL appends nothing. */
void text_put_str(struct text_out *o, const char *s);
void text_put_uint(struct text_out *o, unsigned long long v);
/* Bytes written, or 0 when anything did not fit. */
size_t text_result(const struct text_out *o);

#endif
