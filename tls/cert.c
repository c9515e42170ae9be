/* cert.c — a fresh EC P-256 key and a minimal self-signed X.509 v3
 * certificate (RFC 5280) built with proto/der's backward writer and
 * signed with BearSSL's ECDSA. Elements are written last-first, so each
 * function below emits its fields in reverse order. Returns malloc'd DER;
 * never writes files (server_cfg.c does). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/rand.h"
#include "proto/der.h"
#include "tls/tls_int.h"

#define CN_MAX 64 /* ub-common-name, RFC 5280 Appendix A.1 */
#define DNS_MAX 253

static const uint8_t oid_ecdsa_sha256[] = { 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02 };
static const uint8_t oid_cn[] = { 0x55, 0x04, 0x03 };
static const uint8_t oid_san[] = { 0x55, 0x1d, 0x11 };
static const uint8_t oid_basic[] = { 0x55, 0x1d, 0x13 };
static const uint8_t oid_ku[] = { 0x55, 0x1d, 0x0f };
static const uint8_t oid_eku[] = { 0x55, 0x1d, 0x25 };
static const uint8_t oid_server_auth[] = { 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x01 };

static bool dns_name_ok(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > DNS_MAX || s[0] == '.' || s[0] == '-')
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		          c == '-' || c == '.' || c == '_' || (c == '*' && i == 0);
		if (!ok)
			return false;
	}
	return true;
}

/* Closes one Extension (RFC 5280 §4.1): value already written since m. */
static void ext_close(struct der_w *w, size_t m, const uint8_t *oid, size_t oidlen,
                      bool critical)
{
	der_w_wrap(w, DER_OCTET_STRING, m);
	if (critical)
		der_w_bool(w, true);
	der_w_prim(w, DER_OID, oid, oidlen);
	der_w_wrap(w, DER_SEQUENCE, m);
}

/* GeneralNames: iPAddress [7] for literals, dNSName [2] otherwise. */
static void ext_san(struct der_w *w, const struct tls_cert_req *r)
{
	size_t m = der_w_len(w);
	for (size_t i = r->n; i-- > 0;) {
		uint8_t ip[16];
		size_t iplen = tls_ip_parse(r->names[i], ip);
		if (iplen)
			der_w_prim(w, DER_CONTEXT | 7, ip, iplen);
		else
			der_w_prim(w, DER_CONTEXT | 2, r->names[i], strlen(r->names[i]));
	}
	der_w_wrap(w, DER_SEQUENCE, m);
	ext_close(w, m, oid_san, sizeof(oid_san), false);
}

static void extensions(struct der_w *w, const struct tls_cert_req *r)
{
	size_t m = der_w_len(w), v;
	v = der_w_len(w); /* extKeyUsage: serverAuth */
	der_w_prim(w, DER_OID, oid_server_auth, sizeof(oid_server_auth));
	der_w_wrap(w, DER_SEQUENCE, v);
	ext_close(w, v, oid_eku, sizeof(oid_eku), false);
	v = der_w_len(w); /* keyUsage: digitalSignature (bit 0; 7 unused bits) */
	der_w_raw(w, "\x03\x02\x07\x80", 4);
	ext_close(w, v, oid_ku, sizeof(oid_ku), true);
	v = der_w_len(w); /* basicConstraints: empty SEQUENCE = CA:FALSE */
	der_w_header(w, DER_SEQUENCE, 0);
	ext_close(w, v, oid_basic, sizeof(oid_basic), true);
	ext_san(w, r);
	der_w_wrap(w, DER_SEQUENCE, m);
	der_w_wrap(w, DER_CONTEXT | DER_CONSTRUCTED | 3, m);
}

/* Name ::= SEQUENCE { SET { SEQUENCE { id-at-commonName, UTF8String } } } */
static void name(struct der_w *w, const char *cn)
{
	size_t m = der_w_len(w);
	der_w_prim(w, DER_UTF8_STRING, cn, strlen(cn));
	der_w_prim(w, DER_OID, oid_cn, sizeof(oid_cn));
	der_w_wrap(w, DER_SEQUENCE, m);
	der_w_wrap(w, DER_SET, m);
	der_w_wrap(w, DER_SEQUENCE, m);
}

static void sig_alg(struct der_w *w)
{
	size_t m = der_w_len(w); /* RFC 5758 §3.2: no parameters */
	der_w_prim(w, DER_OID, oid_ecdsa_sha256, sizeof(oid_ecdsa_sha256));
	der_w_wrap(w, DER_SEQUENCE, m);
}

static const char *pick_cn(const struct tls_cert_req *r)
{
	for (size_t i = 0; i < r->n; i++)
		if (strlen(r->names[i]) <= CN_MAX)
			return r->names[i];
	return "localhost";
}

struct keypair {
	br_ec_private_key sk;
	br_ec_public_key pk;
	unsigned char kbuf[BR_EC_KBUF_PRIV_MAX_SIZE];
	unsigned char pbuf[BR_EC_KBUF_PUB_MAX_SIZE];
	uint8_t serial[16];
};

