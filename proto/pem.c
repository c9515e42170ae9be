/* pem.c — RFC 7468 block finder/decoder and encoder. Lax where RFC 7468
 * §2 allows (explanatory text, whitespace, missing padding), strict where
 * a mistake would hide a broken file (foreign characters, label mismatch).
 * Never allocates; the decoded bytes go to the caller's buffer. */
#include "proto/pem.h"

#include <string.h>

#include "proto/base64.h"

static const char begin_mark[] = "-----BEGIN ";
static const char end_mark[] = "-----END ";
static const char dashes[] = "-----";

#define MARK_LEN(s) (sizeof(s) - 1)

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

static const char *find(const char *in, size_t n, size_t from, const char *s, size_t sl)
{
	if (from > n)
		return NULL;
	return memmem(in + from, n - from, s, sl);
}

bool pem_detect(const char *in, size_t n)
{
	return find(in, n, 0, begin_mark, MARK_LEN(begin_mark)) != NULL;
}

size_t pem_line(const char *in, size_t n, size_t off)
{
	size_t line = 1;
	for (size_t i = 0; i < off && i < n; i++)
		line += in[i] == '\n';
	return line;
}

/* Offset just past the end of the line containing in[i]. */
static size_t next_line(const char *in, size_t n, size_t i)
{
	const char *nl = i < n ? memchr(in + i, '\n', n - i) : NULL;
	return nl ? (size_t)(nl - in) + 1 : n;
}

/* Label between the marker at in[i] and the closing dashes; the rest of the
 * line must be blank. Returns the offset after that line, or 0. */
static size_t read_label(const char *in, size_t n, size_t i, char *label)
{
	const char *d = find(in, n, i, dashes, MARK_LEN(dashes));
	if (!d || (size_t)(d - in) - i > PEM_LABEL_MAX)
		return 0;
	size_t len = (size_t)(d - in) - i;
	for (size_t k = 0; k < len; k++) {
		char c = in[i + k];
		if (c < 0x20 || c > 0x7e)
			return 0;
		label[k] = c;
	}
	label[len] = '\0';
	size_t j = (size_t)(d - in) + MARK_LEN(dashes);
	for (; j < n && in[j] != '\n'; j++)
		if (!is_space(in[j]))
			return 0;
	return j < n ? j + 1 : n;
}

/* RFC 1421 headers ("Proc-Type: 4,ENCRYPTED") sit before a blank line. */
static size_t skip_headers(const char *in, size_t n, size_t i, bool *has)
{
	size_t eol = next_line(in, n, i);
	*has = memchr(in + i, ':', eol - i) != NULL;
	if (!*has)
		return i;
	while (i < n) {
		size_t e = next_line(in, n, i);
		bool blank = true;
		for (size_t k = i; k < e; k++)
			blank = blank && is_space(in[k]);
		i = e;
		if (blank)
			break;
	}
	return i;
}

