/* route_test.c — proto/route.c: rule parsing and its wire form, matching by
 * path prefix and by Host, and the forwarded head. */
#include <string.h>

#include "proto/route.h"
#include "test/check.h"

static void parse(const char *s, struct route_rule *r, int want)
{
	CHECK_EQ_INT(route_rule_parse(s, strlen(s), r), want);
}

static void test_parse(void)
{
	struct route_rule r;
	char out[300];
	parse("path api/ /base/", &r, 0);
	CHECK(r.mode == ROUTE_PATH && !r.ws && strcmp(r.value, "/api") == 0 &&
	      strcmp(r.base, "/base") == 0);
	CHECK_EQ_INT(route_rule_format(&r, out, sizeof(out)), 15);
	CHECK(strcmp(out, "path /api /base") == 0);
	parse("path /", &r, 0);
	CHECK(r.value[0] == '\0');
	route_rule_format(&r, out, sizeof(out));
	CHECK(strcmp(out, "path /") == 0);
	parse("domain Svc.Example.COM", &r, 0);
	CHECK(r.mode == ROUTE_DOMAIN && strcmp(r.value, "svc.example.com") == 0);
	parse("ws vnc", &r, 0);
	CHECK(r.ws && strcmp(r.value, "/vnc") == 0);
	CHECK_EQ_INT(route_rule_format(&r, out, 5), 0);
	parse("ws vnc /b", &r, -1);
	parse("path", &r, -1);
	parse("path /a /b /c", &r, -1);
	parse("path  /a", &r, -1);
	parse("path /a ", &r, -1);
	parse("path /a/../b", &r, -1);
	parse("path /a?x", &r, -1);
	parse("domain a_b", &r, -1);
	parse("domain a:80", &r, -1);
	parse("other /a", &r, -1);
	parse("", &r, -1);
}

static int req(const char *head, struct http_request *rq)
{
	return http_parse_request(head, strlen(head), rq);
}

static struct http_slice path_of(const struct http_request *rq)
{
	const char *q = memchr(rq->target.p, '?', rq->target.len);
	return (struct http_slice){rq->target.p, q ? (size_t)(q - rq->target.p) : rq->target.len};
}

static void test_match(void)
{
	struct route_rule r;
	struct http_request rq;
	parse("path /api", &r, 0);
	CHECK(req("GET /api HTTP/1.1\r\nHost: a\r\n\r\n", &rq) > 0 && route_matches(&r, &rq, path_of(&rq)));
	CHECK(req("GET /api/x?y HTTP/1.1\r\nHost: a\r\n\r\n", &rq) > 0 && route_matches(&r, &rq, path_of(&rq)));
	CHECK(req("GET /api?y HTTP/1.1\r\nHost: a\r\n\r\n", &rq) > 0 && route_matches(&r, &rq, path_of(&rq)));
	CHECK(req("GET /apix HTTP/1.1\r\nHost: a\r\n\r\n", &rq) > 0 && !route_matches(&r, &rq, path_of(&rq)));
	CHECK(req("GET http://a/api HTTP/1.1\r\nHost: a\r\n\r\n", &rq) > 0 &&
	      !route_matches(&r, &rq, path_of(&rq)));
	parse("domain svc.example", &r, 0);
	CHECK(req("GET / HTTP/1.1\r\nHost: SVC.example:8080\r\n\r\n", &rq) > 0 &&
	      route_matches(&r, &rq, path_of(&rq)));
	CHECK(req("GET / HTTP/1.1\r\nHost: svc.example.\r\n\r\n", &rq) > 0 &&
	      route_matches(&r, &rq, path_of(&rq)));
	CHECK(req("GET / HTTP/1.1\r\nHost: svc.example.org\r\n\r\n", &rq) > 0 &&
	      !route_matches(&r, &rq, path_of(&rq)));
	CHECK(req("GET / HTTP/1.1\r\n\r\n", &rq) > 0 && !route_matches(&r, &rq, path_of(&rq)));
}

static void test_forward(void)
{
	struct route_rule r;
	struct http_request rq;
	char out[1024];
	const char *h = "POST /api/x?q=1 HTTP/1.1\r\nHost: h:1\r\nX-Forwarded-For: 9.9.9.9\r\n"
	                "X-Forwarded-Proto: gopher\r\nSet: a\r\nSet: b\r\n\r\n";
	parse("path /api /base", &r, 0);
	CHECK(req(h, &rq) > 0);
	size_t n = route_forward_head(out, sizeof(out), &r, &rq, "1.2.3.4", true);
	const char *want = "POST /base/x?q=1 HTTP/1.1\r\nHost: h:1\r\nSet: a\r\nSet: b\r\n"
	                   "X-Forwarded-For: 9.9.9.9, 1.2.3.4\r\nX-Forwarded-Host: h:1\r\n"
	                   "X-Forwarded-Proto: https\r\n\r\n";
	CHECK_EQ_INT(n, strlen(want));
	CHECK(n == strlen(want) && memcmp(out, want, n) == 0);
	CHECK_EQ_INT(route_forward_head(out, 40, &r, &rq, "1.2.3.4", true), 0);
	parse("path /api", &r, 0);
	CHECK(req("GET /api?z HTTP/1.0\r\n\r\n", &rq) > 0);
	n = route_forward_head(out, sizeof(out), &r, &rq, "::1", false);
	want = "GET /?z HTTP/1.0\r\nX-Forwarded-For: ::1\r\nX-Forwarded-Proto: http\r\n\r\n";
	CHECK(n == strlen(want) && memcmp(out, want, n) == 0);
	parse("domain d /b", &r, 0);
	CHECK(req("GET /x HTTP/1.1\r\nHost: d\r\n\r\n", &rq) > 0);
	n = route_forward_head(out, sizeof(out), &r, &rq, "1.1.1.1", false);
	CHECK(n > 0 && memcmp(out, "GET /b/x HTTP/1.1\r\n", 19) == 0);
}

int main(void)
{
	TEST_RUN(test_parse);
	TEST_RUN(test_match);
	TEST_RUN(test_forward);
	return test_summary();
}
