/* x509.c — how a client judges the server's certificate: BearSSL's minimal
 * validator over our trust anchors; a pin class that accepts exactly one
 * leaf (or, for --insecure, any) and only extracts its key; and a wrapper
 * that adds the iPAddress check BearSSL lacks for IP-literal hosts.
 * Contexts live in the connection's block; nothing here allocates except
 * the IP wrapper's leaf copy. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "proto/der.h"
#include "tls/tls_int.h"

static const uint8_t oid_rsa[] = { 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01 };
static const uint8_t oid_ec[] = { 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01 };
static const uint8_t oid_p256[] = { 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07 };
static const uint8_t oid_p384[] = { 0x2b, 0x81, 0x04, 0x00, 0x22 };
static const uint8_t oid_p521[] = { 0x2b, 0x81, 0x04, 0x00, 0x23 };
static const uint8_t oid_san[] = { 0x55, 0x1d, 0x11 };

void tls_x509_minimal_init(br_x509_minimal_context *xc, const struct tls_client_cfg *c)
{
	br_x509_minimal_init(xc, &br_sha256_vtable, c->tas, c->ntas);
	/* Signature hashes CAs use today; SHA-1 signed certificates fail. */
	br_x509_minimal_set_hash(xc, br_sha256_ID, &br_sha256_vtable);
	br_x509_minimal_set_hash(xc, br_sha384_ID, &br_sha384_vtable);
	br_x509_minimal_set_hash(xc, br_sha512_ID, &br_sha512_vtable);
	br_x509_minimal_set_rsa(xc, br_rsa_pkcs1_vrfy_get_default());
	br_x509_minimal_set_ecdsa(xc, br_ec_get_default(), br_ecdsa_vrfy_asn1_get_default());
}

/* AlgorithmIdentifier + BIT STRING already written: close the SEQUENCE. */
static void alg_id(struct der_w *w, const uint8_t *oid, size_t oidlen, const uint8_t *param,
                   size_t plen)
{
	size_t m = der_w_len(w);
	if (param)
		der_w_prim(w, DER_OID, param, plen);
	else
		der_w_header(w, DER_NULL, 0); /* RFC 3279 §2.3.1: NULL for RSA */
	der_w_prim(w, DER_OID, oid, oidlen);
	der_w_wrap(w, DER_SEQUENCE, m);
}

static bool curve_oid(int curve, const uint8_t **oid, size_t *len)
{
	if (curve == BR_EC_secp256r1)
		*oid = oid_p256, *len = sizeof(oid_p256);
	else if (curve == BR_EC_secp384r1)
		*oid = oid_p384, *len = sizeof(oid_p384);
	else if (curve == BR_EC_secp521r1)
		*oid = oid_p521, *len = sizeof(oid_p521);
	else
		return false;
	return true;
}

size_t tls_spki_der(const br_x509_pkey *pk, uint8_t *out, size_t cap)
{
	struct der_w w;
	der_w_init(&w, out, cap);
	if (pk->key_type == BR_KEYTYPE_RSA) {
		der_w_uint(&w, pk->key.rsa.e, pk->key.rsa.elen);
		der_w_uint(&w, pk->key.rsa.n, pk->key.rsa.nlen);
		der_w_wrap(&w, DER_SEQUENCE, 0);
		der_w_raw(&w, "", 1); /* unused bits */
		der_w_wrap(&w, DER_BIT_STRING, 0);
		alg_id(&w, oid_rsa, sizeof(oid_rsa), NULL, 0);
	} else {
		const uint8_t *c;
		size_t clen;
		if (pk->key_type != BR_KEYTYPE_EC || !curve_oid(pk->key.ec.curve, &c, &clen))
			return 0;
		der_w_bits(&w, pk->key.ec.q, pk->key.ec.qlen);
		alg_id(&w, oid_ec, sizeof(oid_ec), c, clen);
	}
	der_w_wrap(&w, DER_SEQUENCE, 0);
	if (!der_w_data(&w))
		return 0;
	size_t n = der_w_len(&w);
	memmove(out, der_w_data(&w), n);
	return n;
}

/* ---- pin / insecure ---- */

static struct tls_x509_pin *pin_of(const br_x509_class **ctx)
{
	return (struct tls_x509_pin *)(void *)ctx;
}

static void pin_start_chain(const br_x509_class **ctx, const char *server_name)
{
	(void)server_name; /* a pin replaces name checks */
	pin_of(ctx)->depth = 0;
	pin_of(ctx)->ready = false;
}

static void pin_start_cert(const br_x509_class **ctx, uint32_t length)
{
	struct tls_x509_pin *x = pin_of(ctx);
	(void)length;
	if (x->depth == 0) {
		br_sha256_init(&x->sha);
		br_x509_decoder_init(&x->dec, NULL, NULL);
	}
}

static void pin_append(const br_x509_class **ctx, const unsigned char *buf, size_t len)
{
	struct tls_x509_pin *x = pin_of(ctx);
	if (x->depth == 0) {
		br_sha256_update(&x->sha, buf, len);
		br_x509_decoder_push(&x->dec, buf, len);
	}
}

static void pin_end_cert(const br_x509_class **ctx)
{
	pin_of(ctx)->depth++;
}

/* The leaf matches when its certificate or its SPKI hashes to the pin. */
static bool pin_match(struct tls_x509_pin *x, const br_x509_pkey *pk)
{
	uint8_t h[32], spki[BR_X509_BUFSIZE_KEY + 64];
	br_sha256_out(&x->sha, h);
	if (memcmp(h, x->pin, sizeof(h)) == 0)
		return true;
	size_t n = tls_spki_der(pk, spki, sizeof(spki));
	br_sha256_context s;
	br_sha256_init(&s);
	br_sha256_update(&s, spki, n);
	br_sha256_out(&s, h);
	return n && memcmp(h, x->pin, sizeof(h)) == 0;
}

