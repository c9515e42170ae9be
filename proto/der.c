/* der.c — DER writer (back to front) and strict TLV reader for the X.509
 * pieces tls/ builds and inspects. Owns nothing; never allocates. */
#include "proto/der.h"

#include <string.h>

#define DER_MAX_LEN (1u << 24) /* reader limit: far above any certificate */

void der_w_init(struct der_w *w, uint8_t *buf, size_t cap)
{
	w->buf = buf;
	w->cap = cap;
	w->pos = cap;
	w->overflow = false;
}

size_t der_w_len(const struct der_w *w)
{
	return w->cap - w->pos;
}

const uint8_t *der_w_data(const struct der_w *w)
{
	return w->overflow ? NULL : w->buf + w->pos;
}

void der_w_raw(struct der_w *w, const void *p, size_t n)
{
	if (w->overflow || n > w->pos) {
		w->overflow = true;
		return;
	}
	w->pos -= n;
	if (n)
		memcpy(w->buf + w->pos, p, n);
}

void der_w_header(struct der_w *w, unsigned tag, size_t len)
{
	uint8_t h[1 + 1 + sizeof(size_t)];
	size_t n = sizeof(h);
	if (len < 0x80) {
		h[--n] = (uint8_t)len;
	} else {
		size_t k = 0;
		for (size_t v = len; v; v >>= 8, k++)
			h[--n] = (uint8_t)v;
		h[--n] = (uint8_t)(0x80 | k);
	}
	h[--n] = (uint8_t)tag;
	der_w_raw(w, h + n, sizeof(h) - n);
}

void der_w_wrap(struct der_w *w, unsigned tag, size_t mark)
{
	der_w_header(w, tag, der_w_len(w) - mark);
}

void der_w_prim(struct der_w *w, unsigned tag, const void *p, size_t n)
{
	der_w_raw(w, p, n);
	der_w_header(w, tag, n);
}

void der_w_uint(struct der_w *w, const uint8_t *be, size_t n)
{
	while (n > 1 && be[0] == 0) {
		be++;
		n--;
	}
	size_t mark = der_w_len(w);
	if (n == 0) {
		der_w_raw(w, "", 1);
	} else {
		der_w_raw(w, be, n);
		if (be[0] & 0x80)
			der_w_raw(w, "", 1);
	}
	der_w_wrap(w, DER_INTEGER, mark);
}

void der_w_bool(struct der_w *w, bool v)
{
	uint8_t b = v ? 0xff : 0x00; /* DER: TRUE is all ones (X.690 §11.1) */
	der_w_prim(w, DER_BOOLEAN, &b, 1);
}

void der_w_bits(struct der_w *w, const void *p, size_t n)
{
	size_t mark = der_w_len(w);
	der_w_raw(w, p, n);
	der_w_raw(w, "", 1); /* unused-bits count */
	der_w_wrap(w, DER_BIT_STRING, mark);
}

/* Days since 1970-01-01 to a proleptic Gregorian date (H. Hinnant's
 * civil_from_days), valid far beyond the 9999 clamp. */
static void civil(int64_t days, int64_t *y, unsigned *m, unsigned *d)
{
	days += 719468;
	int64_t era = days / 146097;
	unsigned doe = (unsigned)(days - era * 146097);
	unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	unsigned mp = (5 * doy + 2) / 153;
	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = (int64_t)yoe + era * 400 + (*m <= 2);
}

static void put_digits(char *out, unsigned v, int n)
{
	while (n-- > 0) {
		out[n] = (char)('0' + v % 10);
		v /= 10;
	}
}

#define DER_TIME_MAX 253402300799LL /* 9999-12-31T23:59:59Z */

void der_w_time(struct der_w *w, int64_t t)
{
	if (t < 0)
		t = 0;
	if (t > DER_TIME_MAX)
		t = DER_TIME_MAX;
	int64_t y;
	unsigned mo, d, sec = (unsigned)(t % 86400);
	civil(t / 86400, &y, &mo, &d);
	char s[15];
	size_t n = 0;
	bool utc = y < 2050;
	if (utc) {
		put_digits(s, (unsigned)(y % 100), 2);
		n = 2;
	} else {
		put_digits(s, (unsigned)y, 4);
		n = 4;
	}
	put_digits(s + n, mo, 2);
	put_digits(s + n + 2, d, 2);
	put_digits(s + n + 4, sec / 3600, 2);
	put_digits(s + n + 6, sec / 60 % 60, 2);
	put_digits(s + n + 8, sec % 60, 2);
	s[n + 10] = 'Z';
	der_w_prim(w, utc ? DER_UTC_TIME : DER_GENERALIZED_TIME, s, n + 11);
}

