/* json_test.c — proto/json.c against RFC 8259: every value kind, every
 * rejection, UTF-8 and escapes, the depth bound, member lookup and string
 * decoding. Each text is checked from an exact-size heap copy (ASan sees
 * any over-read), and every strict prefix of a valid object is rejected. */
#include "proto/json.h"

#include <stdlib.h>
#include <string.h>

#include "test/check.h"

/* json_get on an exact-size copy of text[0..len). */
static enum json_rc get_n(const char *text, size_t len, const char *key, enum json_type *top,
                          struct json_value *v, char *copy_out)
{
	char *copy = malloc(len ? len : 1);
	if (!copy)
		abort();
	memcpy(copy, text, len);
	enum json_rc rc = json_get(copy, len, key, top, v);
	if (v && v->type != JSON_ABSENT && copy_out) {
		memcpy(copy_out, v->raw, v->raw_len);
		copy_out[v->raw_len] = '\0';
	}
	if (v)
		v->raw = v->raw ? copy_out : NULL; /* the copy dies here */
	free(copy);
	return rc;
}

static void valid(const char *text, enum json_type type)
{
	enum json_type top = JSON_ABSENT;
	CHECK_EQ_INT(get_n(text, strlen(text), NULL, &top, NULL, NULL), JSON_OK);
	CHECK_EQ_INT(top, type);
	if (top != type)
		fprintf(stderr, "  text: %s\n", text);
}

static void invalid_n(const char *text, size_t len, enum json_rc want)
{
	enum json_type top = JSON_OBJECT;
	enum json_rc rc = get_n(text, len, NULL, &top, NULL, NULL);
	CHECK_EQ_INT(rc, want);
	CHECK_EQ_INT(top, JSON_ABSENT);
	if (rc != want)
		fprintf(stderr, "  text: %.*s\n", (int)len, text);
}

static void invalid(const char *text)
{
	invalid_n(text, strlen(text), JSON_ERR_SYNTAX);
}

static void test_values(void)
{
	valid("{}", JSON_OBJECT);
	valid("[]", JSON_ARRAY);
	valid(" \t\r\n{ \t\r\n} \t\r\n", JSON_OBJECT);
	valid("\"\"", JSON_STRING);
	valid("\"a b\"", JSON_STRING);
	valid("true", JSON_TRUE);
	valid("false", JSON_FALSE);
	valid("null", JSON_NULL);
	valid("0", JSON_NUMBER);
	valid("-0", JSON_NUMBER);
	valid("12345678901234567890123", JSON_NUMBER);
	valid("-1.5e+10", JSON_NUMBER);
	valid("1E-2", JSON_NUMBER);
	valid("0.000", JSON_NUMBER);
	valid("1e5", JSON_NUMBER);
	valid("[1,\"2\",[3],{\"4\":[]},true,false,null]", JSON_ARRAY);
	valid("{\"a\":{\"b\":{\"c\":[1,{\"d\":null}]}},\"e\":-0.5}", JSON_OBJECT);
	valid("{\"\":0}", JSON_OBJECT);
	valid("{\"a\":1,\"a\":2}", JSON_OBJECT); /* §4: names SHOULD be unique */
	valid("[ 1 , 2 ]", JSON_ARRAY);
}

