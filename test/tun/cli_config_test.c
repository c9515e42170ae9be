/* cli_config_test.c — the client's -D/-R spec forms of VPN mode beside the
 * forms they must not disturb (plain -D, channels, routes). */
#include "tun/client/cli_config.h"

#include <string.h>

#include "test/check.h"

static int parse(enum fwd_kind kind, const char *spec, struct fwd *f)
{
	const char *why = NULL;
	return client_parse_fwd(kind, spec, f, &why);
}

static void test_exit(void)
{
	struct fwd f;
	CHECK_EQ_INT(parse(FWD_REMOTE, "tunnel://home:s3:cr@t@", &f), 0);
	CHECK(f.exit && strcmp(f.chan, "home:s3:cr@t") == 0);
	CHECK(strcmp(f.spec, "tunnel://home:***@") == 0); /* the password never logged */
	CHECK_EQ_INT(parse(FWD_REMOTE, "tunnel://home@", &f), 0);
	CHECK(f.exit && strcmp(f.chan, "home:") == 0 && strcmp(f.spec, "tunnel://home@") == 0);
	CHECK_EQ_INT(parse(FWD_REMOTE, "tunnel://home:pw@127.0.0.1:22", &f), -1);
	CHECK_EQ_INT(parse(FWD_REMOTE, "tunnel://home:pw", &f), -1);
	CHECK_EQ_INT(parse(FWD_REMOTE, "tunnel://ho/me@", &f), -1);
	CHECK_EQ_INT(parse(FWD_LOCAL, "tunnel://home@", &f), -1);
	CHECK_EQ_INT(parse(FWD_DYNAMIC, "tunnel://home@", &f), -1);
}

static void test_entry(void)
{
	struct fwd f;
	CHECK_EQ_INT(parse(FWD_DYNAMIC, "socks5://home:pw@1080", &f), 0);
	CHECK(!f.exit && strcmp(f.chan, "home:pw") == 0);
	CHECK(strcmp(f.bind_host, "127.0.0.1") == 0 && f.bind_port == 1080);
	CHECK(strcmp(f.spec, "socks5://home:***@1080") == 0);
	CHECK_EQ_INT(parse(FWD_DYNAMIC, "http://home:p@ss@[::1]:3128", &f), 0);
	CHECK(strcmp(f.chan, "home:p@ss") == 0 && strcmp(f.bind_host, "::1") == 0 &&
	      f.bind_port == 3128);
	CHECK_EQ_INT(parse(FWD_DYNAMIC, "socks5://home@0.0.0.0:1080", &f), 0);
	CHECK(strcmp(f.chan, "home:") == 0 && strcmp(f.bind_host, "0.0.0.0") == 0);
	/* no exit named, options of plain -D, a destination: refused */
	CHECK_EQ_INT(parse(FWD_DYNAMIC, "socks5://1080", &f), -1);
	CHECK_EQ_INT(parse(FWD_DYNAMIC, "http://127.0.0.1:1080", &f), -1);
	CHECK_EQ_INT(parse(FWD_DYNAMIC, "socks5://home:pw@1080?timeout=5", &f), -1);
	CHECK_EQ_INT(parse(FWD_DYNAMIC, "socks5://home:pw@1080:example.org:80", &f), -1);
	CHECK_EQ_INT(parse(FWD_DYNAMIC, "socks4://home:pw@1080", &f), -1);
	/* -L keeps http:// for nothing, -R http:// stays a route */
	CHECK_EQ_INT(parse(FWD_REMOTE, "http://127.0.0.1:8000?mode=path&value=/app", &f), 0);
	CHECK(f.route[0] && !f.chan[0]);
}

static void test_unchanged(void)
{
	struct fwd f;
	CHECK_EQ_INT(parse(FWD_DYNAMIC, "1080", &f), 0);
	CHECK(!f.chan[0] && f.bind_port == 1080);
	CHECK_EQ_INT(parse(FWD_DYNAMIC, "[::1]:1080?timeout=30", &f), 0);
	CHECK(f.udp_idle_ms == 30000);
	CHECK_EQ_INT(parse(FWD_DYNAMIC, "home:pw@1080", &f), -1);
	CHECK_EQ_INT(parse(FWD_DYNAMIC, "tcp://1080", &f), -1);
	CHECK_EQ_INT(parse(FWD_REMOTE, "tcp://chan:pw@127.0.0.1:22", &f), 0);
	CHECK(!f.exit && strcmp(f.chan, "chan:pw") == 0 && strcmp(f.target, "127.0.0.1:22") == 0);
	CHECK_EQ_INT(parse(FWD_LOCAL, "tcp://chan:pw@2222", &f), 0);
	CHECK(strcmp(f.chan, "chan:pw") == 0 && f.bind_port == 2222);
}

int main(void)
{
	TEST_RUN(test_exit);
	TEST_RUN(test_entry);
	TEST_RUN(test_unchanged);
	return test_summary();
}
