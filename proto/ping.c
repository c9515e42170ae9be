/* ping.c — the ming-mong ping protocol as pure functions: UTC calendar
 * arithmetic (no gmtime, no TZ), the SHA-256 day signature, the checks of a
 * first message and the JSON the two ends send. Never reads a clock. */
#include "proto/ping.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <bearssl.h>

#include "proto/json.h"

#define PING_SECS_PER_DAY 86400
#define PING_MAX_SECS INT64_C(253402300799) /* 9999-12-31T23:59:59Z */

struct civil {
	unsigned year, month, day, hour, minute, second;
};

/* Days since 1970-01-01 to a proleptic Gregorian date (H. Hinnant's
 * civil_from_days); days >= 0 here, so plain unsigned arithmetic. */
static void civil_from_days(uint64_t days, struct civil *c)
{
	uint64_t z = days + 719468;
	uint64_t era = z / 146097;
	unsigned doe = (unsigned)(z - era * 146097);
	unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	unsigned mp = (5 * doy + 2) / 153;
	c->day = doy - (153 * mp + 2) / 5 + 1;
	c->month = mp < 10 ? mp + 3 : mp - 9;
	c->year = (unsigned)(yoe + era * 400) + (c->month <= 2);
}

static void civil_from_secs(int64_t secs, struct civil *c)
{
	uint64_t s = secs < 0 ? 0 : secs > PING_MAX_SECS ? (uint64_t)PING_MAX_SECS : (uint64_t)secs;
	unsigned rem = (unsigned)(s % PING_SECS_PER_DAY);
	civil_from_days(s / PING_SECS_PER_DAY, c);
	c->hour = rem / 3600;
	c->minute = rem / 60 % 60;
	c->second = rem % 60;
}

/* n decimal digits of v, zero-padded; returns the position after them. */
static char *put_digits(char *p, unsigned v, unsigned n)
{
	for (unsigned i = n; i > 0; i--) {
		p[i - 1] = (char)('0' + v % 10);
		v /= 10;
	}
	return p + n;
}

static char *put_date(char *p, const struct civil *c)
{
	p = put_digits(p, c->year, 4);
	*p++ = '-';
	p = put_digits(p, c->month, 2);
	*p++ = '-';
	return put_digits(p, c->day, 2);
}

void ping_date(int64_t secs, char out[PING_DATE_LEN + 1])
{
	struct civil c;
	civil_from_secs(secs, &c);
	*put_date(out, &c) = '\0';
}

void ping_time(const struct timespec *ts, char out[PING_TIME_LEN + 1])
{
	struct civil c;
	long ns = ts->tv_nsec < 0 ? 0 : ts->tv_nsec > 999999999 ? 999999999 : ts->tv_nsec;
	civil_from_secs((int64_t)ts->tv_sec, &c);
	char *p = put_date(out, &c);
	*p++ = 'T';
	p = put_digits(p, c.hour, 2);
	*p++ = ':';
	p = put_digits(p, c.minute, 2);
	*p++ = ':';
	p = put_digits(p, c.second, 2);
	*p++ = '.';
	p = put_digits(p, (unsigned)(ns / 1000000), 3);
	*p++ = 'Z';
	*p = '\0';
}

void ping_signature(int64_t secs, const char *name, char out[PING_SIG_LEN + 1])
{
	static const char hex[] = "0123456789abcdef";
	char date[PING_DATE_LEN + 1];
	uint8_t digest[br_sha256_SIZE];
	br_sha256_context ctx;
	ping_date(secs, date);
	br_sha256_init(&ctx);
	br_sha256_update(&ctx, date, PING_DATE_LEN);
	br_sha256_update(&ctx, name, strlen(name));
	br_sha256_out(&ctx, digest);
	for (size_t i = 0; i < PING_SIG_LEN / 2; i++) {
		out[2 * i] = hex[digest[i] >> 4];
		out[2 * i + 1] = hex[digest[i] & 15];
	}
	out[PING_SIG_LEN] = '\0';
}