static void test_syntax_errors(void)
{
	const char *bad[] = {
		"", " ", "{", "}", "[", "]", "[1,]", "[,1]", "[1 2]", "{\"a\":1,}", "{,}",
		"{\"a\" 1}", "{\"a\":}", "{\"a\"}", "{1:2}", "{a:1}", "{'a':1}", "['a']",
		"01", "-01", "1.", ".5", "-", "+1", "1e", "1e+", "0x10", "1.e3", "--1", "NaN",
		"Infinity", "-Infinity", "tru", "nul", "True", "nulll", "\"abc", "\"\\\"",
		"\"\\x\"", "\"\\u12\"", "\"\\u12g4\"", "\"\\U0041\"", "\"\t\"", "\"\n\"",
		"{} x", "{}{}", "1 2", "[]]", "[}", "{]", "{\"a\":1]", "[1}", "/**/1",
		"1 // c", "\xEF\xBB\xBF{}", "\x0c{}", "[\"a\",]",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		invalid(bad[i]);
	invalid_n("\"\0\"", 3, JSON_ERR_SYNTAX);
	invalid_n("\0", 1, JSON_ERR_SYNTAX);
	invalid_n("{}\0", 3, JSON_ERR_SYNTAX); /* a NUL after the text */
}

static void test_utf8(void)
{
	valid("\"caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80 \xF4\x8F\xBF\xBF\"", JSON_STRING);
	valid("\"\xED\x9F\xBF \xEE\x80\x80\"", JSON_STRING); /* around the surrogates */
	const char *bad[] = {
		"\"\x80\"",             /* lone continuation */
		"\"\xC0\x80\"",         /* overlong NUL */
		"\"\xC1\xBF\"",         /* overlong */
		"\"\xE0\x9F\xBF\"",     /* overlong 3-byte */
		"\"\xED\xA0\x80\"",     /* UTF-16 surrogate */
		"\"\xF0\x8F\xBF\xBF\"", /* overlong 4-byte */
		"\"\xF4\x90\x80\x80\"", /* above U+10FFFF */
		"\"\xF5\x80\x80\x80\"", /* never valid */
		"\"\xFF\"",
		"\"\xC3\"",             /* truncated before the quote */
		"\"\xE2\x82\"",
		"\"\xC3\x28\"",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		invalid_n(bad[i], strlen(bad[i]), JSON_ERR_UTF8);
	invalid_n("\"\xE2\x82", 3, JSON_ERR_UTF8); /* truncated at the end of text */
	invalid("\xC3\xA9"); /* non-ASCII outside a string */
}

static void nest(char *buf, size_t depth, char open, char close)
{
	memset(buf, open, depth);
	memset(buf + depth, close, depth);
	buf[2 * depth] = '\0';
}

static void test_depth(void)
{
	char buf[8 * JSON_MAX_DEPTH + 16];
	nest(buf, JSON_MAX_DEPTH, '[', ']');
	valid(buf, JSON_ARRAY);
	nest(buf, JSON_MAX_DEPTH + 1, '[', ']');
	invalid_n(buf, strlen(buf), JSON_ERR_DEPTH);
	/* objects and arrays alternate on the bit stack */
	char *p = buf;
	for (int i = 0; i < JSON_MAX_DEPTH / 2; i++)
		p += sprintf(p, "{\"k\":[");
	for (int i = 0; i < JSON_MAX_DEPTH / 2; i++)
		p += sprintf(p, "]}");
	valid(buf, JSON_OBJECT);
	buf[strlen(buf) - 2] = '}'; /* "]}" closing becomes "}]": mismatched */
	buf[strlen(buf) - 1] = ']';
	invalid(buf);
	/* deep but unterminated: syntax, not a crash */
	memset(buf, '[', JSON_MAX_DEPTH);
	invalid_n(buf, JSON_MAX_DEPTH, JSON_ERR_SYNTAX);
}

static void every_prefix_invalid(const char *text)
{
	enum json_type top;
	size_t n = strlen(text);
	for (size_t i = 0; i < n; i++) {
		enum json_rc rc = get_n(text, i, "type", &top, NULL, NULL);
		CHECK(rc < 0);
		if (rc >= 0)
			fprintf(stderr, "  prefix %zu of %s accepted\n", i, text);
	}
	CHECK_EQ_INT(get_n(text, n, "type", &top, NULL, NULL), JSON_OK);
}

static void test_prefixes(void)
{
	every_prefix_invalid("{\"type\":\"ping\",\"signature\":\"23b6e6df4ad3a967\","
	                     "\"timestamp\":\"2024-01-15T10:30:45Z\"}");
	every_prefix_invalid(" { \"a\" : [ 1.5e-3 , true , false , null , { } , \"\\u00e9\\n\" ] }");
	every_prefix_invalid("{\"\\ud83d\\ude00\":\"\xF0\x9F\x98\x80\"}");
}

/* json_get for key in text: the value's type and raw text. */
static void member(const char *text, const char *key, enum json_type type, const char *raw)
{
	enum json_type top;
	struct json_value v;
	char got[256];
	CHECK_EQ_INT(get_n(text, strlen(text), key, &top, &v, got), JSON_OK);
	CHECK_EQ_INT(v.type, type);
	if (type == JSON_ABSENT)
		return;
	CHECK_EQ_INT(v.raw_len, strlen(raw));
	CHECK(strcmp(got, raw) == 0);
	if (strcmp(got, raw) != 0)
		fprintf(stderr, "  %s in %s: got %s\n", key, text, got);
}

static void test_get(void)
{
	const char *t = "{ \"s\" : \"x\\\"y\" , \"n\":-1.5e3,\"t\":true,\"f\":false,\"z\":null,"
	                "\"a\":[1,[2]],\"o\":{\"s\":\"inner\",\"x\":{}},\"e\":[] ,\"eo\": {} }";
	member(t, "s", JSON_STRING, "\"x\\\"y\"");
	member(t, "n", JSON_NUMBER, "-1.5e3");
	member(t, "t", JSON_TRUE, "true");
	member(t, "f", JSON_FALSE, "false");
	member(t, "z", JSON_NULL, "null");
	member(t, "a", JSON_ARRAY, "[1,[2]]");
	member(t, "o", JSON_OBJECT, "{\"s\":\"inner\",\"x\":{}}");
	member(t, "e", JSON_ARRAY, "[]");
	member(t, "eo", JSON_OBJECT, "{}");
	member(t, "x", JSON_ABSENT, NULL);    /* only nested */
	member(t, "", JSON_ABSENT, NULL);
	member(t, "ss", JSON_ABSENT, NULL);
	member("{\"a\":1,\"a\":\"two\"}", "a", JSON_STRING, "\"two\""); /* last wins */
	member("{\"a\":{\"a\":1},\"b\":2}", "a", JSON_OBJECT, "{\"a\":1}");
	member("{\"\\u0074ype\":\"ping\"}", "type", JSON_STRING, "\"ping\"");
	member("{\"t\\u0000\":1}", "t", JSON_ABSENT, NULL);
	member("{\"\":5}", "", JSON_NUMBER, "5");
	member("{\"typ\":1,\"types\":2}", "type", JSON_ABSENT, NULL);
	member("[{\"type\":1}]", "type", JSON_ABSENT, NULL); /* not an object */
	member("\"type\"", "type", JSON_ABSENT, NULL);
}

static void test_get_errors(void)
{
	enum json_type top;
	struct json_value v;
	char got[64];
	/* the member is found before the error, but an invalid text has none */
	CHECK_EQ_INT(get_n("{\"a\":1,", 7, "a", &top, &v, got), JSON_ERR_SYNTAX);
	CHECK_EQ_INT(v.type, JSON_ABSENT);
	CHECK_EQ_INT(top, JSON_ABSENT);
	CHECK_EQ_INT(get_n("{\"a\":\"\xFF\"}", 8, "a", &top, &v, got), JSON_ERR_UTF8);
	CHECK_EQ_INT(v.type, JSON_ABSENT);
	CHECK_EQ_INT(json_check("[]", 2, &top), JSON_OK);
	CHECK_EQ_INT(top, JSON_ARRAY);
}

/* Decodes the string member "s" of text into a cap-byte buffer. */
static enum json_rc decode(const char *text, size_t cap, char *out, size_t *len)
{
	enum json_type top;
	struct json_value v;
	char raw[256];
	enum json_rc rc = get_n(text, strlen(text), "s", &top, &v, raw);
	if (rc != JSON_OK)
		return rc;
	v.raw = raw;
	return json_string(&v, out, cap, len);
}

static void decodes_to(const char *text, const char *want, size_t want_len)
{
	char out[64];
	size_t n = 0;
	CHECK_EQ_INT(decode(text, sizeof(out), out, &n), JSON_OK);
	CHECK_EQ_INT(n, want_len);
	CHECK(n == want_len && memcmp(out, want, n) == 0);
	CHECK_EQ_INT(out[n], '\0');
}

static void test_string_decode(void)
{
	decodes_to("{\"s\":\"plain\"}", "plain", 5);
	decodes_to("{\"s\":\"\"}", "", 0);
	decodes_to("{\"s\":\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"}", "\"\\/\b\f\n\r\t", 8);
	decodes_to("{\"s\":\"\\u0041\\u00e9\\u20AC\"}", "A\xC3\xA9\xE2\x82\xAC", 6);
	decodes_to("{\"s\":\"\\ud83d\\ude00\"}", "\xF0\x9F\x98\x80", 4);
	decodes_to("{\"s\":\"\\uDBFF\\uDFFF\"}", "\xF4\x8F\xBF\xBF", 4);
	decodes_to("{\"s\":\"\\ud800\"}", "\xEF\xBF\xBD", 3);          /* lone high */
	decodes_to("{\"s\":\"\\udc00x\"}", "\xEF\xBF\xBDx", 4);        /* lone low */
	decodes_to("{\"s\":\"\\ud800\\u0041\"}", "\xEF\xBF\xBD" "A", 4); /* high + non-low */
	decodes_to("{\"s\":\"\\ud800\\ud800\\udc00\"}", "\xEF\xBF\xBD\xF0\x90\x80\x80", 7);
	decodes_to("{\"s\":\"a\\u0000b\"}", "a\0b", 3);
	decodes_to("{\"s\":\"\xC3\xA9\"}", "\xC3\xA9", 2);
}

static void test_string_bounds(void)
{
	char out[8];
	size_t n = 0;
	/* "abcdefg" needs 8 bytes with its NUL: fits exactly */
	CHECK_EQ_INT(decode("{\"s\":\"abcdefg\"}", 8, out, &n), JSON_OK);
	CHECK_EQ_INT(n, 7);
	CHECK(strcmp(out, "abcdefg") == 0);
	CHECK_EQ_INT(decode("{\"s\":\"abcdefgh\"}", 8, out, &n), JSON_ERR_TOO_BIG);
	CHECK_EQ_INT(n, 8);
	CHECK(strcmp(out, "abcdefg") == 0);
	CHECK_EQ_INT(decode("{\"s\":\"abc\"}", 1, out, &n), JSON_ERR_TOO_BIG);
	CHECK_EQ_INT(out[0], '\0');
	CHECK_EQ_INT(decode("{\"s\":\"\"}", 1, out, NULL), JSON_OK);
	struct json_value num = {.type = JSON_NUMBER, .raw = "1", .raw_len = 1};
	CHECK_EQ_INT(json_string(&num, out, sizeof(out), &n), JSON_ERR_SYNTAX);
	struct json_value bad = {.type = JSON_STRING, .raw = "\"ab", .raw_len = 3};
	CHECK_EQ_INT(json_string(&bad, out, sizeof(out), &n), JSON_ERR_SYNTAX);
}

static void test_strerror(void)
{
	CHECK(strcmp(json_strerror(JSON_OK), "ok") == 0);
	CHECK(strstr(json_strerror(JSON_ERR_DEPTH), "deep") != NULL);
	CHECK(strstr(json_strerror(JSON_ERR_UTF8), "UTF-8") != NULL);
	CHECK(json_strerror(JSON_ERR_SYNTAX) != NULL && json_strerror(JSON_ERR_TOO_BIG) != NULL);
}

int main(void)
{
	TEST_RUN(test_values);
	TEST_RUN(test_syntax_errors);
	TEST_RUN(test_utf8);
	TEST_RUN(test_depth);
	TEST_RUN(test_prefixes);
	TEST_RUN(test_get);
	TEST_RUN(test_get_errors);
	TEST_RUN(test_string_decode);
	TEST_RUN(test_string_bounds);
	TEST_RUN(test_strerror);
	return test_summary();
}
