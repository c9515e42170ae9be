/* decoy_test.c — proto/decoy.c: nginx's verdicts and pages for a set of
 * requests, the same verdict at every split point, the chunked-body skipper,
 * and http_date (proto/http.c) against known dates. The byte-exact
 * comparison with a running nginx is test/integration/decoy_test.py. */
#include <stdlib.h>

#include "proto/decoy.h"
#include "proto/http.h"
#include "test/check.h"

struct want {
	const char *req;
	uint16_t status;
	size_t used; /* 0: the whole request */
	bool keepalive, http09, head_only, padding;
};

static const struct want cases[] = {
	{"GET / HTTP/1.1\r\nHost: a\r\n\r\n", 404, 0, true, false, false, false},
	{"HEAD /x HTTP/1.1\r\nHost: a\r\n\r\n", 404, 0, true, false, true, false},
	{"GET /x HTTP/1.0\r\n\r\n", 404, 0, false, false, false, false},
	{"GET /x HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", 404, 0, true, false, false, false},
	{"GET /x HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", 404, 0, false, false, false, false},
	{"OPTIONS /x HTTP/1.1\r\nHost: a\r\n\r\n", 405, 0, true, false, false, false},
	{"BREW /x HTTP/1.1\r\nHost: a\r\n\r\n", 405, 0, true, false, false, false},
	{"TRACE / HTTP/1.1\r\nHost: a\r\n\r\n", 405, 0, false, false, false, false},
	{"GET /x HTTP/1.1\nHost: a\n\n", 404, 0, true, false, false, false},
	{"GET /x\r\n", 404, 0, false, true, false, false},
	{"POST /x\r\n", 400, 0, false, true, false, false},
	{"get / HTTP/1.1\r\n", 400, 1, false, false, false, false},
	{"\x16\x03\x01", 400, 1, false, false, false, false},
	{"GET / HTTP/2.0\r\n", 505, 12, false, false, false, false},
	{"GET / HTTP/1.1\r\n\r\n", 400, 0, false, false, false, false},
	{"GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n", 400, 34, false, false, false, false},
	{"GET /../x HTTP/1.1\r\n", 400, 20, false, false, false, false},
	{"GET /a/%2e%2e/b HTTP/1.1\r\nHost: a\r\n\r\n", 404, 0, true, false, false, false},
	{"GET / HTTP/1.1\r\nHost: a\r\nUser-Agent: x Chrome/1 y\r\n\r\n", 404, 0, true, false, false, true},
	{"GET / HTTP/1.1\r\nHost: a\r\nUser-Agent: x Gecko/1 Chrome/1\r\n\r\n", 404, 0, true, false, false, false},
	{"POST / HTTP/1.1\r\nHost: a\r\nUser-Agent: (MSIE 6.0; x)\r\n\r\n", 404, 0, false, false, false, true},
	{"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1048577\r\n\r\n", 413, 0, false, false, false, false},
	{"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n", 501, 0, false, false, false, false},
	{"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n", 400, 64, false, false, false, false},
};

static void verdicts(void)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct want *c = &cases[i];
		size_t len = strlen(c->req);
		for (size_t split = 0; split <= len; split++) {
			struct decoy d = {0};
			size_t used = 0, u;
			enum decoy_rc rc = decoy_feed(&d, (const uint8_t *)c->req, split, &u);
			used += u;
			if (rc == DECOY_NEED_MORE) {
				rc = decoy_feed(&d, (const uint8_t *)c->req + split, len - split, &u);
				used += u;
			}
			CHECK_EQ_INT(rc, DECOY_DONE);
			CHECK_EQ_INT(d.status, c->status);
			CHECK_EQ_INT(used, c->used ? c->used : len);
			CHECK_EQ_INT(d.keepalive, c->keepalive);
			CHECK_EQ_INT(d.http09, c->http09);
			CHECK_EQ_INT(d.head_only, c->head_only);
			CHECK_EQ_INT(d.padding, c->padding);
			if (check_case_failed) {
				fprintf(stderr, "  case %zu split %zu: %s\n", i, split, c->req);
				return;
			}
		}
	}
}

/* nginx's header buffers: one line over 8 KiB, or more than four large
 * buffers, is answered at once; 20 KiB of short lines is not. */
static void buffers(void)
{
	static char req[40000];
	struct decoy d = {0};
	size_t used;
	size_t n = (size_t)snprintf(req, sizeof(req), "GET /%09000d HTTP/1.1\r\n", 0);
	CHECK_EQ_INT(decoy_feed(&d, (const uint8_t *)req, n, &used), DECOY_DONE);
	CHECK_EQ_INT(d.status, 414);
	memset(&d, 0, sizeof(d));
	n = (size_t)snprintf(req, sizeof(req), "GET / HTTP/1.1\r\nX: %09000d\r\n\r\n", 0);
	CHECK_EQ_INT(decoy_feed(&d, (const uint8_t *)req, n, &used), DECOY_DONE);
	CHECK_EQ_INT(d.status, 494);
	CHECK(used < n);
	memset(&d, 0, sizeof(d));
	n = (size_t)snprintf(req, sizeof(req), "GET / HTTP/1.1\r\nHost: a\r\n");
	for (int i = 0; i < 20; i++)
		n += (size_t)snprintf(req + n, sizeof(req) - n, "X-%02d: %0994d\r\n", i, 0);
	n += (size_t)snprintf(req + n, sizeof(req) - n, "\r\n");
	CHECK_EQ_INT(decoy_feed(&d, (const uint8_t *)req, n, &used), DECOY_DONE);
	CHECK_EQ_INT(d.status, 404);
	memset(&d, 0, sizeof(d));
	n = (size_t)snprintf(req, sizeof(req), "GET / HTTP/1.1\r\n");
	for (int i = 0; i < 34; i++)
		n += (size_t)snprintf(req + n, sizeof(req) - n, "X-%02d: %0994d\r\n", i, 0);
	CHECK_EQ_INT(decoy_feed(&d, (const uint8_t *)req, n, &used), DECOY_DONE);
	CHECK_EQ_INT(d.status, 494);
	/* empty lines before a request never fill a buffer */
	memset(&d, 0, sizeof(d));
	for (int i = 0; i < 10000; i++) {
		CHECK_EQ_INT(decoy_feed(&d, (const uint8_t *)"\r\n", 2, &used), DECOY_NEED_MORE);
		CHECK(decoy_idle(&d));
	}
}