/* Member key of the object msg is a string equal to want. */
static bool member_is(const uint8_t *msg, size_t len, const char *key, const char *want)
{
	enum json_type top;
	struct json_value v;
	char s[32];
	size_t n;
	if (json_get((const char *)msg, len, key, &top, &v) != JSON_OK ||
	    json_string(&v, s, sizeof(s), &n) != JSON_OK)
		return false;
	return n == strlen(want) && memcmp(s, want, n) == 0;
}

/* Today's or yesterday's signature, exactly (SPEC: case-sensitive). */
static bool signature_ok(const uint8_t *msg, size_t len, const char *name, int64_t now)
{
	enum json_type top;
	struct json_value v;
	char got[PING_SIG_LEN + 1], want[PING_SIG_LEN + 1];
	size_t n;
	if (json_get((const char *)msg, len, "signature", &top, &v) != JSON_OK ||
	    json_string(&v, got, sizeof(got), &n) != JSON_OK || n != PING_SIG_LEN)
		return false;
	ping_signature(now, name, want);
	if (memcmp(got, want, PING_SIG_LEN) == 0)
		return true;
	ping_signature(now - PING_SECS_PER_DAY, name, want);
	return memcmp(got, want, PING_SIG_LEN) == 0;
}

enum ping_verdict ping_check(const uint8_t *msg, size_t len, const char *name, int64_t now)
{
	enum json_type top;
	if (len > PING_MAX_MESSAGE || json_check((const char *)msg, len, &top) != JSON_OK ||
	    top != JSON_OBJECT)
		return PING_INVALID_FORMAT;
	if (!member_is(msg, len, "type", "ping"))
		return PING_INVALID_TYPE;
	if (!signature_ok(msg, len, name, now))
		return PING_INVALID_SIGNATURE;
	return PING_OK;
}

const char *ping_verdict_code(enum ping_verdict v)
{
	switch (v) {
	case PING_OK: return "ok";
	case PING_INVALID_FORMAT: return "invalid_format";
	case PING_INVALID_TYPE: return "invalid_type";
	case PING_INVALID_SIGNATURE: return "invalid_signature";
	}
	return "invalid_format";
}

/* snprintf's result as ours: the length, or 0 when it did not fit. */
static size_t fitted(int n, size_t cap)
{
	return n < 0 || (size_t)n >= cap ? 0 : (size_t)n;
}

size_t ping_reply(char *out, size_t cap, enum ping_verdict v, const struct timespec *now)
{
	char t[PING_TIME_LEN + 1];
	ping_time(now, t);
	if (v == PING_OK)
		return fitted(snprintf(out, cap,
		                       "{\"type\":\"pong\",\"status\":\"ok\",\"timestamp\":\"%s\","
		                       "\"server_time\":\"%s\"}", t, t), cap);
	return fitted(snprintf(out, cap, "{\"type\":\"error\",\"error\":\"%s\",\"timestamp\":\"%s\"}",
	                       ping_verdict_code(v), t), cap);
}

size_t ping_request(char *out, size_t cap, const char *name, const struct timespec *now)
{
	char t[PING_TIME_LEN + 1], sig[PING_SIG_LEN + 1];
	ping_time(now, t);
	ping_signature((int64_t)now->tv_sec, name, sig);
	return fitted(snprintf(out, cap, "{\"type\":\"ping\",\"signature\":\"%s\",\"timestamp\":\"%s\"}",
	                       sig, t), cap);
}

static void error_code(const uint8_t *msg, size_t len, char code[PING_CODE_MAX])
{
	enum json_type top;
	struct json_value v;
	if (json_get((const char *)msg, len, "error", &top, &v) != JSON_OK ||
	    json_string(&v, code, PING_CODE_MAX, NULL) == JSON_ERR_SYNTAX || !code[0]) {
		strcpy(code, "?");
		return;
	}
	for (char *p = code; *p; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e)
			*p = '?';
}

enum ping_answer ping_answer_read(const uint8_t *msg, size_t len, char code[PING_CODE_MAX])
{
	code[0] = '\0';
	if (member_is(msg, len, "type", "pong") && member_is(msg, len, "status", "ok"))
		return PING_ANSWER_PONG;
	if (!member_is(msg, len, "type", "error"))
		return PING_ANSWER_UNKNOWN;
	error_code(msg, len, code);
	return PING_ANSWER_ERROR;
}