static unsigned pin_end_chain(const br_x509_class **ctx)
{
	struct tls_x509_pin *x = pin_of(ctx);
	if (x->depth == 0)
		return BR_ERR_X509_EMPTY_CHAIN;
	int e = br_x509_decoder_last_error(&x->dec);
	if (e)
		return (unsigned)e;
	const br_x509_pkey *pk = br_x509_decoder_get_pkey(&x->dec);
	if (x->pin && !pin_match(x, pk))
		return TLS_ERR_PIN;
	x->ready = true;
	return 0;
}

static const br_x509_pkey *pin_get_pkey(const br_x509_class *const *ctx, unsigned *usages)
{
	const struct tls_x509_pin *x = (const struct tls_x509_pin *)(const void *)ctx;
	if (!x->ready)
		return NULL;
	if (usages)
		*usages = BR_KEYTYPE_KEYX | BR_KEYTYPE_SIGN;
	return &x->dec.pkey; /* what br_x509_decoder_get_pkey returns */
}

static const br_x509_class pin_class = {
	sizeof(struct tls_x509_pin), pin_start_chain, pin_start_cert, pin_append,
	pin_end_cert,                pin_end_chain,   pin_get_pkey,
};

void tls_x509_pin_init(struct tls_x509_pin *x, const uint8_t *pin)
{
	memset(x, 0, sizeof(*x));
	x->vtable = &pin_class;
	x->pin = pin;
}

/* ---- IP-literal host: minimal validator + iPAddress SAN ---- */

static struct tls_x509_ip *ip_of(const br_x509_class **ctx)
{
	return (struct tls_x509_ip *)(void *)ctx;
}

static void ip_start_chain(const br_x509_class **ctx, const char *server_name)
{
	struct tls_x509_ip *x = ip_of(ctx);
	(void)server_name;
	x->depth = 0;
	x->too_big = false;
	x->leaf_len = 0;
	x->min.vtable->start_chain(&x->min.vtable, NULL); /* NULL: no DNS name check */
}

static void ip_start_cert(const br_x509_class **ctx, uint32_t length)
{
	struct tls_x509_ip *x = ip_of(ctx);
	if (x->depth == 0 && length > TLS_LEAF_MAX)
		x->too_big = true;
	x->min.vtable->start_cert(&x->min.vtable, length);
}

static void ip_append(const br_x509_class **ctx, const unsigned char *buf, size_t len)
{
	struct tls_x509_ip *x = ip_of(ctx);
	if (x->depth == 0 && !x->too_big && len <= TLS_LEAF_MAX - x->leaf_len) {
		memcpy(x->leaf + x->leaf_len, buf, len);
		x->leaf_len += len;
	}
	x->min.vtable->append(&x->min.vtable, buf, len);
}

static void ip_end_cert(const br_x509_class **ctx)
{
	struct tls_x509_ip *x = ip_of(ctx);
	x->depth++;
	x->min.vtable->end_cert(&x->min.vtable);
}

/* Any iPAddress [7] GeneralName equal to the dialled address. */
static bool san_has_ip(const struct tls_x509_ip *x)
{
	struct der_tlv ext, names, gn;
	if (der_cert_ext(x->leaf, x->leaf_len, oid_san, sizeof(oid_san), &ext) != 1)
		return false;
	if (der_read(ext.val, ext.len, &names) == 0 || names.tag != DER_SEQUENCE)
		return false;
	const uint8_t *p = names.val, *end = names.val + names.len;
	size_t k;
	while (p < end && (k = der_read(p, (size_t)(end - p), &gn)) > 0) {
		if (gn.tag == (DER_CONTEXT | 7) && gn.len == x->iplen &&
		    memcmp(gn.val, x->ip, x->iplen) == 0)
			return true;
		p += k;
	}
	return false;
}

static unsigned ip_end_chain(const br_x509_class **ctx)
{
	struct tls_x509_ip *x = ip_of(ctx);
	unsigned r = x->min.vtable->end_chain(&x->min.vtable);
	if (r)
		return r;
	if (x->too_big)
		return TLS_ERR_LEAF_TOO_BIG;
	return san_has_ip(x) ? 0 : TLS_ERR_IP_MISMATCH;
}

static const br_x509_pkey *ip_get_pkey(const br_x509_class *const *ctx, unsigned *usages)
{
	const struct tls_x509_ip *x = (const struct tls_x509_ip *)(const void *)ctx;
	return x->min.vtable->get_pkey(&x->min.vtable, usages);
}

static const br_x509_class ip_class = {
	sizeof(struct tls_x509_ip), ip_start_chain, ip_start_cert, ip_append,
	ip_end_cert,                ip_end_chain,   ip_get_pkey,
};

int tls_x509_ip_init(struct tls_x509_ip *x, const struct tls_client_cfg *c, const uint8_t *ip,
                     size_t iplen)
{
	memset(x, 0, sizeof(*x));
	x->leaf = malloc(TLS_LEAF_MAX);
	if (!x->leaf)
		return -ENOMEM;
	x->vtable = &ip_class;
	tls_x509_minimal_init(&x->min, c);
	memcpy(x->ip, ip, iplen);
	x->iplen = iplen;
	return 0;
}

void tls_x509_ip_free(struct tls_x509_ip *x)
{
	free(x->leaf);
	x->leaf = NULL;
}
