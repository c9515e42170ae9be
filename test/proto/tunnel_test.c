/* tunnel_test.c — the request blob with and without a key, the cookie
 * lookup, the 101 proof, target splitting and the error mapping table. */
#include "proto/tunnel.h"

#include <string.h>

#include "test/check.h"

static struct tunnel_req sample(const char *target)
{
	struct tunnel_req r = {.kind = TUNNEL_CONNECT, .timestamp = 1700000000};
	memset(r.nonce, 0x5A, sizeof(r.nonce));
	r.target_len = strlen(target);
	memcpy(r.target, target, r.target_len + 1);
	return r;
}

static int parse_req(const char *head, struct http_request *req)
{
	size_t scanned = 0;
	int end = http_head_end(head, strlen(head), &scanned);
	return end > 0 ? http_parse_request(head, (size_t)end, req) : -1;
}

static void test_plain_roundtrip(void)
{
	struct tunnel_req r = sample("[2001:db8::1]:443"), back;
	char cookie[TUNNEL_COOKIE_MAX];
	size_t n = tunnel_req_encode(&r, NULL, cookie, sizeof(cookie));
	CHECK(n > 4 && strncmp(cookie, "sid=", 4) == 0);
	CHECK_EQ_INT(tunnel_req_decode(cookie + 4, n - 4, NULL, &back), TUNNEL_DECODED);
	CHECK(strcmp(back.target, r.target) == 0);
	CHECK_EQ_INT(back.timestamp, r.timestamp);
	CHECK_MEM(back.nonce, r.nonce, 16);
	CHECK_EQ_INT(tunnel_req_decode(cookie + 4, n - 5, NULL, &back), TUNNEL_NO_COOKIE);
	CHECK_EQ_INT(tunnel_req_encode(&r, NULL, cookie, 10), 0);
}

static void test_keyed(void)
{
	uint8_t psk[32] = {7}, other[32] = {8};
	struct auth_keys k, wrong;
	auth_derive(psk, &k);
	auth_derive(other, &wrong);
	struct tunnel_req r = sample("example.com:443"), back;
	char cookie[TUNNEL_COOKIE_MAX];
	size_t n = tunnel_req_encode(&r, &k, cookie, sizeof(cookie));
	size_t name = strlen(k.cookie) + 1;
	CHECK(n > name && strncmp(cookie, k.cookie, name - 1) == 0);
	CHECK(strstr(cookie, "ZXhhbXBsZS5jb2") == NULL); /* target not visible in base64 */
	CHECK_EQ_INT(tunnel_req_decode(cookie + name, n - name, &k, &back), TUNNEL_DECODED);
	CHECK(strcmp(back.target, "example.com:443") == 0);
	CHECK_EQ_INT(tunnel_req_decode(cookie + name, n - name, &wrong, &back), TUNNEL_BAD_MAC);
	CHECK_EQ_INT(tunnel_req_decode(cookie + name, n - name, NULL, &back), TUNNEL_NO_COOKIE);
	/* A keyless request to a keyed server is refused as unauthenticated. */
	char plain[TUNNEL_COOKIE_MAX];
	size_t pn = tunnel_req_encode(&r, NULL, plain, sizeof(plain));
	CHECK_EQ_INT(tunnel_req_decode(plain + 4, pn - 4, &k, &back), TUNNEL_BAD_MAC);
	/* Every single-character change is caught (re-targeting, re-dating). */
	int caught = 0, tried = 0;
	for (size_t i = name; i < n; i++) {
		char saved = cookie[i];
		cookie[i] = saved == 'A' ? 'B' : 'A';
		tried++;
		if (tunnel_req_decode(cookie + name, n - name, &k, &back) != TUNNEL_DECODED)
			caught++;
		cookie[i] = saved;
	}
	CHECK_EQ_INT(caught, tried);
}

static void test_from_http(void)
{
	struct tunnel_req r = sample("10.0.0.1:22"), back;
	char cookie[TUNNEL_COOKIE_MAX], head[1024];
	tunnel_req_encode(&r, NULL, cookie, sizeof(cookie));
	snprintf(head, sizeof(head),
	         "GET / HTTP/1.1\r\nHost: h\r\nCookie: a=1; %s; b=2\r\n\r\n", cookie);
	struct http_request req;
	CHECK(parse_req(head, &req) > 0);
	CHECK_EQ_INT(tunnel_req_from_http(&req, NULL, &back), TUNNEL_DECODED);
	CHECK(strcmp(back.target, "10.0.0.1:22") == 0);
	CHECK(parse_req("GET / HTTP/1.1\r\nHost: h\r\nCookie: xsid=AAAA\r\n\r\n", &req) > 0);
	CHECK_EQ_INT(tunnel_req_from_http(&req, NULL, &back), TUNNEL_NO_COOKIE);
}

