/* json.h — RFC 8259 JSON reader for small messages: validates one whole text
 * and finds a member of its top-level object, decoding strings into the
 * caller's buffer. Pure: no allocation, no recursion (an explicit bit stack of
 * JSON_MAX_DEPTH levels), no I/O. Never builds a tree. */
#ifndef WSF_PROTO_JSON_H
#define WSF_PROTO_JSON_H

#include <stddef.h>

#define JSON_MAX_DEPTH 32 /* nested arrays/objects; deeper is JSON_ERR_DEPTH */

enum json_type {
	JSON_ABSENT = 0, /* no such member, or the text is not an object */
	JSON_NULL,
	JSON_FALSE,
	JSON_TRUE,
	JSON_NUMBER,
	JSON_STRING,
	JSON_ARRAY,
	JSON_OBJECT,
};

enum json_rc {
	JSON_OK = 0,
	JSON_ERR_SYNTAX = -1,  /* not exactly one JSON text (RFC 8259 §2) */
	JSON_ERR_DEPTH = -2,   /* nesting deeper than JSON_MAX_DEPTH */
	JSON_ERR_UTF8 = -3,    /* a string holds bytes that are not UTF-8 (§8.1) */
	JSON_ERR_TOO_BIG = -4, /* json_string: the decoded string did not fit */
};

/* A value as written: raw is a slice of the text (a string's raw slice
 * includes its quotes). Valid while the text is. */
struct json_value {
	enum json_type type;
	const char *raw;
	size_t raw_len;
};

/* Checks that text[0..len) is exactly one JSON text: a value with optional
 * whitespace around it (no BOM, no trailing bytes). Strings must be UTF-8;
 * a lone surrogate escape is valid (§8.2) and decodes to U+FFFD. JSON_OK with
 * *top set to the value's type, or a negative enum json_rc (then *top is
 * JSON_ABSENT). */
enum json_rc json_check(const char *text, size_t len, enum json_type *top);

/* json_check, and when the text is an object, its member named key (a C
 * string compared with each name after escapes are decoded). When a name
 * repeats, the last member wins, as in JSON.parse and Go's encoding/json.
 * out->type is JSON_ABSENT when there is no such member, when the text is not
 * an object, and on any error. */
enum json_rc json_get(const char *text, size_t len, const char *key, enum json_type *top,
                      struct json_value *out);

/* Decodes a JSON_STRING value to UTF-8 in out (cap >= 1 bytes): as much as
 * fits before a NUL terminator. *len (may be NULL) gets the whole decoded
 * length, which may hold NUL bytes (\u0000). JSON_OK, JSON_ERR_TOO_BIG when
 * the string needed cap bytes or more (out holds its truncated start), or
 * JSON_ERR_SYNTAX when v is not a string. */
enum json_rc json_string(const struct json_value *v, char *out, size_t cap, size_t *len);

/* The elements of a JSON_ARRAY value taken from a checked text (json_get,
 * json_check): *at starts at 0; each call sets el to the next element (its
 * raw slice and type) and advances *at, or sets el->type to JSON_ABSENT at
 * the end. JSON_OK, or JSON_ERR_SYNTAX when arr is not an array's slice. */
enum json_rc json_array_next(const struct json_value *arr, size_t *at, struct json_value *el);

const char *json_strerror(enum json_rc rc);

#endif
