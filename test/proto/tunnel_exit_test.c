/* tunnel_exit_test.c — VPN mode's framing: destinations from text, the open
 * target split, and the DIAL / FAILED control messages round trip, with
 * every truncation and every wrong byte refused. */
#include "proto/tunnel_exit.h"

#include <string.h>

#include "proto/base64.h"
#include "test/check.h"

static void test_dest_parse(void)
{
	struct tunnel_exit_dest d;
	char out[TUNNEL_MAX_TARGET + 1];
	CHECK_EQ_INT(tunnel_exit_dest_parse("192.0.2.7:80", 12, &d), 0);
	CHECK_EQ_INT(d.atyp, TUNNEL_EXIT_IPV4);
	CHECK(strcmp(d.host, "192.0.2.7") == 0 && d.port == 80);
	CHECK_EQ_INT(tunnel_exit_dest_parse("[2001:db8::1]:443", 17, &d), 0);
	CHECK_EQ_INT(d.atyp, TUNNEL_EXIT_IPV6);
	CHECK(strcmp(d.host, "2001:db8::1") == 0 && d.port == 443);
	CHECK_EQ_INT(tunnel_exit_dest_format(&d, out, sizeof(out)), 17);
	CHECK(strcmp(out, "[2001:db8::1]:443") == 0);
	CHECK_EQ_INT(tunnel_exit_dest_format(&d, out, 17), 0);
	CHECK_EQ_INT(tunnel_exit_dest_parse("target.vpn.test:8080", 20, &d), 0);
	CHECK_EQ_INT(d.atyp, TUNNEL_EXIT_NAME);
	CHECK(strcmp(d.host, "target.vpn.test") == 0 && d.port == 8080);
	/* brackets only around IPv6; no port 0; nothing but a name or an IP */
	CHECK_EQ_INT(tunnel_exit_dest_parse("[192.0.2.7]:80", 14, &d), -1);
	CHECK_EQ_INT(tunnel_exit_dest_parse("[name]:80", 9, &d), -1);
	CHECK_EQ_INT(tunnel_exit_dest_parse("2001:db8::1:80", 14, &d), -1);
	CHECK_EQ_INT(tunnel_exit_dest_parse("host:0", 6, &d), -1);
	CHECK_EQ_INT(tunnel_exit_dest_parse("host", 4, &d), -1);
	CHECK_EQ_INT(tunnel_exit_dest_parse("a b:80", 6, &d), -1);
	char longname[300];
	memset(longname, 'a', 255);
	memcpy(longname + 255, ":1", 3);
	CHECK_EQ_INT(tunnel_exit_dest_parse(longname, 257, &d), 0);
	CHECK_EQ_INT(strlen(d.host), 255);
	memset(longname, 'a', 256);
	memcpy(longname + 256, ":1", 3);
	CHECK_EQ_INT(tunnel_exit_dest_parse(longname, 258, &d), -1);
}

static void test_target_split(void)
{
	char name[TUNNEL_CHANNEL_NAME_MAX + 1], pass[TUNNEL_CHANNEL_PASS_MAX + 1];
	struct tunnel_exit_dest d;
	const char *t = "home:s3:cr@t example.org:443";
	CHECK_EQ_INT(tunnel_exit_target_split(t, strlen(t), name, pass, &d), 0);
	CHECK(strcmp(name, "home") == 0 && strcmp(pass, "s3:cr@t") == 0);
	CHECK(strcmp(d.host, "example.org") == 0 && d.port == 443);
	t = "home [::1]:22";
	CHECK_EQ_INT(tunnel_exit_target_split(t, strlen(t), name, pass, &d), 0);
	CHECK(pass[0] == '\0' && d.atyp == TUNNEL_EXIT_IPV6 && d.port == 22);
	t = "home:pw";
	CHECK_EQ_INT(tunnel_exit_target_split(t, strlen(t), name, pass, &d), -1);
	t = "ho/me:pw example.org:1";
	CHECK_EQ_INT(tunnel_exit_target_split(t, strlen(t), name, pass, &d), -1);
	t = "home:pw  example.org:1";
	CHECK_EQ_INT(tunnel_exit_target_split(t, strlen(t), name, pass, &d), -1);
}