size_t der_read(const uint8_t *in, size_t n, struct der_tlv *out)
{
	if (n < 2 || (in[0] & 0x1f) == 0x1f)
		return 0;
	size_t len = in[1], hdr = 2;
	if (len & 0x80) {
		size_t k = len & 0x7f;
		if (k == 0 || k > 3 || n < 2 + k || in[2] == 0)
			return 0; /* indefinite, too long, truncated, or leading zero */
		len = 0;
		for (size_t i = 0; i < k; i++)
			len = len << 8 | in[2 + i];
		if (len < 0x80)
			return 0; /* should have used the short form */
		hdr += k;
	}
	if (len > DER_MAX_LEN || len > n - hdr)
		return 0;
	out->tag = in[0];
	out->val = in + hdr;
	out->len = len;
	return hdr + len;
}

/* Reads the element at *p of tag `tag` and advances past it. */
static bool take(const uint8_t **p, const uint8_t *end, unsigned tag, struct der_tlv *t)
{
	size_t k = der_read(*p, (size_t)(end - *p), t);
	if (k == 0 || t->tag != tag)
		return false;
	*p += k;
	return true;
}

/* Positions *p and *end on the TBSCertificate fields after subject
 * (RFC 5280 §4.1: version, serial, signature, issuer, validity, subject). */
static bool tbs_after_subject(const uint8_t *cert, size_t n, const uint8_t **p,
                              const uint8_t **end)
{
	struct der_tlv c, tbs, t;
	if (der_read(cert, n, &c) == 0 || c.tag != DER_SEQUENCE)
		return false;
	if (der_read(c.val, c.len, &tbs) == 0 || tbs.tag != DER_SEQUENCE)
		return false;
	*p = tbs.val;
	*end = tbs.val + tbs.len;
	const unsigned v1[] = { DER_INTEGER, DER_SEQUENCE, DER_SEQUENCE, DER_SEQUENCE,
		                    DER_SEQUENCE };
	/* [0] EXPLICIT version is optional (absent means v1). */
	if (*p < *end && **p == (DER_CONTEXT | DER_CONSTRUCTED | 0) &&
	    !take(p, *end, DER_CONTEXT | DER_CONSTRUCTED | 0, &t))
		return false;
	for (size_t i = 0; i < sizeof(v1) / sizeof(v1[0]); i++)
		if (!take(p, *end, v1[i], &t))
			return false;
	return true;
}

int der_cert_spki(const uint8_t *cert, size_t n, struct der_tlv *spki)
{
	const uint8_t *p, *end;
	if (!tbs_after_subject(cert, n, &p, &end))
		return -1;
	const uint8_t *start = p;
	if (!take(&p, end, DER_SEQUENCE, spki))
		return -1;
	spki->val = start;
	spki->len = (size_t)(p - start);
	return 1;
}

/* Searches one Extensions SEQUENCE (RFC 5280 §4.1.2.9). */
static int find_ext(const uint8_t *p, const uint8_t *end, const uint8_t *oid,
                    size_t oidlen, struct der_tlv *val)
{
	while (p < end) {
		struct der_tlv e, id, x;
		if (!take(&p, end, DER_SEQUENCE, &e))
			return -1;
		const uint8_t *q = e.val, *qe = e.val + e.len;
		if (!take(&q, qe, DER_OID, &id))
			return -1;
		if (q < qe && *q == DER_BOOLEAN && !take(&q, qe, DER_BOOLEAN, &x))
			return -1;
		if (!take(&q, qe, DER_OCTET_STRING, &x) || q != qe)
			return -1;
		if (id.len == oidlen && memcmp(id.val, oid, oidlen) == 0) {
			*val = x;
			return 1;
		}
	}
	return 0;
}

int der_cert_ext(const uint8_t *cert, size_t n, const uint8_t *oid, size_t oidlen,
                 struct der_tlv *val)
{
	const uint8_t *p, *end;
	struct der_tlv t;
	if (!tbs_after_subject(cert, n, &p, &end) || !take(&p, end, DER_SEQUENCE, &t))
		return -1;
	/* Optional [1] issuerUniqueID, [2] subjectUniqueID, then [3] extensions. */
	while (p < end) {
		unsigned tag = *p;
		if (!take(&p, end, tag, &t))
			return -1;
		if (tag == (DER_CONTEXT | DER_CONSTRUCTED | 3)) {
			struct der_tlv seq;
			const uint8_t *q = t.val;
			if (!take(&q, t.val + t.len, DER_SEQUENCE, &seq))
				return -1;
			return find_ext(seq.val, seq.val + seq.len, oid, oidlen, val);
		}
	}
	return 0;
}