static void tbs(struct der_w *w, const struct tls_cert_req *r, const struct keypair *kp,
                const uint8_t *spki, size_t spki_len)
{
	const char *cn = pick_cn(r);
	size_t m = der_w_len(w), v;
	extensions(w, r);
	der_w_raw(w, spki, spki_len);
	name(w, cn);
	v = der_w_len(w);
	der_w_time(w, r->not_after);
	der_w_time(w, r->not_before);
	der_w_wrap(w, DER_SEQUENCE, v);
	name(w, cn);
	sig_alg(w);
	der_w_uint(w, kp->serial, sizeof(kp->serial));
	v = der_w_len(w);
	der_w_uint(w, (const uint8_t *)"\x02", 1); /* v3 */
	der_w_wrap(w, DER_CONTEXT | DER_CONSTRUCTED | 0, v);
	der_w_wrap(w, DER_SEQUENCE, m);
}

static int keygen(struct keypair *kp)
{
	br_hmac_drbg_context rng;
	uint8_t seed[32];
	if (rand_bytes(seed, sizeof(seed)) < 0)
		return -EIO;
	br_hmac_drbg_init(&rng, &br_sha256_vtable, seed, sizeof(seed));
	explicit_bzero(seed, sizeof(seed));
	const br_ec_impl *ec = br_ec_get_default();
	int rc = -EIO;
	if (br_ec_keygen(&rng.vtable, ec, &kp->sk, kp->kbuf, BR_EC_secp256r1) &&
	    br_ec_compute_pub(ec, &kp->pk, kp->pbuf, &kp->sk)) {
		br_hmac_drbg_generate(&rng, kp->serial, sizeof(kp->serial));
		kp->serial[0] = (kp->serial[0] & 0x7f) | 0x40; /* positive, 16 bytes */
		rc = 0;
	}
	explicit_bzero(&rng, sizeof(rng));
	return rc;
}

/* Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signature } */
static int sign_wrap(const struct keypair *kp, const uint8_t *t, size_t tlen, uint8_t **cert,
                     size_t *cert_len)
{
	uint8_t hash[32], sig[80];
	br_sha256_context h;
	br_sha256_init(&h);
	br_sha256_update(&h, t, tlen);
	br_sha256_out(&h, hash);
	size_t slen = br_ecdsa_sign_asn1_get_default()(br_ec_get_default(), &br_sha256_vtable,
	                                               hash, &kp->sk, sig);
	size_t cap = tlen + sizeof(sig) + 32;
	uint8_t *buf = malloc(cap);
	if (!slen || !buf) {
		free(buf);
		return slen ? -ENOMEM : -EIO;
	}
	struct der_w w;
	der_w_init(&w, buf, cap);
	der_w_bits(&w, sig, slen);
	sig_alg(&w);
	der_w_raw(&w, t, tlen);
	der_w_wrap(&w, DER_SEQUENCE, 0);
	*cert_len = der_w_len(&w);
	memmove(buf, der_w_data(&w), *cert_len);
	*cert = buf;
	return 0;
}

static int check_names(const struct tls_cert_req *r, char *err, size_t errlen)
{
	for (size_t i = 0; i < r->n; i++) {
		uint8_t ip[16];
		if (!tls_ip_parse(r->names[i], ip) && !dns_name_ok(r->names[i]))
			return tls_fail(-EINVAL, err, errlen,
			                "%s: not a valid host name or IP address for a certificate",
			                r->names[i]);
	}
	return 0;
}

static int make_key_der(const struct keypair *kp, uint8_t **key, size_t *key_len)
{
	size_t n = br_encode_ec_pkcs8_der(NULL, &kp->sk, &kp->pk);
	*key = n ? malloc(n) : NULL;
	if (!*key)
		return -ENOMEM;
	*key_len = br_encode_ec_pkcs8_der(*key, &kp->sk, &kp->pk);
	return 0;
}

int tls_cert_make(const struct tls_cert_req *r, uint8_t **cert, size_t *cert_len,
                  uint8_t **key, size_t *key_len, char *err, size_t errlen)
{
	int rc = check_names(r, err, errlen);
	if (rc < 0)
		return rc;
	struct keypair kp;
	if (keygen(&kp) < 0)
		return tls_fail(-EIO, err, errlen, "cannot generate a key: no randomness");
	size_t cap = 1024;
	for (size_t i = 0; i < r->n; i++)
		cap += strlen(r->names[i]) + 8;
	uint8_t spki[128], *buf = malloc(cap);
	br_x509_pkey xpk = { .key_type = BR_KEYTYPE_EC, .key.ec = kp.pk };
	size_t spki_len = tls_spki_der(&xpk, spki, sizeof(spki));
	rc = -ENOMEM;
	if (buf && spki_len) {
		struct der_w w;
		der_w_init(&w, buf, cap);
		tbs(&w, r, &kp, spki, spki_len);
		rc = der_w_data(&w) ? sign_wrap(&kp, der_w_data(&w), der_w_len(&w), cert, cert_len)
		                    : -ENOSPC;
	}
	free(buf);
	if (rc == 0 && (rc = make_key_der(&kp, key, key_len)) < 0)
		free(*cert);
	explicit_bzero(&kp, sizeof(kp));
	if (rc < 0)
		return tls_fail(rc, err, errlen, "cannot build the certificate: %s", strerror(-rc));
	return 0;
}
