/* ctl.c — controller commands of ctl.h: one pass of proto/json over the
 * body, then one per user (each user object is small), strict alphabets
 * for paths and destinations, keys as `wsferry keygen` prints them. */
#include "proto/ctl.h"

#include <string.h>

#include "proto/tunnel.h"
#include "proto/url.h"

static bool path_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '.' || c == '_' || c == '~' || c == '/' || c == '-';
}

/* A member that must be a string, decoded into out: CTL_OK, absent (rc_absent), or bad. */
static enum ctl_rc member_string(const struct json_value *obj, const char *name, char *out,
                                 size_t cap, size_t *len, enum ctl_rc bad)
{
	enum json_type top;
	struct json_value v;
	out[0] = '\0';
	*len = 0;
	json_get(obj->raw, obj->raw_len, name, &top, &v);
	if (v.type == JSON_ABSENT)
		return CTL_OK;
	if (v.type != JSON_STRING || json_string(&v, out, cap, len) != JSON_OK || strlen(out) != *len)
		return bad;
	return CTL_OK;
}

static enum ctl_rc user_read(const struct json_value *obj, enum ctl_op op, struct ctl_user *u)
{
	size_t n;
	memset(u, 0, sizeof(*u));
	if (obj->type != JSON_OBJECT)
		return CTL_ERR_ARGS;
	if (member_string(obj, "path", u->path, sizeof(u->path), &n, CTL_ERR_PATH) != CTL_OK ||
	    n == 0 || u->path[0] != '/')
		return CTL_ERR_PATH;
	for (size_t i = 0; i < n; i++)
		if (!path_char(u->path[i]))
			return CTL_ERR_PATH;
	if (op != CTL_OP_ADD)
		return CTL_OK;
	char host[URL_MAX_HOST + 1];
	uint16_t port;
	if (member_string(obj, "dst", u->dst, sizeof(u->dst), &n, CTL_ERR_DST) != CTL_OK || n == 0 ||
	    tunnel_target_split(u->dst, n, host, sizeof(host), &port) < 0 || port == 0)
		return CTL_ERR_DST;
	char key[96];
	const char *why;
	if (member_string(obj, "key", key, sizeof(key), &n, CTL_ERR_KEY) != CTL_OK)
		return CTL_ERR_KEY;
	if (n) {
		if (auth_key_parse(key, n, u->key, &why) < 0)
			return CTL_ERR_KEY;
		u->has_key = true;
	}
	return CTL_OK;
}

enum ctl_rc ctl_parse(const char *body, size_t len, struct ctl_cmd *c, size_t *bad)
{
	enum json_type top;
	struct json_value opt;
	size_t bad_at = 0;
	memset(c, 0, sizeof(*c));
	if (bad)
		*bad = 0;
	if (json_get(body, len, "opt", &top, &opt) != JSON_OK || top != JSON_OBJECT)
		return CTL_ERR_JSON;
	if (opt.type != JSON_NUMBER || opt.raw_len != 1 || !strchr("1239", opt.raw[0]))
		return CTL_ERR_OPT;
	c->op = (enum ctl_op)(opt.raw[0] - '0');
	json_get(body, len, "args_bunch", &top, &c->args);
	if (c->op == CTL_OP_RESET || c->op == CTL_OP_PING)
		return CTL_OK; /* args_bunch, if any, is not looked at */
	if (c->args.type != JSON_ARRAY)
		return CTL_ERR_ARGS;
	size_t at = 0;
	struct json_value el;
	for (;;) {
		if (json_array_next(&c->args, &at, &el) != JSON_OK)
			return CTL_ERR_ARGS;
		if (el.type == JSON_ABSENT)
			return CTL_OK;
		struct ctl_user u;
		enum ctl_rc rc = user_read(&el, c->op, &u);
		if (rc != CTL_OK) {
			if (bad)
				*bad = bad_at;
			return rc;
		}
		bad_at++;
		c->nusers++;
	}
}

int ctl_next_user(const struct ctl_cmd *c, size_t *at, struct ctl_user *u)
{
	struct json_value el;
	if (json_array_next(&c->args, at, &el) != JSON_OK || el.type == JSON_ABSENT)
		return 0;
	return user_read(&el, c->op, u) == CTL_OK;
}

static void put(char *out, size_t cap, size_t *n, const char *s, size_t len)
{
	if (*n + len <= cap)
		memcpy(out + *n, s, len);
	*n += len;
}

size_t ctl_answer(char *out, size_t cap, bool ok, const char *why, size_t users)
{
	char num[24];
	size_t n = 0, d = 0;
	do {
		num[sizeof(num) - 1 - d++] = (char)('0' + users % 10);
		users /= 10;
	} while (users);
	put(out, cap, &n, ok ? "{\"res\":1,\"err_string\":\"" : "{\"res\":2,\"err_string\":\"", 23);
	for (const char *p = ok ? "" : why; *p; p++) {
		if (*p == '"' || *p == '\\')
			put(out, cap, &n, "\\", 1);
		if ((unsigned char)*p >= 0x20)
			put(out, cap, &n, p, 1);
	}
	put(out, cap, &n, "\",\"current_users\":", 18);
	put(out, cap, &n, num + sizeof(num) - d, d);
	put(out, cap, &n, "}", 1);
	return n <= cap ? n : 0;
}

const char *ctl_strerror(enum ctl_rc rc)
{
	switch (rc) {
	case CTL_OK:
		return "ok";
	case CTL_ERR_JSON:
		return "the body is not a JSON object";
	case CTL_ERR_OPT:
		return "opt must be 1 (add), 2 (delete), 3 (reset) or 9 (ping)";
	case CTL_ERR_ARGS:
		return "args_bunch must be an array of objects";
	case CTL_ERR_PATH:
		return "path must be /... of at most 128 characters of A-Z a-z 0-9 . _ ~ / -";
	case CTL_ERR_DST:
		return "dst must be HOST:PORT";
	case CTL_ERR_KEY:
		return "key must be what wsferry keygen prints (or 64 hex digits)";
	}
	return "unknown error";
}
