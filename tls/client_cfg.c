/* client_cfg.c — how the client will judge servers: trust anchors from a
 * PEM CA bundle (two passes, so the anchors' DNs and keys fit one exact
 * block: ~70 KiB for Debian's ~140 roots), a --pin, or --insecure. Owns
 * the anchor block; never touches sockets. */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "proto/pem.h"
#include "tls/tls_int.h"

/* Other distributions keep the bundle elsewhere (Alpine/BSD, Fedora, SUSE). */
static const char *const system_bundles[] = {
	TLS_SYSTEM_CA,
	"/etc/ssl/cert.pem",
	"/etc/pki/tls/certs/ca-bundle.crt",
	"/etc/ssl/ca-bundle.pem",
};

/* Anchor builder: with mem == NULL it only measures (pass 1). */
struct ta_build {
	br_x509_trust_anchor *tas;
	size_t n, tas_cap;
	unsigned char *mem;
	size_t used, cap;
};

/* Bounded even in pass 2: a certificate that fails to decode has already
 * streamed part of its DN before it is rolled back (found by pem_fuzz). */
static void put(struct ta_build *b, const void *p, size_t len)
{
	if (b->mem && b->used <= b->cap && len <= b->cap - b->used)
		memcpy(b->mem + b->used, p, len);
	b->used += len;
}

static void dn_append(void *ctx, const void *buf, size_t len)
{
	put(ctx, buf, len);
}

/* Copies the decoded key into the block; the anchor points at the copy. */
static void key_store(struct ta_build *b, const br_x509_pkey *pk, br_x509_pkey *dst)
{
	*dst = *pk;
	if (pk->key_type == BR_KEYTYPE_RSA) {
		dst->key.rsa.n = b->mem ? b->mem + b->used : NULL;
		put(b, pk->key.rsa.n, pk->key.rsa.nlen);
		dst->key.rsa.e = b->mem ? b->mem + b->used : NULL;
		put(b, pk->key.rsa.e, pk->key.rsa.elen);
	} else {
		dst->key.ec.q = b->mem ? b->mem + b->used : NULL;
		put(b, pk->key.ec.q, pk->key.ec.qlen);
	}
}

/* One certificate: an anchor if BearSSL can decode it, else skipped. */
static void ta_add(struct ta_build *b, const uint8_t *der, size_t len)
{
	br_x509_decoder_context dec;
	size_t start = b->used;
	br_x509_decoder_init(&dec, dn_append, b);
	br_x509_decoder_push(&dec, der, len);
	const br_x509_pkey *pk = br_x509_decoder_get_pkey(&dec);
	if (!pk) {
		b->used = start;
		return;
	}
	br_x509_trust_anchor ta = {
		.dn = { b->mem ? b->mem + start : NULL, b->used - start },
		/* A non-CA anchor is trusted directly: a self-signed server
		 * certificate given as --ca. */
		.flags = br_x509_decoder_isCA(&dec) ? BR_X509_TA_CA : 0,
	};
	key_store(b, pk, &ta.pkey);
	if (b->tas && b->n < b->tas_cap)
		b->tas[b->n] = ta;
	b->n++;
}

/* One pass over the bundle; der is scratch of n bytes. */
static int ta_pass(struct ta_build *b, const char *pem, size_t n, uint8_t *der,
                   const char *name, char *err, size_t errlen)
{
	if (!pem_detect(pem, n)) {
		ta_add(b, (const uint8_t *)pem, n); /* a single DER certificate */
		return 0;
	}
	size_t pos = 0;
	struct pem_block blk;
	enum pem_rc rc;
	while ((rc = pem_next(pem, n, &pos, &blk, der, n)) == PEM_OK)
		if (strcmp(blk.label, "CERTIFICATE") == 0)
			ta_add(b, der, blk.len);
	if (rc != PEM_NONE)
		return tls_fail(-EINVAL, err, errlen, "%s: line %zu: %s", name,
		                pem_line(pem, n, blk.err), pem_strerror(rc));
	return 0;
}