static void roundtrip(const char *text, size_t want_len)
{
	struct tunnel_exit_dest d;
	struct tunnel_exit_msg m;
	uint8_t msg[TUNNEL_EXIT_MSG_MAX];
	CHECK_EQ_INT(tunnel_exit_dest_parse(text, strlen(text), &d), 0);
	size_t n = tunnel_exit_dial_msg(msg, 0x0102030405060708ull, &d);
	CHECK_EQ_INT(n, want_len);
	CHECK_EQ_INT(tunnel_exit_parse(msg, n, &m), 0);
	CHECK_EQ_INT(m.op, REV_MSG_DIAL);
	CHECK(m.id == 0x0102030405060708ull);
	CHECK(m.dest.atyp == d.atyp && m.dest.port == d.port && strcmp(m.dest.host, d.host) == 0);
	for (size_t cut = 0; cut < n; cut++) /* every truncation is refused */
		CHECK_EQ_INT(tunnel_exit_parse(msg, cut, &m), -1);
	msg[n] = 0;
	CHECK_EQ_INT(tunnel_exit_parse(msg, n + 1, &m), -1); /* and every extension */
}

static void test_dial_msg(void)
{
	roundtrip("10.0.0.1:80", 9 + 1 + 4 + 2);
	roundtrip("[fd00::5]:8443", 9 + 1 + 16 + 2);
	roundtrip("target.vpn.test:80", 9 + 1 + 1 + 15 + 2);
	uint8_t msg[TUNNEL_EXIT_MSG_MAX];
	struct tunnel_exit_msg m;
	struct tunnel_exit_dest d = {.atyp = TUNNEL_EXIT_NAME, .port = 0, .host = "x"};
	CHECK_EQ_INT(tunnel_exit_dial_msg(msg, 1, &d), 0);
	d.port = 1;
	d.atyp = 2;
	CHECK_EQ_INT(tunnel_exit_dial_msg(msg, 1, &d), 0);
	/* a name with a byte outside the rules, a zero length, port 0 */
	uint8_t bad[] = {REV_MSG_DIAL, 0, 0, 0, 0, 0, 0, 0, 1, 3, 2, 'a', '/', 0, 80};
	CHECK_EQ_INT(tunnel_exit_parse(bad, sizeof(bad), &m), -1);
	bad[12] = 'b';
	CHECK_EQ_INT(tunnel_exit_parse(bad, sizeof(bad), &m), 0);
	bad[10] = 0;
	CHECK_EQ_INT(tunnel_exit_parse(bad, sizeof(bad), &m), -1);
	bad[10] = 2;
	bad[14] = 0;
	CHECK_EQ_INT(tunnel_exit_parse(bad, sizeof(bad), &m), -1);
	bad[9] = 5; /* unknown address type */
	bad[14] = 80;
	CHECK_EQ_INT(tunnel_exit_parse(bad, sizeof(bad), &m), -1);
}

static void test_failed_and_rev(void)
{
	uint8_t msg[TUNNEL_EXIT_FAILED_LEN];
	struct tunnel_exit_msg m;
	const enum tunnel_err ok[] = {TUNNEL_ERR_FORBIDDEN, TUNNEL_ERR_NOT_FOUND,
	                              TUNNEL_ERR_REFUSED,   TUNNEL_ERR_UNREACHABLE,
	                              TUNNEL_ERR_TIMEOUT,   TUNNEL_ERR_GENERAL};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		tunnel_exit_failed_msg(msg, 42, ok[i]);
		CHECK_EQ_INT(tunnel_exit_parse(msg, sizeof(msg), &m), 0);
		CHECK(m.op == REV_MSG_FAILED && m.id == 42 && m.err == ok[i]);
		CHECK_EQ_INT(tunnel_exit_parse(msg, sizeof(msg) - 1, &m), -1);
	}
	/* an exit cannot claim the server's own answers (410, 409, 412, 101) */
	const enum tunnel_err no[] = {TUNNEL_ERR_NO_EXIT, TUNNEL_ERR_IN_USE, TUNNEL_ERR_ENCRYPT,
	                              TUNNEL_OK, TUNNEL_ERR_BAD_TARGET};
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
		tunnel_exit_failed_msg(msg, 42, no[i]);
		CHECK_EQ_INT(tunnel_exit_parse(msg, sizeof(msg), &m), -1);
	}
	msg[9] = 0x02; /* status 600: none of ours */
	msg[10] = 0x58;
	CHECK_EQ_INT(tunnel_exit_parse(msg, sizeof(msg), &m), -1);
	uint8_t rev[TUNNEL_REV_MSG_LEN];
	tunnel_rev_msg(rev, REV_MSG_ACCEPTED, 7);
	CHECK_EQ_INT(tunnel_exit_parse(rev, sizeof(rev), &m), 0);
	CHECK(m.op == REV_MSG_ACCEPTED && m.id == 7);
	rev[0] = 6;
	CHECK_EQ_INT(tunnel_exit_parse(rev, sizeof(rev), &m), -1);
	rev[0] = 0;
	CHECK_EQ_INT(tunnel_exit_parse(rev, sizeof(rev), &m), -1);
}

