/* ctl.h — the multi-user controller's commands (--controller), in the JSON
 * schema of mos-tls-tunnel's mtt-mu-server so its tools work unchanged:
 * {"opt": 1|2|3|9, "args_bunch": [{"path": P, "dst": "HOST:PORT"}, ...]}
 * (1 add, 2 delete, 3 reset, 9 ping: count), each user optionally with our
 * "key" (its own tunnel key). Pure: reads a body on proto/json, writes the
 * answer {"res":1|2,"err_string":S,"current_users":N}; no I/O, no malloc. */
#ifndef WSF_PROTO_CTL_H
#define WSF_PROTO_CTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/auth.h"
#include "proto/json.h"

#define CTL_MAX_BODY (2u << 20)  /* mtt-mu-server's limit: bigger bodies get 413 */
#define CTL_PATH_MAX 128         /* bytes of a user's path ("/" and a safe alphabet) */
#define CTL_DST_MAX 262          /* "[" 255 "]:65535" */

enum ctl_op {
	CTL_OP_NONE = 0,
	CTL_OP_ADD = 1,    /* add or replace the users of args_bunch */
	CTL_OP_DELETE = 2, /* delete the users of args_bunch by path (unknown ones ignored) */
	CTL_OP_RESET = 3,  /* delete every user */
	CTL_OP_PING = 9,   /* count them */
};

enum ctl_rc {
	CTL_OK = 0,
	CTL_ERR_JSON = -1,   /* not one JSON object */
	CTL_ERR_OPT = -2,    /* "opt" missing or not 1, 2, 3 or 9 */
	CTL_ERR_ARGS = -3,   /* "args_bunch" missing (add, delete) or not an array of objects */
	CTL_ERR_PATH = -4,   /* a path missing, not "/..." of [A-Za-z0-9._~/-], or too long */
	CTL_ERR_DST = -5,    /* a dst missing or not HOST:PORT (add) */
	CTL_ERR_KEY = -6,    /* a key that `wsferry keygen` would not print (nor 64 hex) */
};

/* A checked command: args is the args_bunch array (a slice of the body). */
struct ctl_cmd {
	enum ctl_op op;
	struct json_value args;
	size_t nusers;
};

/* One user of args_bunch. */
struct ctl_user {
	char path[CTL_PATH_MAX + 1];
	char dst[CTL_DST_MAX + 1];           /* "" for delete */
	bool has_key;
	uint8_t key[AUTH_KEY_LEN];           /* the parsed key (has_key) */
};

/* Checks body[0..len) whole, every user included (so a command is applied
 * all or nothing): CTL_OK with c filled, or the first problem; *bad (may be
 * NULL) gets the index of the user at fault. */
enum ctl_rc ctl_parse(const char *body, size_t len, struct ctl_cmd *c, size_t *bad);

/* The users of a command checked by ctl_parse: *at starts at 0; 1 with u
 * filled, 0 at the end. */
int ctl_next_user(const struct ctl_cmd *c, size_t *at, struct ctl_user *u);

/* The answer's body: {"res":1,"err_string":"","current_users":N} (ok) or
 * res 2 with why (quoted here). Its length, 0 when cap is too small. */
size_t ctl_answer(char *out, size_t cap, bool ok, const char *why, size_t users);

/* HTTP status and a sentence for a ctl_rc (400 for all of them). */
const char *ctl_strerror(enum ctl_rc rc);

#endif