static void pages(void)
{
	char out[DECOY_ANSWER_MAX];
	const char *date = "Thu, 01 Jan 1970 00:00:00 GMT";
	struct decoy d = {0};
	size_t used;
	const char *get = "GET / HTTP/1.1\r\nHost: a\r\n\r\n";
	decoy_feed(&d, (const uint8_t *)get, strlen(get), &used);
	size_t n = decoy_answer(&d, true, date, out);
	static const char want[] =
		"HTTP/1.1 404 Not Found\r\nServer: nginx\r\nDate: Thu, 01 Jan 1970 00:00:00 GMT\r\n"
		"Content-Type: text/html\r\nContent-Length: 146\r\nConnection: keep-alive\r\n\r\n"
		"<html>\r\n<head><title>404 Not Found</title></head>\r\n<body>\r\n"
		"<center><h1>404 Not Found</h1></center>\r\n<hr><center>nginx</center>\r\n"
		"</body>\r\n</html>\r\n";
	CHECK_EQ_INT(n, sizeof(want) - 1);
	CHECK_MEM(out, want, sizeof(want) - 1);
	const char *body = strstr(out, "\r\n\r\n");
	CHECK(body && strlen(body + 4) == 146);
	d.head_only = true;
	n = decoy_answer(&d, false, date, out);
	CHECK_EQ_INT(n, (size_t)(body + 4 - out) - strlen("keep-alive") + strlen("close"));
	CHECK(memcmp(out + n - 4, "\r\n\r\n", 4) == 0);
	d.head_only = false;
	d.padding = true;
	CHECK_EQ_INT(decoy_answer(&d, true, date, out), sizeof(want) - 1 + 402);
	CHECK(strstr(out, "Content-Length: 548\r\n") != NULL);
	d.padding = false;
	d.http09 = true;
	CHECK_EQ_INT(decoy_answer(&d, false, date, out), 146);
	d.http09 = false;
	d.status = 494;
	n = decoy_answer(&d, false, date, out);
	CHECK(strncmp(out, "HTTP/1.1 400 Bad Request\r\n", 26) == 0);
	CHECK(strstr(out, "<title>400 Request Header Or Cookie Too Large</title>") != NULL);
	CHECK(n < DECOY_ANSWER_MAX);
}

static void chunked(void)
{
	static const char body[] = "5;x=y\r\nhello\r\n10\r\n0123456789abcdef\r\n0\r\nT: 1\r\n\r\nNEXT";
	size_t len = sizeof(body) - 5;
	for (size_t split = 0; split <= len; split++) {
		struct decoy d = {0};
		size_t u1 = 0, u2 = 0;
		int rc = decoy_chunked_feed(&d, (const uint8_t *)body, split, &u1);
		if (rc == 0)
			rc = decoy_chunked_feed(&d, (const uint8_t *)body + split, sizeof(body) - 1 - split, &u2);
		CHECK_EQ_INT(rc, 1);
		CHECK_EQ_INT(u1 + u2, len);
	}
	struct decoy d = {0};
	size_t u;
	CHECK_EQ_INT(decoy_chunked_feed(&d, (const uint8_t *)"zz\r\n", 4, &u), -1);
}

static void dates(void)
{
	static const struct {
		uint64_t t;
		const char *s;
	} known[] = {
		{0, "Thu, 01 Jan 1970 00:00:00 GMT"},
		{784111777, "Sun, 06 Nov 1994 08:49:37 GMT"},
		{951782400, "Tue, 29 Feb 2000 00:00:00 GMT"},
		{1709164800, "Thu, 29 Feb 2024 00:00:00 GMT"},
		{4102444799, "Thu, 31 Dec 2099 23:59:59 GMT"},
		{4107456000, "Sun, 28 Feb 2100 00:00:00 GMT"},
		{4107542400, "Mon, 01 Mar 2100 00:00:00 GMT"},
	};
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
		char out[HTTP_DATE_LEN + 1] = {0};
		http_date(known[i].t, out);
		CHECK(strcmp(out, known[i].s) == 0);
		if (strcmp(out, known[i].s) != 0)
			fprintf(stderr, "  %llu: %s\n", (unsigned long long)known[i].t, out);
	}
}

static void size(void)
{
	printf("sizeof(struct decoy) = %zu\n", sizeof(struct decoy));
	CHECK(sizeof(struct decoy) <= 176); /* it lives in every connection's head phase */
}

int main(void)
{
	TEST_RUN(verdicts);
	TEST_RUN(buffers);
	TEST_RUN(pages);
	TEST_RUN(chunked);
	TEST_RUN(dates);
	TEST_RUN(size);
	return test_summary();
}
