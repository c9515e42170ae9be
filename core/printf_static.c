/* printf_static.c — vfprintf for the static (musl) build only, in place of
 * musl's: the conversions wsferry's formats use (integers in every length
 * and base, %s, %c, %p, %%, with flags, width and precision), and no
 * floating point, which the product never formats. musl's own snprintf,
 * vsnprintf, fprintf and printf all end in vfprintf, on a FILE of their
 * own for the string ones, so this one definition serves the whole family.
 * musl's vfprintf is 10 KiB of the static binary, most of it formatting
 * long doubles (and on aarch64 it pulls 10 KiB of libgcc's 128-bit float
 * arithmetic); this is 2.2 KiB of x86-64 code. Any other conversion (%f,
 * %e, %g, %a, %n) is printed as written, so a mistake shows in the output
 * rather than reading the wrong argument. The Makefile links it only with STATIC=1;
 * test/core/printf_static_test.c holds it against glibc's printf. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* The unit test builds it under another name, beside glibc's own. */
#ifndef PRINTF_STATIC_NAME
#define PRINTF_STATIC_NAME vfprintf
#else
int PRINTF_STATIC_NAME(FILE *restrict f, const char *restrict fmt, va_list ap);
#endif

enum { F_MINUS = 1, F_ZERO = 2, F_PLUS = 4, F_SPACE = 8, F_HASH = 16 };

struct out {
	FILE *f;
	size_t len;    /* every byte formatted so far */
	size_t held;   /* of them, waiting in buf */
	int failed;
	char buf[128];
};

struct spec {
	unsigned flags;
	int width;     /* 0: none */
	int prec;      /* -1: none */
	char len;      /* 'H' hh, 'h', 'l', 'q' ll or j, 'z' size_t, 't' ptrdiff_t */
	char conv;
};

static void out_flush(struct out *o)
{
	if (o->held && fwrite(o->buf, 1, o->held, o->f) != o->held)
		o->failed = 1;
	o->held = 0;
}

static void out_put(struct out *o, const char *s, size_t n)
{
	o->len += n;
	while (n) {
		if (o->held == sizeof(o->buf))
			out_flush(o);
		size_t k = sizeof(o->buf) - o->held;
		if (k > n)
			k = n;
		memcpy(o->buf + o->held, s, k);
		o->held += k;
		s += k;
		n -= k;
	}
}

static void out_repeat(struct out *o, char c, int n)
{
	for (; n > 0; n--)
		out_put(o, &c, 1);
}

/* Flags, width, precision and length of the spec after '%'; *fmt is left on
 * the conversion character. A negative '*' width means '-' (C11 7.21.6.1). */
static void spec_read(struct spec *s, const char **fmt, va_list *ap)
{
	const char *p = *fmt;
	const char *fl = "-0+ #";
	s->flags = 0;
	for (const char *c; *p && (c = strchr(fl, *p)) != NULL; p++)
		s->flags |= 1u << (c - fl);
	s->width = 0;
	if (*p == '*') {
		s->width = va_arg(*ap, int);
		if (s->width < 0)
			s->flags |= F_MINUS, s->width = -s->width;
		p++;
	}
	for (; *p >= '0' && *p <= '9'; p++)
		s->width = s->width * 10 + (*p - '0');
	s->prec = -1;
	if (*p == '.') {
		p++;
		s->prec = 0;
		if (*p == '*') {
			s->prec = va_arg(*ap, int);
			p++;
		}
		for (; *p >= '0' && *p <= '9'; p++)
			s->prec = s->prec * 10 + (*p - '0');
		if (s->prec < 0)
			s->prec = -1;
	}
	s->len = 0;
	if (p[0] == 'h' && p[1] == 'h')
		s->len = 'H', p += 2;
	else if (p[0] == 'l' && p[1] == 'l')
		s->len = 'q', p += 2;
	else if (*p == 'h' || *p == 'l' || *p == 'z' || *p == 't')
		s->len = *p++;
	else if (*p == 'j')
		s->len = 'q', p++;
	s->conv = *p;
	*fmt = p;
}

static unsigned long long arg_unsigned(char len, va_list *ap)
{
	switch (len) {
	case 'H': return (unsigned char)va_arg(*ap, unsigned);
	case 'h': return (unsigned short)va_arg(*ap, unsigned);
	case 'l': return va_arg(*ap, unsigned long);
	case 'q': return va_arg(*ap, unsigned long long);
	case 'z': return va_arg(*ap, size_t);
	case 't': return (unsigned long long)va_arg(*ap, ptrdiff_t);
	default: return va_arg(*ap, unsigned);
	}
}