static int parse_answer(const char *resp, struct http_response *hr)
{
	size_t scanned = 0;
	int end = http_head_end(resp, strlen(resp), &scanned);
	return end > 0 && http_parse_response(resp, (size_t)end, hr) > 0 ? 0 : -1;
}

static void test_proof(void)
{
	uint8_t psk[32] = {1};
	struct auth_keys k;
	auth_derive(psk, &k);
	struct tunnel_expect e = {.keys = &k, .nonce = {3}};
	uint8_t raw[16] = {0};
	ws_make_key(raw, e.key);
	char accept[WS_ACCEPT_LEN + 1], line[128], resp[512];
	ws_accept_key(e.key, strlen(e.key), accept);
	tunnel_proof_header(&k, e.nonce, 101, line, sizeof(line));
	snprintf(resp, sizeof(resp),
	         "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
	         "Sec-WebSocket-Accept: %s\r\n%s\r\n", accept, line);
	struct http_response hr;
	CHECK(parse_answer(resp, &hr) == 0);
	CHECK_EQ_INT(tunnel_check_101(&hr, &e), TUNNEL_101_OK);
	e.nonce[0] ^= 1;
	CHECK_EQ_INT(tunnel_check_101(&hr, &e), TUNNEL_101_NO_PROOF);
	e.nonce[0] ^= 1;
	e.keys = NULL;
	CHECK_EQ_INT(tunnel_check_101(&hr, &e), TUNNEL_101_OK);

	/* A refusal is proven for its own status: the same proof on another
	 * status (a 101 turned into a 403 on the path) is refused. */
	e.keys = &k;
	size_t n = tunnel_refusal(TUNNEL_ERR_REFUSED, e.key, strlen(e.key), &k, e.nonce, resp,
	                          sizeof(resp));
	CHECK(n > 0 && parse_answer(resp, &hr) == 0);
	CHECK_EQ_INT(tunnel_response_err(&hr, &e), TUNNEL_ERR_REFUSED);
	snprintf(resp, sizeof(resp),
	         "HTTP/1.1 403 Forbidden\r\nSec-WebSocket-Accept: %s\r\n%sContent-Length: 0\r\n\r\n",
	         accept, line);
	CHECK(parse_answer(resp, &hr) == 0);
	CHECK_EQ_INT(tunnel_response_err(&hr, &e), TUNNEL_ERR_SERVER_FAKE);
	snprintf(resp, sizeof(resp),
	         "HTTP/1.1 403 Forbidden\r\nSec-WebSocket-Accept: %s\r\nContent-Length: 0\r\n\r\n",
	         accept);
	CHECK(parse_answer(resp, &hr) == 0);
	CHECK_EQ_INT(tunnel_response_err(&hr, &e), TUNNEL_ERR_SERVER_FAKE);
	e.keys = NULL; /* without a key nothing can be proven: taken as said */
	CHECK_EQ_INT(tunnel_response_err(&hr, &e), TUNNEL_ERR_FORBIDDEN);
}

static void test_split_and_errors(void)
{
	char host[300];
	uint16_t port = 0;
	CHECK_EQ_INT(tunnel_target_split("a.b:80", 6, host, sizeof(host), &port), 0);
	CHECK(strcmp(host, "a.b") == 0 && port == 80);
	CHECK_EQ_INT(tunnel_target_split("[::1]:443", 9, host, sizeof(host), &port), 0);
	CHECK(strcmp(host, "::1") == 0 && port == 443);
	CHECK_EQ_INT(tunnel_target_split("::1:443", 7, host, sizeof(host), &port), -1);
	CHECK_EQ_INT(tunnel_target_split("a:0", 3, host, sizeof(host), &port), -1);
	CHECK_EQ_INT(tunnel_target_split(":80", 3, host, sizeof(host), &port), -1);
	CHECK_EQ_INT(tunnel_target_split("a b:80", 6, host, sizeof(host), &port), -1);
	CHECK_EQ_INT(tunnel_err_socks_rep(TUNNEL_ERR_REFUSED), 0x05);
	CHECK_EQ_INT(tunnel_err_socks_rep(TUNNEL_ERR_NOT_FOUND), 0x04);
	CHECK_EQ_INT(tunnel_err_socks_rep(TUNNEL_ERR_TIMEOUT), 0x06);
	CHECK_EQ_INT(tunnel_err_socks_rep(TUNNEL_ERR_FORBIDDEN), 0x02);
	CHECK_EQ_INT(tunnel_err_proxy_status(TUNNEL_ERR_TIMEOUT), 504);
	CHECK_EQ_INT(tunnel_err_proxy_status(TUNNEL_ERR_REFUSED), 502);
	CHECK_EQ_INT(tunnel_err_proxy_status(TUNNEL_ERR_FORBIDDEN), 403);
	for (int e = TUNNEL_ERR_GENERAL; e <= TUNNEL_ERR_IN_USE; e++)
		CHECK_EQ_INT(tunnel_status_err(tunnel_err_status((enum tunnel_err)e)), e);
	CHECK_EQ_INT(tunnel_status_err(0), TUNNEL_ERR_GENERAL);
}

