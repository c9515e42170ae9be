/* json_fuzz.c — libFuzzer target for proto/json.c and the ping checks on it.
 * First byte: json_string's buffer size; the rest: the text. Lookups agree
 * with json_check, a member's raw slice is a valid text of its type, decoded
 * strings are bounded UTF-8. A broken invariant aborts: this is a test. */
#include "proto/json.h"
#include "proto/ping.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REQUIRE(cond) \
	do {                  \
		if (!(cond))      \
			abort();      \
	} while (0)

/* Well-formed UTF-8 (RFC 3629), written independently of json.c. */
static bool utf8_ok(const uint8_t *s, size_t n)
{
	size_t i = 0;
	while (i < n) {
		uint32_t c = s[i], cp, need;
		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xC2 && c <= 0xDF)
			need = 1, cp = c & 0x1F;
		else if (c >= 0xE0 && c <= 0xEF)
			need = 2, cp = c & 0x0F;
		else if (c >= 0xF0 && c <= 0xF4)
			need = 3, cp = c & 0x07;
		else
			return false;
		if (n - i <= need)
			return false;
		for (uint32_t k = 1; k <= need; k++) {
			if ((s[i + k] & 0xC0) != 0x80)
				return false;
			cp = cp << 6 | (s[i + k] & 0x3F);
		}
		if ((need == 2 && cp < 0x800) || (need == 3 && cp < 0x10000) || cp > 0x10FFFF ||
		    (cp >= 0xD800 && cp <= 0xDFFF))
			return false;
		i += need + 1;
	}
	return true;
}

static void check_string(const struct json_value *v, size_t cap)
{
	char small[256], whole[4096 + 1];
	size_t n = 0, m = 0;
	enum json_rc rc = json_string(v, small, cap, &n);
	REQUIRE(rc == JSON_OK || rc == JSON_ERR_TOO_BIG);
	REQUIRE((rc == JSON_OK) == (n < cap));
	REQUIRE(strlen(small) <= n && strlen(small) < cap);
	/* decoding never grows: an escape is longer than its UTF-8 */
	REQUIRE(n <= v->raw_len - 2);
	if (v->raw_len > 4096)
		return;
	REQUIRE(json_string(v, whole, sizeof(whole), &m) == JSON_OK && m == n);
	REQUIRE(memcmp(small, whole, n < cap ? n : cap - 1) == 0);
	REQUIRE(utf8_ok((const uint8_t *)whole, m));
}

static void check_member(const char *text, size_t len, const char *key, enum json_rc want_rc,
                         enum json_type want_top, size_t cap)
{
	enum json_type top, sub;
	struct json_value v;
	enum json_rc rc = json_get(text, len, key, &top, &v);
	REQUIRE(rc == want_rc && top == want_top);
	if (rc != JSON_OK || top != JSON_OBJECT) {
		REQUIRE(v.type == JSON_ABSENT);
		return;
	}
	if (v.type == JSON_ABSENT)
		return;
	REQUIRE(v.raw >= text && v.raw_len > 0 && v.raw_len <= len - (size_t)(v.raw - text));
	REQUIRE(json_check(v.raw, v.raw_len, &sub) == JSON_OK && sub == v.type);
	if (v.type == JSON_STRING)
		check_string(&v, cap);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	size_t cap = (size_t)data[0] % 255 + 1;
	/* The text is the tail of libFuzzer's exact-size buffer, so ASan sees
	 * any read past its end. */
	const char *text = (const char *)data + 1;
	size_t len = size - 1;
	enum json_type top;
	enum json_rc rc = json_check(text, len, &top);
	REQUIRE(rc == JSON_OK || rc == JSON_ERR_SYNTAX || rc == JSON_ERR_DEPTH || rc == JSON_ERR_UTF8);
	REQUIRE((rc == JSON_OK) == (top != JSON_ABSENT));
	REQUIRE(json_strerror(rc) != NULL);
	check_member(text, len, "type", rc, top, cap);
	check_member(text, len, "signature", rc, top, cap);
	check_member(text, len, "", rc, top, cap);

	enum ping_verdict v = ping_check((const uint8_t *)text, len, "ming-mong-server", 1705314645);
	REQUIRE(v >= PING_OK && v <= PING_INVALID_SIGNATURE);
	REQUIRE((v == PING_INVALID_FORMAT) == (rc != JSON_OK || top != JSON_OBJECT ||
	                                       len > PING_MAX_MESSAGE));
	char code[PING_CODE_MAX];
	enum ping_answer a = ping_answer_read((const uint8_t *)text, len, code);
	REQUIRE(a == PING_ANSWER_PONG || a == PING_ANSWER_ERROR || a == PING_ANSWER_UNKNOWN);
	REQUIRE(strlen(code) < PING_CODE_MAX);
	return 0;
}
