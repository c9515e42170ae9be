/* text.c — the bounded text builder of text.h. */
#include "proto/text.h"

#include <string.h>

void text_put_bytes(struct text_out *o, const char *s, size_t n)
{
	if (o->over || n > o->cap - o->len) {
		o->over = true;
		return;
	}
	if (n)
		memcpy(o->buf + o->len, s, n);
	o->len += n;
}

void text_put_str(struct text_out *o, const char *s)
{
	if (s)
		text_put_bytes(o, s, strlen(s));
}

void text_put_uint(struct text_out *o, unsigned long long v)
{
	char digits[24];
	size_t i = sizeof(digits);
	do {
		digits[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	text_put_bytes(o, digits + i, sizeof(digits) - i);
}

size_t text_result(const struct text_out *o)
{
	return o->over ? 0 : o->len;
}