static long long arg_signed(char len, va_list *ap)
{
	switch (len) {
	case 'H': return (signed char)va_arg(*ap, int);
	case 'h': return (short)va_arg(*ap, int);
	case 'l': return va_arg(*ap, long);
	case 'q': return va_arg(*ap, long long);
	case 'z': return (long long)va_arg(*ap, size_t);
	case 't': return va_arg(*ap, ptrdiff_t);
	default: return va_arg(*ap, int);
	}
}

/* The field around a body of n bytes with a prefix (sign, 0x) and zeros. */
static void put_field(struct out *o, const struct spec *s, const char *prefix,
                      int zeros, const char *body, int n)
{
	int plen = (int)strlen(prefix);
	int pad = s->width - plen - zeros - n;
	if (!(s->flags & F_MINUS))
		out_repeat(o, ' ', pad);
	out_put(o, prefix, (size_t)plen);
	out_repeat(o, '0', zeros);
	out_put(o, body, (size_t)n);
	if (s->flags & F_MINUS)
		out_repeat(o, ' ', pad);
}

static void put_number(struct out *o, const struct spec *s, unsigned long long v,
                       const char *sign)
{
	char digits[24];
	char prefix[4];
	unsigned base = s->conv == 'o' ? 8 : strchr("xXp", s->conv) ? 16 : 10;
	const char *set = s->conv == 'X' ? "0123456789ABCDEF" : "0123456789abcdef";
	int n = 0;
	for (unsigned long long x = v; x; x /= base)
		digits[sizeof(digits) - 1 - n++] = set[x % base];
	strcpy(prefix, sign);
	if (base == 16 && v && s->flags & F_HASH)
		strcat(prefix, s->conv == 'X' ? "0X" : "0x");
	/* no precision: at least one digit; '#' with 'o': a leading 0 */
	int zeros = s->prec > n ? s->prec - n : 0;
	if ((s->prec < 0 && n == 0) || (base == 8 && s->flags & F_HASH && zeros == 0))
		zeros = 1;
	if (s->prec < 0 && s->flags & F_ZERO && !(s->flags & F_MINUS)) {
		int room = s->width - (int)strlen(prefix) - n;
		if (room > zeros)
			zeros = room;
	}
	put_field(o, s, prefix, zeros, digits + sizeof(digits) - n, n);
}

/* One conversion of those vfprintf below knows. */
static void put_conv(struct out *o, const struct spec *s, va_list *ap)
{
	switch (s->conv) {
	case 'd':
	case 'i': {
		long long v = arg_signed(s->len, ap);
		const char *sign = v < 0 ? "-" : s->flags & F_PLUS ? "+" : s->flags & F_SPACE ? " " : "";
		put_number(o, s, v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v, sign);
		break;
	}
	case 'u': case 'x': case 'X': case 'o':
		put_number(o, s, arg_unsigned(s->len, ap), "");
		break;
	case 'p': {
		struct spec p = *s;
		p.flags |= F_HASH;
		put_number(o, &p, (uintptr_t)va_arg(*ap, void *), "");
		break;
	}
	case 'c': {
		char c = (char)va_arg(*ap, int);
		put_field(o, s, "", 0, &c, 1);
		break;
	}
	case 's': {
		const char *str = va_arg(*ap, const char *);
		if (!str)
			str = "(null)";
		size_t n = s->prec >= 0 ? strnlen(str, (size_t)s->prec) : strlen(str);
		put_field(o, s, "", 0, str, (int)n);
		break;
	}
	default: /* '%' */
		out_put(o, "%", 1);
	}
}

int PRINTF_STATIC_NAME(FILE *restrict f, const char *restrict format, va_list ap)
{
	struct out o = { .f = f };
	const char *fmt = format;
	va_list args;
	va_copy(args, ap);
	while (*fmt) {
		const char *pct = strchr(fmt, '%');
		size_t lit = pct ? (size_t)(pct - fmt) : strlen(fmt);
		out_put(&o, fmt, lit);
		if (!pct)
			break;
		struct spec s;
		const char *spec_start = pct;
		fmt = pct + 1;
		spec_read(&s, &fmt, &args);
		if (s.conv == '\0')
			break;
		fmt++;
		if (strchr("diuxXopcs%", s.conv))
			put_conv(&o, &s, &args);
		else /* not ours to format (a float): shown as written */
			out_put(&o, spec_start, (size_t)(fmt - spec_start));
	}
	va_end(args);
	out_flush(&o);
	if (o.failed)
		return -1;
	return o.len > INT32_MAX ? -1 : (int)o.len;
}