int tls_client_cfg_init_ca_mem(struct tls_client_cfg *c, const char *pem, size_t len,
                               const char *name, char *err, size_t errlen)
{
	memset(c, 0, sizeof(*c));
	c->verify = TLS_VERIFY_CA;
	struct ta_build b = { 0 };
	uint8_t *der = malloc(len ? len : 1);
	if (!der)
		return tls_fail(-ENOMEM, err, errlen, "%s: out of memory", name);
	int rc = ta_pass(&b, pem, len, der, name, err, errlen);
	if (rc == 0 && b.n == 0)
		rc = tls_fail(-EINVAL, err, errlen,
		              "%s: no usable CA certificate found (is this a PEM file?)", name);
	if (rc == 0) {
		size_t n = b.n, used = b.used;
		b = (struct ta_build){ .tas = calloc(n, sizeof(*b.tas)),
			                   .mem = malloc(used ? used : 1),
			                   .cap = used,
			                   .tas_cap = n };
		if (b.tas && b.mem)
			ta_pass(&b, pem, len, der, name, NULL, 0);
		else
			rc = tls_fail(-ENOMEM, err, errlen, "%s: out of memory", name);
	}
	free(der);
	if (rc < 0) {
		free(b.tas);
		free(b.mem);
		return rc;
	}
	c->tas = b.tas;
	c->ntas = b.n < b.tas_cap ? b.n : b.tas_cap;
	c->ta_mem = b.mem;
	c->ta_mem_len = b.used;
	return 0;
}

int tls_client_cfg_init_ca(struct tls_client_cfg *c, const char *ca_path, char *err,
                           size_t errlen)
{
	char *pem = NULL;
	size_t len = 0;
	int rc = -ENOENT;
	if (ca_path) {
		rc = tls_file_read(ca_path, &pem, &len, err, errlen);
	} else {
		for (size_t i = 0; rc == -ENOENT && i < sizeof(system_bundles) / sizeof(char *); i++)
			rc = tls_file_read(ca_path = system_bundles[i], &pem, &len, err, errlen);
		if (rc == -ENOENT)
			tls_fail(rc, err, errlen,
			         "no system CA bundle (%s); install ca-certificates or use --ca FILE",
			         TLS_SYSTEM_CA);
	}
	if (rc < 0) {
		memset(c, 0, sizeof(*c));
		return rc;
	}
	rc = tls_client_cfg_init_ca_mem(c, pem, len, ca_path, err, errlen);
	free(pem);
	return rc;
}

static int hexval(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	ch = (char)tolower((unsigned char)ch);
	return ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : -1;
}

/* Skips a known prefix, case-insensitively. */
static const char *skip_prefix(const char *s)
{
	static const char *const prefixes[] = { "sha256 fingerprint=", "sha256:" };
	for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++)
		if (strncasecmp(s, prefixes[i], strlen(prefixes[i])) == 0)
			return s + strlen(prefixes[i]);
	return s;
}

int tls_pin_parse(const char *s, uint8_t out[32])
{
	while (isspace((unsigned char)*s))
		s++;
	s = skip_prefix(s);
	size_t k = 0;
	for (; k < 32; k++) {
		if (k && *s == ':')
			s++;
		int hi = hexval(s[0]), lo = hi < 0 ? -1 : hexval(s[1]);
		if (lo < 0)
			return -EINVAL;
		out[k] = (uint8_t)(hi << 4 | lo);
		s += 2;
	}
	while (isspace((unsigned char)*s))
		s++;
	return *s ? -EINVAL : 0;
}

int tls_client_cfg_init_pin(struct tls_client_cfg *c, const char *pin, char *err,
                            size_t errlen)
{
	memset(c, 0, sizeof(*c));
	c->verify = TLS_VERIFY_PIN;
	if (tls_pin_parse(pin, c->pin) < 0)
		return tls_fail(-EINVAL, err, errlen,
		                "--pin %s: expected a SHA-256 fingerprint, 64 hex digits (colons "
		                "allowed)", pin);
	return 0;
}

void tls_client_cfg_init_insecure(struct tls_client_cfg *c)
{
	memset(c, 0, sizeof(*c));
	c->verify = TLS_VERIFY_NONE;
}

void tls_client_cfg_free(struct tls_client_cfg *c)
{
	free(c->tas);
	free(c->ta_mem);
	/* The remembered session holds its master secret. */
	explicit_bzero(c, sizeof(*c));
}
