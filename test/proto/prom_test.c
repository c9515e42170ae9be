/* prom_test.c — the exposition text byte for byte: families, labels,
 * negative gauges, seconds without floats, escaping, and a buffer too small. */
#include "proto/prom.h"

#include <string.h>

#include "test/check.h"

static void test_lines(void)
{
	char buf[512];
	struct prom_out o = {buf, 0, sizeof(buf), false};
	prom_family(&o, "x_total", "counter", "Things.");
	prom_sample(&o, "x_total", NULL, 0);
	prom_sample(&o, "x_total", "k=\"v\"", 18446744073709551615ull);
	prom_sample_signed(&o, "g", "", -42);
	prom_sample_seconds(&o, "s", "le=\"0.25\"", 250);
	const char want[] = "# HELP x_total Things.\n# TYPE x_total counter\n"
	                    "x_total 0\nx_total{k=\"v\"} 18446744073709551615\ng -42\n"
	                    "s{le=\"0.25\"} 0.25\n";
	CHECK(!o.overflow);
	CHECK_EQ_INT(o.len, sizeof(want) - 1);
	CHECK_MEM(buf, want, sizeof(want) - 1);
}

static void seconds(uint64_t ms, const char *want)
{
	char s[24];
	size_t n = prom_seconds_str(ms, s, sizeof(s));
	CHECK_EQ_INT(n, strlen(want));
	CHECK(strcmp(s, want) == 0);
}

static void test_seconds(void)
{
	seconds(0, "0");
	seconds(1, "0.001");
	seconds(10, "0.01");
	seconds(25, "0.025");
	seconds(1000, "1");
	seconds(2500, "2.5");
	seconds(12003, "12.003");
	seconds(18446744073709551615ull, "18446744073709551.615");
}

static void test_escape(void)
{
	char out[32];
	CHECK(prom_label_escape("ws://[::1]:80", out, sizeof(out)));
	CHECK(strcmp(out, "ws://[::1]:80") == 0);
	CHECK(prom_label_escape("a\"b\\c\nd", out, sizeof(out)));
	CHECK(strcmp(out, "a\\\"b\\\\c\\nd") == 0);
	CHECK(!prom_label_escape("abcdef", out, 6));
	CHECK(prom_label_escape("abcde", out, 6));
}

static void test_overflow(void)
{
	char buf[16];
	struct prom_out o = {buf, 0, sizeof(buf), false};
	prom_sample(&o, "short", NULL, 1);
	CHECK(!o.overflow);
	prom_sample(&o, "much_longer_name", NULL, 1);
	CHECK(o.overflow);
	CHECK_EQ_INT(o.len, 8);
	prom_sample(&o, "a", NULL, 1); /* nothing after an overflow */
	CHECK_EQ_INT(o.len, 8);
}

int main(void)
{
	TEST_RUN(test_lines);
	TEST_RUN(test_seconds);
	TEST_RUN(test_escape);
	TEST_RUN(test_overflow);
	return test_summary();
}
