/* push.h — the push API's messages (issue 13): a POST body (JSON
 * {"message": ..., "sender": ...} or raw UTF-8 text) checked and turned into
 * the one text frame every subscriber gets, the ?topic= of a request target,
 * and the API key's constant-time check. Pure: no I/O, no allocation, no
 * clock (the time is an argument). */
#ifndef WSF_PROTO_PUSH_H
#define WSF_PROTO_PUSH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PUSH_TOPIC_MAX 64       /* bytes of a decoded topic name */
#define PUSH_SENDER_MAX 128     /* bytes of a decoded sender */
#define PUSH_KEY_HASH_LEN 32    /* SHA-256 of the API key */
#define PUSH_FRAME_EXTRA 512    /* what the frame adds around message and sender */

enum push_rc {
	PUSH_OK = 0,
	PUSH_ERR_JSON = -1,       /* not one JSON object: 400 */
	PUSH_ERR_UTF8 = -2,       /* not UTF-8 (text body, or a JSON string): 400 */
	PUSH_ERR_NO_MESSAGE = -3, /* no "message" member (or an empty text body): 400 */
	PUSH_ERR_SENDER = -4,     /* "sender" not a string of <= PUSH_SENDER_MAX bytes: 400 */
	PUSH_ERR_TOPIC = -5,      /* ?topic= not 1..64 of [A-Za-z0-9._~-]: 400 */
	PUSH_ERR_BUS = -6,        /* not a push bus message (proto/pushbus.h) */
};

/* A checked message: slices into the body it was read from. */
struct push_msg {
	const char *message;  /* JSON: the raw value as sent; text: the body */
	size_t message_len;
	bool message_json;    /* message is a JSON value (else UTF-8 text) */
	const char *sender;   /* JSON: the raw string with quotes; NULL: none */
	size_t sender_len;
};

/* Checks a POST body: json (Content-Type not text/...) wants one object
 * with a "message" member of any type and an optional "sender" string;
 * otherwise the body is the message, as UTF-8 text (not empty). */
enum push_rc push_msg_parse(const char *body, size_t len, bool json, struct push_msg *m);

/* The frame's text: {"type":"message","topic":T,"sender":S,"message":M,
 * "time":TIME} (topic and sender null when absent), wrapped in prefix and
 * suffix (NULL: none) — Socket.IO's 42["message", and ]. Returns its
 * length, 0 when cap is too small (message_len + PUSH_FRAME_EXTRA +
 * 6 * PUSH_SENDER_MAX always fits). */
size_t push_frame_text(char *out, size_t cap, const struct push_msg *m, const char *topic,
                       const char *time_iso, const char *prefix, const char *suffix);

/* The ?topic= of a request target, percent-decoded into out (NUL-ended):
 * its length, 0 when there is none (the default channel), or
 * PUSH_ERR_TOPIC. Other query parameters are ignored. */
int push_topic(const char *target, size_t len, char out[PUSH_TOPIC_MAX + 1]);

/* The value of query parameter name in target, raw (not decoded), or NULL. */
const char *push_query_param(const char *target, size_t len, const char *name, size_t *vlen);

/* SHA-256 of an API key (what the server keeps instead of the key). */
void push_key_hash(const char *key, size_t len, uint8_t out[PUSH_KEY_HASH_LEN]);
/* True when given hashes to want: a constant-time comparison whose time
 * does not depend on where, or whether, the two keys differ. */
bool push_key_match(const uint8_t want[PUSH_KEY_HASH_LEN], const char *given, size_t len);

/* Appends s as a JSON string (quotes included; controls, quote, backslash,
 * <, > and & escaped so the text is also safe inside HTML). Returns the
 * bytes written, 0 when cap is too small. s must be UTF-8. */
size_t push_json_quote(char *out, size_t cap, const char *s, size_t n);

/* HTTP status for a push_rc (400), and a sentence for the reply body. */
const char *push_strerror(enum push_rc rc);

#endif
