/* pushbus.c — the bus message of pushbus.h: one strict header line (known
 * magic, exactly six fields split by single spaces, each in its own
 * alphabet), then the body untouched. */
#include "proto/pushbus.h"

#include <string.h>

#define MAGIC "wsferry-push/1"

static bool in_set(const char *set, char c)
{
	return c && strchr(set, c) != NULL;
}

#define TAG_SET "0123456789abcdefghijklmnopqrstuvwxyz-"
#define TIME_SET "0123456789-:.TZ"
#define IP_SET "0123456789abcdefABCDEF:."
#define TOPIC_SET "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._~-"

/* A field of 1..max bytes of set: copied into out (NUL-ended) or false. */
static bool field(const char *p, size_t n, const char *set, size_t max, char *out)
{
	if (n == 0 || n > max)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!in_set(set, p[i]))
			return false;
	memcpy(out, p, n);
	out[n] = '\0';
	return true;
}

static bool put(char *out, size_t cap, size_t *at, const char *s, size_t n)
{
	if (*at + n > cap)
		return false;
	memcpy(out + *at, s, n);
	*at += n;
	return true;
}

size_t pushbus_head(char *out, size_t cap, const struct pushbus_msg *m)
{
	char check[PUSH_TOPIC_MAX + 1];
	const char *topic = m->topic[0] ? m->topic : "*";
	char flags[2] = {m->local ? 'L' : 'B', m->json ? 'J' : 'T'};
	if (!field(m->tag, strlen(m->tag), TAG_SET, PUSHBUS_TAG_MAX, check) ||
	    !field(m->time, strlen(m->time), TIME_SET, PUSHBUS_TIME_MAX, check) ||
	    !field(m->ip, strlen(m->ip), IP_SET, PUSHBUS_IP_MAX, check) ||
	    (m->topic[0] && !field(m->topic, strlen(m->topic), TOPIC_SET, PUSH_TOPIC_MAX, check)))
		return 0;
	size_t at = 0;
	bool ok = put(out, cap, &at, MAGIC " ", sizeof(MAGIC)) &&
	          put(out, cap, &at, m->tag, strlen(m->tag)) && put(out, cap, &at, " ", 1) &&
	          put(out, cap, &at, flags, 2) && put(out, cap, &at, " ", 1) &&
	          put(out, cap, &at, m->time, strlen(m->time)) && put(out, cap, &at, " ", 1) &&
	          put(out, cap, &at, m->ip, strlen(m->ip)) && put(out, cap, &at, " ", 1) &&
	          put(out, cap, &at, topic, strlen(topic)) && put(out, cap, &at, "\n", 1);
	return ok ? at : 0;
}

/* The next field of the header [*p, end) up to a space (or the end). */
static size_t next_field(const char **p, const char *end, const char **start)
{
	*start = *p;
	const char *sp = memchr(*p, ' ', (size_t)(end - *p));
	size_t n = (size_t)((sp ? sp : end) - *p);
	*p = sp ? sp + 1 : end;
	return n;
}

enum push_rc pushbus_parse(const char *in, size_t len, struct pushbus_msg *m)
{
	memset(m, 0, sizeof(*m));
	size_t lim = len < PUSHBUS_HEAD_MAX ? len : PUSHBUS_HEAD_MAX;
	const char *lf = memchr(in, '\n', lim);
	if (!lf || lim < sizeof(MAGIC) || memcmp(in, MAGIC " ", sizeof(MAGIC)) != 0)
		return PUSH_ERR_BUS;
	const char *p = in + sizeof(MAGIC), *f;
	size_t n = next_field(&p, lf, &f);
	if (!field(f, n, TAG_SET, PUSHBUS_TAG_MAX, m->tag))
		return PUSH_ERR_BUS;
	n = next_field(&p, lf, &f);
	if (n != 2 || (f[0] != 'L' && f[0] != 'B') || (f[1] != 'J' && f[1] != 'T'))
		return PUSH_ERR_BUS;
	m->local = f[0] == 'L';
	m->json = f[1] == 'J';
	n = next_field(&p, lf, &f);
	if (!field(f, n, TIME_SET, PUSHBUS_TIME_MAX, m->time))
		return PUSH_ERR_BUS;
	n = next_field(&p, lf, &f);
	if (!field(f, n, IP_SET, PUSHBUS_IP_MAX, m->ip))
		return PUSH_ERR_BUS;
	n = next_field(&p, lf, &f);
	if (f + n != lf)
		return PUSH_ERR_BUS; /* a seventh field, or a trailing space */
	if (!(n == 1 && f[0] == '*') && !field(f, n, TOPIC_SET, PUSH_TOPIC_MAX, m->topic))
		return PUSH_ERR_BUS;
	m->body = lf + 1;
	m->body_len = len - (size_t)(lf + 1 - in);
	return PUSH_OK;
}