/* The request blob: an exit open may carry a long target, no other kind. */
static void test_blob_limits(void)
{
	struct tunnel_req r = {.kind = TUNNEL_EXIT_OPEN, .timestamp = 1700000000}, back;
	char cookie[TUNNEL_COOKIE_MAX];
	memset(r.target, 'n', 64);
	r.target[64] = ':';
	memset(r.target + 65, 'p', 128);
	r.target[193] = ' ';
	memset(r.target + 194, 'h', 255);
	memcpy(r.target + 449, ":65535", 7);
	r.target_len = strlen(r.target);
	CHECK(r.target_len <= TUNNEL_MAX_WIRE_TARGET);
	size_t n = tunnel_req_encode(&r, NULL, cookie, sizeof(cookie));
	CHECK(n > 4);
	CHECK_EQ_INT(tunnel_req_decode(cookie + 4, n - 4, NULL, &back), TUNNEL_DECODED);
	CHECK(back.target_len == r.target_len && strcmp(back.target, r.target) == 0);
	r.kind = TUNNEL_CONNECT; /* every other kind keeps its 263 bytes */
	CHECK_EQ_INT(tunnel_req_encode(&r, NULL, cookie, sizeof(cookie)), 0);
	r.target_len = TUNNEL_MAX_TARGET;
	CHECK(tunnel_req_encode(&r, NULL, cookie, sizeof(cookie)) > 0);
	r.target_len = TUNNEL_MAX_WIRE_TARGET + 1;
	r.kind = TUNNEL_EXIT_OPEN;
	CHECK_EQ_INT(tunnel_req_encode(&r, NULL, cookie, sizeof(cookie)), 0);
	/* a long exit-open blob relabelled as a connect does not decode */
	uint8_t blob[TUNNEL_BLOB_MAX];
	char text[TUNNEL_COOKIE_MAX];
	r.target_len = TUNNEL_MAX_TARGET + 1;
	n = tunnel_req_encode(&r, NULL, cookie, sizeof(cookie));
	long bn = base64url_decode(cookie + 4, n - 4, blob, sizeof(blob));
	CHECK(bn > 2 && blob[1] == TUNNEL_EXIT_OPEN);
	blob[1] = TUNNEL_CONNECT;
	size_t tn = base64url_encode(blob, (size_t)bn, text);
	CHECK_EQ_INT(tunnel_req_decode(text, tn, NULL, &back), TUNNEL_NO_COOKIE);
	blob[1] = TUNNEL_EXIT_OPEN;
	tn = base64url_encode(blob, (size_t)bn, text);
	CHECK_EQ_INT(tunnel_req_decode(text, tn, NULL, &back), TUNNEL_DECODED);
	CHECK_EQ_INT(tunnel_err_status(TUNNEL_ERR_NO_EXIT), 410);
	CHECK_EQ_INT(tunnel_err_socks_rep(TUNNEL_ERR_NO_EXIT), 0x03);
	CHECK_EQ_INT(tunnel_err_proxy_status(TUNNEL_ERR_NO_EXIT), 502);
	CHECK_EQ_INT(tunnel_status_err(410), TUNNEL_ERR_NO_EXIT);
}

int main(void)
{
	TEST_RUN(test_dest_parse);
	TEST_RUN(test_target_split);
	TEST_RUN(test_dial_msg);
	TEST_RUN(test_failed_and_rev);
	TEST_RUN(test_blob_limits);
	return test_summary();
}
