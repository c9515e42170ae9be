/* printf_static_test.c — core/printf_static.c (the static build's vfprintf)
 * against glibc's printf: every format below, printed by both through a
 * memory FILE, must give the same bytes and the same return value. The
 * formats are the kinds wsferry's own use (integers of each length, %s with
 * and without precision, %c, %p, widths, flags) and their edges (zero with
 * precision 0, extreme values, '*' widths, negative '*'); plus a long
 * output through the flushes of the internal buffer, and a float or %n
 * printed as written. */
#define PRINTF_STATIC_NAME wsf_vfprintf
#include "core/printf_static.c"

#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>

#include "test/check.h"

/* Formats with both; compares. Returns whether they matched. */
static int same(const char *fmt, ...)
{
	char *mine = NULL, *theirs = NULL;
	size_t mine_len = 0, theirs_len = 0;
	FILE *a = open_memstream(&mine, &mine_len);
	FILE *b = open_memstream(&theirs, &theirs_len);
	va_list ap, aq;
	va_start(ap, fmt);
	va_copy(aq, ap);
	int rm = wsf_vfprintf(a, fmt, ap);
	int rt = vfprintf(b, fmt, aq);
	va_end(aq);
	va_end(ap);
	fclose(a);
	fclose(b);
	int ok = rm == rt && mine_len == theirs_len && memcmp(mine, theirs, mine_len) == 0;
	if (!ok)
		fprintf(stderr, "format \"%s\": mine %d \"%s\", glibc %d \"%s\"\n", fmt, rm, mine, rt,
		        theirs);
	free(mine);
	free(theirs);
	return ok;
}

static void test_integers(void)
{
	CHECK(same("%d %i %u", 0, -1, 4000000000u));
	CHECK(same("%d %d", INT_MIN, INT_MAX));
	CHECK(same("%ld %lu %lld %llu", LONG_MIN, ULONG_MAX, LLONG_MIN, ULLONG_MAX));
	CHECK(same("%zu %zd %td %jd", (size_t)SIZE_MAX, (ssize_t)-5, (ptrdiff_t)-7, (intmax_t)-9));
	CHECK(same("%hhu %hhd %hu %hd", 300, 200, 70000, 40000));
	CHECK(same("%x %X %lx %llX %o", 0xbeefu, 0xbeefu, 0xfeedfaceUL, 0x0123456789abcdefULL, 8u));
	CHECK(same("%#x %#X %#o %#o %#x", 255u, 255u, 8u, 0u, 0u));
	CHECK(same("%016llx|%016" PRIx64 "|%02x|%08X", 0x1234ULL, (uint64_t)0xabcdef, 5u, 0xbeefu));
	CHECK(same("%02u:%02u:%02u.%03ldZ %04d", 1u, 23u, 59u, 7L, 2026));
	CHECK(same("[%5d][%-5d][%05d][%+d][% d][%+5d][%-+5d|]", 42, 42, -42, 42, 42, 0, 7));
	CHECK(same("[%.0d][%.0u][%.3d][%5.3d][%-8.5x][%08.3d]", 0, 0u, 7, -7, 0xabu, 12));
	CHECK(same("[%*d][%-*d][%*d][%.*d][%.*d]", 6, 1, 6, 2, -6, 3, 4, 5, -1, 6));
}

static void test_strings(void)
{
	CHECK(same("%s|%s|%s", "", "a", "hello world"));
	CHECK(same("[%10s][%-10s][%.3s][%10.2s][%-4.1s]", "abc", "abc", "abcdef", "abcdef", "xyz"));
	CHECK(same("[%.*s][%.*s][%*s]", 4, "abcdefgh", 0, "abc", -5, "ab"));
	CHECK(same("%c%c%c|%3c|%-3c|", 'a', 0x7f, ' ', 'x', 'y'));
	CHECK(same("100%% %s%%", "sure"));
	CHECK(same("no conversions at all"));
	CHECK(same(""));
	CHECK(same("%p %p", (void *)0x1234, (void *)&same));
}

/* Beyond the 128-byte staging buffer, in several flushes. */
static void test_long(void)
{
	char big[1000];
	memset(big, 'q', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	CHECK(same("<%s>%s<%300d>", big, big + 500, 1));
	CHECK(same("%-700s|%700s|", "left", "right"));
}

static int mine_str(char *buf, size_t cap, const char *fmt, ...)
{
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);
	va_list ap;
	va_start(ap, fmt);
	int r = wsf_vfprintf(f, fmt, ap);
	va_end(ap);
	fclose(f);
	snprintf(buf, cap, "%s", out);
	free(out);
	return r;
}

/* What it does not format (a float, %n) it shows as written. */
static void test_unknown_shown(void)
{
	char buf[64];
	int r = mine_str(buf, sizeof(buf), "a %.3f b %d c %n", 7);
	CHECK(strcmp(buf, "a %.3f b 7 c %n") == 0);
	CHECK_EQ_INT(r, (int)strlen("a %.3f b 7 c %n"));
	r = mine_str(buf, sizeof(buf), "tail %");
	CHECK(strcmp(buf, "tail ") == 0);
}

int main(void)
{
	TEST_RUN(test_integers);
	TEST_RUN(test_strings);
	TEST_RUN(test_long);
	TEST_RUN(test_unknown_shown);
	return test_summary();
}
