/* pushbus.h — a push message as it crosses the push bus (--push-bus, Redis
 * pub/sub): one header line naming the publishing process, how the message
 * was delivered there, when and from where it came and its topic, then the
 * POST body exactly as it was sent (every node checks it again with
 * push_msg_parse: a bus publisher is trusted no more than a POST). Pure: no
 * I/O, no allocation, no clock. */
#ifndef WSF_PROTO_PUSHBUS_H
#define WSF_PROTO_PUSHBUS_H

#include <stdbool.h>
#include <stddef.h>

#include "proto/push.h"

#define PUSHBUS_TAG_MAX 32    /* a process's tag: [0-9a-z-] */
#define PUSHBUS_TIME_MAX 31   /* the time as the frame says it (ISO-8601) */
#define PUSHBUS_IP_MAX 47     /* the POST's source address (IPv4 or IPv6 text) */
#define PUSHBUS_HEAD_MAX 200  /* the header line at most, its LF included */

/* One bus message read by pushbus_parse: strings copied out (NUL-ended),
 * the body a slice into the input. */
struct pushbus_msg {
	char tag[PUSHBUS_TAG_MAX + 1];    /* the publishing process */
	bool local;                       /* the publisher already delivered it to
	                                   * its own subscribers: it skips its copy */
	bool json;                        /* the body is JSON (else UTF-8 text) */
	char time[PUSHBUS_TIME_MAX + 1];
	char ip[PUSHBUS_IP_MAX + 1];
	char topic[PUSH_TOPIC_MAX + 1];   /* "" the default channel */
	const char *body;
	size_t body_len;
};

/* Writes the header line "wsferry-push/1 TAG FLAGS TIME IP TOPIC\n" (FLAGS:
 * L or B, then J or T; TOPIC * for the default channel) into out: its
 * length, 0 when a field is out of its alphabet or bounds or cap is short.
 * The body follows it unchanged. */
size_t pushbus_head(char *out, size_t cap, const struct pushbus_msg *m);

/* Reads a bus message (header + body) from in[0..len): PUSH_OK with m
 * filled, or PUSH_ERR_BUS (another format, a field out of bounds). */
enum push_rc pushbus_parse(const char *in, size_t len, struct pushbus_msg *m);

#endif
