/* sip003.c — the SS_PLUGIN_OPTIONS tokenizer (shadowsocks SIP003): one
 * option per call, escapes undone into the caller's struct. */
#include "proto/sip003.h"

/* Appends c to out (cap bytes before the NUL); false when full. */
static bool put(char *out, size_t *n, size_t cap, char c)
{
	if (*n >= cap)
		return false;
	out[(*n)++] = c;
	return true;
}

enum sip003_rc sip003_next(const char *s, size_t len, size_t *pos, struct sip003_opt *o)
{
	size_t i = *pos;
	while (i < len && s[i] == ';')
		i++;
	if (i >= len) {
		*pos = len;
		return SIP003_END;
	}
	size_t kn = 0, vn = 0;
	bool in_value = false;
	o->has_value = false;
	for (; i < len && s[i] != ';'; i++) {
		char c = s[i];
		if (c == '=' && !in_value) {
			in_value = o->has_value = true;
			continue;
		}
		if (c == '\\') {
			if (++i >= len)
				return SIP003_ERR_ESCAPE;
			c = s[i];
		}
		if ((unsigned char)c < 0x20 || c == 0x7f)
			return SIP003_ERR_CONTROL;
		bool ok = in_value ? put(o->value, &vn, SIP003_MAX_VALUE, c)
		                   : put(o->key, &kn, SIP003_MAX_KEY, c);
		if (!ok)
			return SIP003_ERR_TOO_LONG;
	}
	o->key[kn] = '\0';
	o->value[vn] = '\0';
	if (kn == 0)
		return SIP003_ERR_NO_KEY;
	*pos = i < len ? i + 1 : len;
	return SIP003_OPT;
}

const char *sip003_strerror(enum sip003_rc rc)
{
	switch (rc) {
	case SIP003_OPT: return "an option";
	case SIP003_END: return "the end";
	case SIP003_ERR_TOO_LONG: return "a name or value too long";
	case SIP003_ERR_ESCAPE: return "a '\\' at the end (escape a backslash as \\\\)";
	case SIP003_ERR_NO_KEY: return "a value without a name (\"=...\"; escape '=' as \\=)";
	case SIP003_ERR_CONTROL: return "a control character";
	}
	return "unknown error";
}