static int sextet(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

struct b64 {
	uint32_t acc;
	unsigned have; /* sextets in acc */
	bool padded;
	uint8_t *out;
	size_t len, cap;
};

static bool b64_put(struct b64 *d, uint8_t v)
{
	if (d->len == d->cap)
		return false;
	d->out[d->len++] = v;
	return true;
}

/* Flushes 2 or 3 pending sextets (a padded or unpadded tail). */
static bool b64_tail(struct b64 *d)
{
	if (d->have == 1)
		return false;
	if (d->have == 2)
		return b64_put(d, (uint8_t)(d->acc >> 4));
	if (d->have == 3)
		return b64_put(d, (uint8_t)(d->acc >> 10)) && b64_put(d, (uint8_t)(d->acc >> 2));
	return true;
}

/* Feeds one body character; -1 bad character, -2 no room, 0 fine. */
static int b64_feed(struct b64 *d, char c)
{
	if (is_space(c))
		return 0;
	if (c == '=') {
		if (!d->padded && !b64_tail(d))
			return d->have == 1 ? -1 : -2;
		d->padded = true;
		d->have = 0;
		return 0;
	}
	int v = sextet(c);
	if (v < 0 || d->padded)
		return -1;
	d->acc = d->acc << 6 | (uint32_t)v;
	if (++d->have == 4) {
		d->have = 0;
		if (!b64_put(d, (uint8_t)(d->acc >> 16)) || !b64_put(d, (uint8_t)(d->acc >> 8)) ||
		    !b64_put(d, (uint8_t)d->acc))
			return -2;
	}
	return 0;
}

/* True when in[i..] is "-----END <label>-----". */
static bool is_end(const char *in, size_t n, size_t i, const char *label)
{
	size_t ll = strlen(label);
	size_t need = MARK_LEN(end_mark) + ll + MARK_LEN(dashes);
	return n - i >= need && memcmp(in + i + MARK_LEN(end_mark), label, ll) == 0 &&
	       memcmp(in + i + MARK_LEN(end_mark) + ll, dashes, MARK_LEN(dashes)) == 0;
}

static enum pem_rc fail(struct pem_block *b, enum pem_rc rc, size_t at)
{
	b->err = at;
	return rc;
}

/* Decodes the body starting at in[i] up to its END line. */
static enum pem_rc body(const char *in, size_t n, size_t i, size_t *pos, struct pem_block *b,
                        uint8_t *out, size_t cap)
{
	struct b64 d = { .out = out, .cap = cap };
	for (; i < n; i++) {
		if (in[i] == '-') {
			if (!is_end(in, n, i, b->label))
				return fail(b, PEM_ERR_NO_END, i);
			if (!d.padded && !b64_tail(&d))
				return fail(b, d.have == 1 ? PEM_ERR_BASE64 : PEM_ERR_SPACE, i);
			b->len = d.len;
			size_t e = i + MARK_LEN(end_mark) + strlen(b->label) + MARK_LEN(dashes);
			*pos = next_line(in, n, e);
			return PEM_OK;
		}
		int rc = b64_feed(&d, in[i]);
		if (rc == -1)
			return fail(b, PEM_ERR_BASE64, i);
		if (rc == -2)
			return fail(b, PEM_ERR_SPACE, i);
	}
	return fail(b, PEM_ERR_NO_END, b->begin);
}

enum pem_rc pem_next(const char *in, size_t n, size_t *pos, struct pem_block *b,
                     uint8_t *out, size_t cap)
{
	memset(b, 0, sizeof(*b));
	const char *m = find(in, n, *pos, begin_mark, MARK_LEN(begin_mark));
	if (!m)
		return PEM_NONE;
	b->begin = (size_t)(m - in);
	size_t i = read_label(in, n, b->begin + MARK_LEN(begin_mark), b->label);
	if (i == 0)
		return fail(b, PEM_ERR_LABEL, b->begin);
	i = skip_headers(in, n, i, &b->has_headers);
	return body(in, n, i, pos, b, out, cap);
}

size_t pem_encode(const char *label, const uint8_t *der, size_t n, char *out, size_t cap)
{
	size_t ll = strlen(label);
	if (cap < PEM_ENCODED_LEN(ll, n))
		return 0;
	size_t o = 0;
	o += (size_t)(stpcpy(out + o, begin_mark) - (out + o));
	o += (size_t)(stpcpy(out + o, label) - (out + o));
	o += (size_t)(stpcpy(out + o, "-----\n") - (out + o));
	for (size_t i = 0; i < n; i += 48) {
		o += base64_encode(der + i, n - i < 48 ? n - i : 48, out + o);
		out[o++] = '\n';
	}
	o += (size_t)(stpcpy(out + o, end_mark) - (out + o));
	o += (size_t)(stpcpy(out + o, label) - (out + o));
	o += (size_t)(stpcpy(out + o, "-----\n") - (out + o));
	return o;
}

const char *pem_strerror(enum pem_rc rc)
{
	switch (rc) {
	case PEM_OK:
		return "ok";
	case PEM_NONE:
		return "no PEM block";
	case PEM_ERR_LABEL:
		return "malformed BEGIN line";
	case PEM_ERR_NO_END:
		return "BEGIN without a matching END line";
	case PEM_ERR_BASE64:
		return "bad base64";
	case PEM_ERR_SPACE:
		return "output buffer too small";
	}
	return "unknown PEM error";
}
