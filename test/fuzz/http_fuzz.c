/* http_fuzz.c — libFuzzer target for proto/http.c. The first two bytes pick
 * the chunk sizes fed to http_head_end; the rest is the message, parsed as a
 * request and as a response. Any broken invariant aborts: this is a test. */
#include "proto/http.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REQUIRE(cond) \
	do {                  \
		if (!(cond))      \
			abort();      \
	} while (0)

static size_t min_size(size_t a, size_t b)
{
	return a < b ? a : b;
}

/* Where the first "\r\n\r\n" ends within n bytes, or 0. */
static size_t first_blank_line(const char *msg, size_t n)
{
	const char *at = memmem(msg, n, "\r\n\r\n", 4);
	return at ? (size_t)(at - msg) + 4 : 0;
}

static void check_head_end_whole(const char *msg, size_t len, int end)
{
	size_t blank = first_blank_line(msg, min_size(len, HTTP_MAX_HEAD));

	if (end > 0)
		REQUIRE((size_t)end == blank);
	else if (end == HTTP_NEED_MORE)
		REQUIRE(blank == 0 && len < HTTP_MAX_HEAD);
	else
		REQUIRE(end == HTTP_ERR_TOO_BIG && blank == 0 && len >= HTTP_MAX_HEAD);
}

/* Chunk sizes alternate between a and b; 0 means "all the rest". */
static int head_end_in_chunks(const char *msg, size_t len, size_t a, size_t b)
{
	size_t scanned = 0, seen = 0;
	int end = HTTP_NEED_MORE;

	for (unsigned turn = 0; end == HTTP_NEED_MORE && seen < len; turn++) {
		size_t step = (turn & 1) ? b : a;
		seen = step == 0 ? len : min_size(seen + step, len);
		end = http_head_end(msg, seen, &scanned);
		REQUIRE(scanned <= seen);
	}
	return end;
}

static bool slice_within(struct http_slice s, const char *buf, size_t len)
{
	return s.p >= buf && s.len <= len && (size_t)(s.p - buf) <= len - s.len;
}

static bool has_byte_below(struct http_slice s, unsigned char limit)
{
	for (size_t i = 0; i < s.len; i++)
		if ((unsigned char)s.p[i] < limit && s.p[i] != '\t')
			return true;
	return false;
}

static void check_headers(const struct http_header *h, size_t n, const char *buf, size_t len)
{
	for (size_t i = 0; i < n; i++) {
		REQUIRE(slice_within(h[i].name, buf, len) && slice_within(h[i].value, buf, len));
		REQUIRE(h[i].name.len > 0 && memchr(h[i].name.p, ':', h[i].name.len) == NULL);
		REQUIRE(!has_byte_below(h[i].name, 0x21));
		REQUIRE(!has_byte_below(h[i].value, 0x20));
		if (h[i].value.len > 0) {
			char first = h[i].value.p[0], last = h[i].value.p[h[i].value.len - 1];
			REQUIRE(first != ' ' && first != '\t' && last != ' ' && last != '\t');
		}
		REQUIRE(http_find(h, n, "") == NULL);
		const struct http_header *found = http_find(h, i + 1, "upgrade");
		REQUIRE(found == NULL || http_slice_eq(found->name, "upgrade"));
		(void)http_has_token(h[i].value, "upgrade");
	}
}

/* What every parse result shares: a known code, bounded count, and a
 * success that ends exactly where http_head_end would have said. */
static void check_rc(int rc, const char *buf, size_t head_len, size_t nheaders)
{
	REQUIRE(rc == (int)head_len || rc == HTTP_ERR_SYNTAX || rc == HTTP_ERR_TOO_BIG ||
	        rc == HTTP_ERR_TOO_MANY || rc == HTTP_ERR_VERSION);
	REQUIRE((rc == HTTP_ERR_TOO_BIG) == (head_len > HTTP_MAX_HEAD));
	REQUIRE(nheaders <= HTTP_MAX_HEADERS);
	if (rc == HTTP_ERR_TOO_MANY)
		REQUIRE(nheaders == HTTP_MAX_HEADERS);
	if (rc > 0) {
		size_t scanned = 0;
		REQUIRE(http_head_end(buf, head_len, &scanned) == rc);
	} else {
		int status = http_rc_status((enum http_rc)rc);
		REQUIRE(status == 400 || status == 431 || status == 505);
		REQUIRE(strcmp(http_reason(status), "Unknown") != 0);
		REQUIRE(http_strerror((enum http_rc)rc) != NULL);
	}
}

static void check_request(const char *buf, size_t head_len)
{
	static struct http_request req;
	int rc = http_parse_request(buf, head_len, &req);

	check_rc(rc, buf, head_len, req.nheaders);
	if (rc <= 0)
		return;
	REQUIRE(slice_within(req.method, buf, head_len) && req.method.len > 0);
	REQUIRE(slice_within(req.target, buf, head_len) && req.target.len > 0);
	REQUIRE(!has_byte_below(req.target, 0x21));
	REQUIRE(req.minor_version >= 0 && req.minor_version <= 9);
	check_headers(req.headers, req.nheaders, buf, head_len);
}

static void check_response(const char *buf, size_t head_len)
{
	static struct http_response resp;
	int rc = http_parse_response(buf, head_len, &resp);

	check_rc(rc, buf, head_len, resp.nheaders);
	if (rc <= 0)
		return;
	REQUIRE(resp.status >= 100 && resp.status <= 599);
	REQUIRE(resp.minor_version >= 0 && resp.minor_version <= 9);
	REQUIRE(slice_within(resp.reason, buf, head_len));
	REQUIRE(!has_byte_below(resp.reason, 0x20));
	check_headers(resp.headers, resp.nheaders, buf, head_len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	/* The message is the tail of libFuzzer's exact-size buffer, so ASan
	 * sees any read past its end. */
	const char *msg = (const char *)data + 2;
	size_t len = size - 2, scanned = 0;

	int end = http_head_end(msg, len, &scanned);
	check_head_end_whole(msg, len, end);
	REQUIRE(head_end_in_chunks(msg, len, data[0], data[1]) == end);

	/* Parse the found head, or else whatever came, to reach every error. */
	size_t head_len = end > 0 ? (size_t)end : min_size(len, HTTP_MAX_HEAD + 1);
	check_request(msg, head_len);
	check_response(msg, head_len);
	return 0;
}