static void test_channel_split(void)
{
	char name[TUNNEL_CHANNEL_NAME_MAX + 1], pass[TUNNEL_CHANNEL_PASS_MAX + 1];
	char longname[TUNNEL_CHANNEL_NAME_MAX + 2];
	CHECK_EQ_INT(tunnel_channel_split("db:s3:c@r", 9, name, pass), 0);
	CHECK(strcmp(name, "db") == 0 && strcmp(pass, "s3:c@r") == 0);
	CHECK_EQ_INT(tunnel_channel_split("a.b_c-9", 7, name, pass), 0);
	CHECK(strcmp(name, "a.b_c-9") == 0 && pass[0] == '\0');
	CHECK_EQ_INT(tunnel_channel_split("db:", 3, name, pass), 0);
	CHECK(pass[0] == '\0');
	CHECK_EQ_INT(tunnel_channel_split("db:xyz", 2, name, pass), 0); /* n bounds it */
	CHECK(strcmp(name, "db") == 0 && pass[0] == '\0');
	CHECK_EQ_INT(tunnel_channel_split(":pw", 3, name, pass), -1);
	CHECK_EQ_INT(tunnel_channel_split("", 0, name, pass), -1);
	CHECK_EQ_INT(tunnel_channel_split("a b:pw", 6, name, pass), -1);
	CHECK_EQ_INT(tunnel_channel_split("a/b", 3, name, pass), -1);
	CHECK_EQ_INT(tunnel_channel_split("ab:p w", 6, name, pass), -1);
	CHECK_EQ_INT(tunnel_channel_split("ab:p\x7f", 5, name, pass), -1);
	uint64_t id = 0;
	CHECK_EQ_INT(tunnel_rev_id_parse("00ff00FF12345678", 16, &id), 0);
	CHECK(id == 0x00ff00ff12345678ull);
	CHECK_EQ_INT(tunnel_rev_id_parse("00ff00FF1234567", 15, &id), -1);
	CHECK_EQ_INT(tunnel_rev_id_parse("00ff00FF1234567g", 16, &id), -1);
	CHECK_EQ_INT(tunnel_rev_id_parse("00ff00FF12345678a", 17, &id), -1);
	memset(longname, 'n', sizeof(longname));
	CHECK_EQ_INT(tunnel_channel_split(longname, TUNNEL_CHANNEL_NAME_MAX, name, pass), 0);
	CHECK_EQ_INT(tunnel_channel_split(longname, TUNNEL_CHANNEL_NAME_MAX + 1, name, pass), -1);
}

/* An empty target asks for the server's --to: a connect request only. */
static void test_fixed_target(void)
{
	uint8_t psk[32] = {9};
	struct auth_keys k;
	auth_derive(psk, &k);
	struct tunnel_req r = sample(""), back;
	char cookie[TUNNEL_COOKIE_MAX];
	size_t name = strlen(k.cookie) + 1;
	size_t n = tunnel_req_encode(&r, &k, cookie, sizeof(cookie));
	CHECK(n > name);
	CHECK_EQ_INT(tunnel_req_decode(cookie + name, n - name, &k, &back), TUNNEL_DECODED);
	CHECK_EQ_INT(back.target_len, 0);
	CHECK_EQ_INT(back.target[0], 0);
	n = tunnel_req_encode(&r, NULL, cookie, sizeof(cookie));
	CHECK_EQ_INT(tunnel_req_decode(cookie + 4, n - 4, NULL, &back), TUNNEL_DECODED);
	r.kind = TUNNEL_REVERSE_LISTEN; /* -R must name where to listen */
	n = tunnel_req_encode(&r, NULL, cookie, sizeof(cookie));
	CHECK_EQ_INT(tunnel_req_decode(cookie + 4, n - 4, NULL, &back), TUNNEL_NO_COOKIE);
	r.kind = TUNNEL_MUX; /* a --mux carrier names none: its streams do */
	n = tunnel_req_encode(&r, &k, cookie, sizeof(cookie));
	CHECK_EQ_INT(tunnel_req_decode(cookie + name, n - name, &k, &back), TUNNEL_DECODED);
	CHECK_EQ_INT(back.kind, TUNNEL_MUX);
	cookie[n - 10] = cookie[n - 10] == 'A' ? 'B' : 'A'; /* a MAC byte changed */
	CHECK_EQ_INT(tunnel_req_decode(cookie + name, n - name, &k, &back), TUNNEL_BAD_MAC);
}

int main(void)
{
	TEST_RUN(test_channel_split);
	TEST_RUN(test_fixed_target);
	TEST_RUN(test_plain_roundtrip);
	TEST_RUN(test_keyed);
	TEST_RUN(test_from_http);
	TEST_RUN(test_proof);
	TEST_RUN(test_split_and_errors);
	return test_summary();
}
