/* conf_test.c — durations, sizes, booleans and config line splitting. */
#include "proto/conf.h"

#include <string.h>

#include "test/check.h"

static void test_duration(void)
{
	uint64_t ms = 0;
	CHECK_EQ_INT(conf_parse_duration_ms("300", &ms), 0);
	CHECK_EQ_INT(ms, 300000);
	CHECK_EQ_INT(conf_parse_duration_ms("500ms", &ms), 0);
	CHECK_EQ_INT(ms, 500);
	CHECK_EQ_INT(conf_parse_duration_ms("5m", &ms), 0);
	CHECK_EQ_INT(ms, 300000);
	CHECK_EQ_INT(conf_parse_duration_ms("1h", &ms), 0);
	CHECK_EQ_INT(ms, 3600000);
	CHECK_EQ_INT(conf_parse_duration_ms("2s", &ms), 0);
	CHECK_EQ_INT(ms, 2000);
	CHECK_EQ_INT(conf_parse_duration_ms("", &ms), -1);
	CHECK_EQ_INT(conf_parse_duration_ms("5x", &ms), -1);
	CHECK_EQ_INT(conf_parse_duration_ms("-5", &ms), -1);
	CHECK_EQ_INT(conf_parse_duration_ms("99999999999999999999", &ms), -1);
	CHECK_EQ_INT(conf_parse_duration_ms("18446744073709551h", &ms), -1);
}

static void test_size(void)
{
	uint64_t b = 0;
	CHECK_EQ_INT(conf_parse_size("65536", &b), 0);
	CHECK_EQ_INT(b, 65536);
	CHECK_EQ_INT(conf_parse_size("64K", &b), 0);
	CHECK_EQ_INT(b, 65536);
	CHECK_EQ_INT(conf_parse_size("16M", &b), 0);
	CHECK_EQ_INT(b, 16 << 20);
	CHECK_EQ_INT(conf_parse_size("1GiB", &b), 0);
	CHECK_EQ_INT(b, 1 << 30);
	CHECK_EQ_INT(conf_parse_size("1T", &b), -1);
	CHECK_EQ_INT(conf_parse_size("M", &b), -1);
}

static void test_bool_uint(void)
{
	bool v = false;
	CHECK_EQ_INT(conf_parse_bool("YES", &v), 0);
	CHECK(v);
	CHECK_EQ_INT(conf_parse_bool("off", &v), 0);
	CHECK(!v);
	CHECK_EQ_INT(conf_parse_bool("maybe", &v), -1);
	uint64_t u = 0;
	CHECK_EQ_INT(conf_parse_uint("16", 1, 16, &u), 0);
	CHECK_EQ_INT(u, 16);
	CHECK_EQ_INT(conf_parse_uint("17", 1, 16, &u), -1);
	CHECK_EQ_INT(conf_parse_uint("0", 1, 16, &u), -1);
	CHECK_EQ_INT(conf_parse_uint("1a", 1, 16, &u), -1);
}

static void split(const char *line, int want, const char *key, const char *value)
{
	char buf[256];
	char *k = NULL, *v = NULL;
	snprintf(buf, sizeof(buf), "%s", line);
	int rc = conf_split_line(buf, &k, &v);
	CHECK_EQ_INT(rc, want);
	if (rc == 1 && want == 1) {
		CHECK(strcmp(k, key) == 0);
		CHECK(strcmp(v, value) == 0);
	}
}

static void test_split(void)
{
	split("", 0, NULL, NULL);
	split("   # comment", 0, NULL, NULL);
	split("key value", 1, "key", "value");
	split("key = value  # trailing", 1, "key", "value");
	split("key=value", 1, "key", "value");
	split("\tlog-level\tdebug\r\n", 1, "log-level", "debug");
	split("insecure", 1, "insecure", "");
	split("name \"a b\"", 1, "name", "a b");
	split("url ws://h:80/#x", 1, "url", "ws://h:80/#x");
	split("Bad! value", -1, NULL, NULL);
	split("=value", -1, NULL, NULL);
}

int main(void)
{
	TEST_RUN(test_duration);
	TEST_RUN(test_size);
	TEST_RUN(test_bool_uint);
	TEST_RUN(test_split);
	return test_summary();
}
