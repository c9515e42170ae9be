/* sio_test.c — proto/sio.c: every client packet kind, namespaces, and the
 * exact server packets (open, CONNECT, CONNECT_ERROR), truncated buffers. */
#include "proto/sio.h"

#include <string.h>

#include "test/check.h"

static enum sio_kind kind(const char *m, const char **ns, size_t *nl)
{
	return sio_parse(m, strlen(m), ns, nl);
}

static void test_parse(void)
{
	const char *ns;
	size_t nl;
	CHECK_EQ_INT(kind("40", &ns, &nl), SIO_CONNECT);
	CHECK(ns == NULL && nl == 0);
	CHECK_EQ_INT(kind("40{\"token\":\"x\"}", &ns, &nl), SIO_CONNECT);
	CHECK(ns == NULL);
	CHECK_EQ_INT(kind("40/,", &ns, &nl), SIO_CONNECT);
	CHECK(ns == NULL);
	CHECK_EQ_INT(kind("40/admin,{}", &ns, &nl), SIO_CONNECT);
	CHECK(ns && nl == 6 && memcmp(ns, "/admin", 6) == 0);
	CHECK_EQ_INT(kind("40/chat", &ns, &nl), SIO_CONNECT);
	CHECK(nl == 5);
	CHECK_EQ_INT(kind("41", &ns, &nl), SIO_DISCONNECT);
	CHECK_EQ_INT(kind("42[\"hi\",1]", &ns, &nl), SIO_EVENT);
	CHECK_EQ_INT(kind("2", &ns, &nl), SIO_EIO_PING);
	CHECK_EQ_INT(kind("3", &ns, &nl), SIO_EIO_PONG);
	CHECK_EQ_INT(kind("1", &ns, &nl), SIO_EIO_CLOSE);
	CHECK_EQ_INT(kind("2probe", &ns, &nl), SIO_UPGRADE_PROBE);
	CHECK_EQ_INT(kind("5", &ns, &nl), SIO_UPGRADE_PROBE);
	CHECK_EQ_INT(kind("", &ns, &nl), SIO_INVALID);
	CHECK_EQ_INT(kind("4", &ns, &nl), SIO_INVALID);
	CHECK_EQ_INT(kind("49", &ns, &nl), SIO_INVALID);
	CHECK_EQ_INT(kind("x", &ns, &nl), SIO_INVALID);
	CHECK_EQ_INT(kind("0{}", &ns, &nl), SIO_INVALID);
}

static void test_packets(void)
{
	char out[256];
	const char *want = "0{\"sid\":\"abc\",\"upgrades\":[],\"pingInterval\":25000,"
	                   "\"pingTimeout\":20000,\"maxPayload\":4096}";
	size_t n = sio_open_packet(out, sizeof(out), "abc", SIO_PING_INTERVAL_MS,
	                           SIO_PING_TIMEOUT_MS, 4096);
	CHECK(n == strlen(want) && memcmp(out, want, n) == 0);
	CHECK_EQ_INT(sio_open_packet(out, n - 1, "abc", 25000, 20000, 4096), 0);
	want = "0{\"sid\":\"abc\",\"upgrades\":[],\"pingInterval\":1500,"
	       "\"pingTimeout\":750,\"maxPayload\":4096}";
	n = sio_open_packet(out, sizeof(out), "abc", 1500, 750, 4096);
	CHECK(n == strlen(want) && memcmp(out, want, n) == 0);
	n = sio_connect_packet(out, sizeof(out), "abc");
	CHECK(n == 15 && memcmp(out, "40{\"sid\":\"abc\"}", n) == 0);
	n = sio_connect_error(out, sizeof(out), "/a\"b", 4);
	want = "44/ab,{\"message\":\"Invalid namespace\"}";
	CHECK(n == strlen(want) && memcmp(out, want, n) == 0);
	uint8_t r[15] = {0};
	char sid[SIO_SID_LEN + 1];
	sio_sid(r, sid);
	CHECK(strlen(sid) == SIO_SID_LEN && strcmp(sid, "AAAAAAAAAAAAAAAAAAAA") == 0);
}

int main(void)
{
	TEST_RUN(test_parse);
	TEST_RUN(test_packets);
	return test_summary();
}
