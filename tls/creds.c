/* creds.c — certificate chains and private keys from PEM/DER in memory,
 * each mistake turned into one sentence naming the file. Owns the parsed
 * chain block and the decoded key; never reads files (keys.c does). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "proto/pem.h"
#include "tls/tls_int.h"

#define TLS_CHAIN_MAX 10 /* leaf + intermediates; real chains have 2-4 */

struct der_span {
	size_t off, len;
};

/* One X.509 decode: 0 or the BearSSL error code. */
static int cert_check(const uint8_t *der, size_t len, br_x509_decoder_context *dec)
{
	br_x509_decoder_init(dec, NULL, NULL);
	br_x509_decoder_push(dec, der, len);
	return br_x509_decoder_last_error(dec);
}

static int pem_error(const char *txt, size_t n, const char *name, const struct pem_block *b,
                     enum pem_rc rc, char *err, size_t errlen)
{
	return tls_fail(-EINVAL, err, errlen, "%s: line %zu: %s%s%s", name,
	                pem_line(txt, n, b->err), pem_strerror(rc), b->label[0] ? " in " : "",
	                b->label);
}

/* What a file without the wanted block holds instead, for the message. */
static const char *hint_for(const char *label)
{
	if (strstr(label, "PRIVATE KEY"))
		return " (it holds a private key: --cert and --cert-key swapped?)";
	if (strcmp(label, "CERTIFICATE") == 0)
		return " (it holds a certificate but no private key: --cert and --cert-key "
		       "swapped?)";
	if (strcmp(label, "PUBLIC KEY") == 0)
		return " (it holds a public key; the private key is needed)";
	return " (is this a PEM file?)";
}

/* Collects the CERTIFICATE blocks of txt into der (cap n), spans in sp. */
static int collect_certs(const char *txt, size_t n, const char *name, uint8_t *der,
                         struct der_span *sp, size_t *count, char *seen, char *err,
                         size_t errlen)
{
	size_t pos = 0, used = 0;
	struct pem_block b;
	enum pem_rc rc;
	*count = 0;
	while ((rc = pem_next(txt, n, &pos, &b, der + used, n - used)) == PEM_OK) {
		if (strcmp(b.label, "CERTIFICATE") != 0) {
			if (!seen[0])
				strcpy(seen, b.label);
			continue;
		}
		if (*count == TLS_CHAIN_MAX)
			return tls_fail(-EINVAL, err, errlen,
			                "%s: more than %d certificates in the chain", name,
			                TLS_CHAIN_MAX);
		sp[(*count)++] = (struct der_span){ used, b.len };
		used += b.len;
	}
	if (rc != PEM_NONE)
		return pem_error(txt, n, name, &b, rc, err, errlen);
	return 0;
}

/* Copies the spans into one block: the certificate array, then the DER. */
static int chain_store(struct tls_creds *c, const uint8_t *der, const struct der_span *sp,
                       size_t count)
{
	size_t total = 0;
	for (size_t i = 0; i < count; i++)
		total += sp[i].len;
	br_x509_certificate *arr = malloc(count * sizeof(*arr) + total);
	if (!arr)
		return -ENOMEM;
	unsigned char *p = (unsigned char *)(arr + count);
	for (size_t i = 0; i < count; i++) {
		memcpy(p, der + sp[i].off, sp[i].len);
		arr[i] = (br_x509_certificate){ p, sp[i].len };
		p += sp[i].len;
	}
	c->chain = arr;
	c->chain_len = count;
	return 0;
}

static int chain_validate(const uint8_t *der, const struct der_span *sp, size_t count,
                          const char *name, char *err, size_t errlen)
{
	br_x509_decoder_context dec;
	for (size_t i = 0; i < count; i++) {
		int e = cert_check(der + sp[i].off, sp[i].len, &dec);
		if (e)
			return tls_fail(-EINVAL, err, errlen, "%s: certificate %zu: %s", name, i + 1,
			                tls_strerror(e));
	}
	cert_check(der + sp[0].off, sp[0].len, &dec);
	const br_x509_pkey *pk = br_x509_decoder_get_pkey(&dec);
	if (!pk || (pk->key_type != BR_KEYTYPE_RSA && pk->key_type != BR_KEYTYPE_EC))
		return tls_fail(-EINVAL, err, errlen, "%s: the certificate's key is neither RSA nor EC",
		                name);
	return 0;
}

int tls_creds_chain(struct tls_creds *c, const char *txt, size_t n, const char *name,
                    char *err, size_t errlen)
{
	uint8_t *der = malloc(n ? n : 1);
	struct der_span sp[TLS_CHAIN_MAX];
	size_t count = 0;
	char seen[PEM_LABEL_MAX + 1] = "";
	int rc = 0;
	if (!der)
		return tls_fail(-ENOMEM, err, errlen, "%s: out of memory", name);
	if (pem_detect(txt, n)) {
		rc = collect_certs(txt, n, name, der, sp, &count, seen, err, errlen);
	} else if (n) {
		br_x509_decoder_context dec;
		memcpy(der, txt, n); /* one DER certificate, if it decodes */
		if (cert_check(der, n, &dec) == 0)
			sp[count++] = (struct der_span){ 0, n };
	}
	if (rc == 0 && count == 0)
		rc = tls_fail(-EINVAL, err, errlen, "%s: no certificate found%s", name,
		              hint_for(seen));
	if (rc == 0)
		rc = chain_validate(der, sp, count, name, err, errlen);
	if (rc == 0 && chain_store(c, der, sp, count) < 0)
		rc = tls_fail(-ENOMEM, err, errlen, "%s: out of memory", name);
	free(der);
	return rc;
}

/* Feeds DER to BearSSL's key decoder and checks what it found. */
static int key_decode(struct tls_creds *c, const uint8_t *der, size_t len, const char *name,
                      char *err, size_t errlen)
{
	br_skey_decoder_init(&c->skey);
	br_skey_decoder_push(&c->skey, der, len);
	if (br_skey_decoder_last_error(&c->skey) != 0)
		return tls_fail(-EINVAL, err, errlen,
		                "%s: malformed or unsupported private key (need RSA or EC, "
		                "unencrypted)", name);
	int kt = br_skey_decoder_key_type(&c->skey);
	if (kt == BR_KEYTYPE_EC) {
		int curve = br_skey_decoder_get_ec(&c->skey)->curve;
		if (curve != BR_EC_secp256r1 && curve != BR_EC_secp384r1 && curve != BR_EC_secp521r1)
			return tls_fail(-EINVAL, err, errlen,
			                "%s: unsupported EC curve (P-256, P-384 and P-521 are)", name);
	}
	c->key_type = kt;
	c->key_der = malloc(len);
	if (!c->key_der)
		return tls_fail(-ENOMEM, err, errlen, "%s: out of memory", name);
	memcpy(c->key_der, der, len);
	c->key_der_len = len;
	return 0;
}

static bool is_key_label(const char *l)
{
	return strcmp(l, "PRIVATE KEY") == 0 || strcmp(l, "RSA PRIVATE KEY") == 0 ||
	       strcmp(l, "EC PRIVATE KEY") == 0;
}

static int key_encrypted(const char *name, char *err, size_t errlen)
{
	return tls_fail(-EINVAL, err, errlen,
	                "%s: the private key is encrypted; wsferry needs it unencrypted "
	                "(openssl pkey -in %s -out plain.key)", name, name);
}

/* Finds the first private key block; its DER lands in der (cap n). */
static int find_key(const char *txt, size_t n, const char *name, uint8_t *der,
                    struct pem_block *key, char *err, size_t errlen)
{
	size_t pos = 0;
	char seen[PEM_LABEL_MAX + 1] = "";
	enum pem_rc rc;
	while ((rc = pem_next(txt, n, &pos, key, der, n)) == PEM_OK) {
		if (strcmp(key->label, "ENCRYPTED PRIVATE KEY") == 0)
			return key_encrypted(name, err, errlen);
		if (is_key_label(key->label)) {
			if (key->has_headers) /* RFC 1421 "Proc-Type: 4,ENCRYPTED" */
				return key_encrypted(name, err, errlen);
			return 0;
		}
		if (strcmp(key->label, "OPENSSH PRIVATE KEY") == 0)
			return tls_fail(-EINVAL, err, errlen,
			                "%s: OpenSSH key format is not supported (need PEM: "
			                "PKCS#8, RSA or EC)", name);
		if (!seen[0] && strcmp(key->label, "EC PARAMETERS") != 0)
			strcpy(seen, key->label);
	}
	if (rc != PEM_NONE)
		return pem_error(txt, n, name, key, rc, err, errlen);
	return tls_fail(-EINVAL, err, errlen, "%s: no private key found%s", name, hint_for(seen));
}

int tls_creds_key(struct tls_creds *c, const char *txt, size_t n, const char *name,
                  char *err, size_t errlen)
{
	uint8_t *der = malloc(n ? n : 1);
	if (!der)
		return tls_fail(-ENOMEM, err, errlen, "%s: out of memory", name);
	int rc;
	if (pem_detect(txt, n)) {
		struct pem_block b;
		rc = find_key(txt, n, name, der, &b, err, errlen);
		if (rc == 0) {
			strcpy(c->key_label, b.label);
			rc = key_decode(c, der, b.len, name, err, errlen);
		}
		explicit_bzero(der, n);
	} else {
		strcpy(c->key_label, "PRIVATE KEY");
		rc = key_decode(c, (const uint8_t *)txt, n, name, err, errlen);
		if (rc == -EINVAL)
			rc = tls_fail(-EINVAL, err, errlen, "%s: no private key found (is this a PEM "
			              "file?)", name);
	}
	free(der);
	return rc;
}

/* Leading zero bytes do not change an integer. */
static bool same_int(const unsigned char *a, size_t an, const unsigned char *b, size_t bn)
{
	while (an && *a == 0) {
		a++;
		an--;
	}
	while (bn && *b == 0) {
		b++;
		bn--;
	}
	return an == bn && memcmp(a, b, an) == 0;
}

/* Same modulus means the same key pair. (BearSSL 0.6's compute_pubexp
 * returns 0 for many ordinary keys, so e is not compared.) */
static bool rsa_match(const br_rsa_private_key *sk, const br_rsa_public_key *pk)
{
	unsigned char n[BR_X509_BUFSIZE_KEY];
	br_rsa_compute_modulus mod = br_rsa_compute_modulus_get_default();
	if (mod(NULL, sk) > sizeof(n))
		return false;
	size_t nlen = mod(n, sk);
	return nlen && same_int(n, nlen, pk->n, pk->nlen);
}

static bool ec_match(const br_ec_private_key *sk, const br_ec_public_key *pk)
{
	unsigned char q[BR_EC_KBUF_PUB_MAX_SIZE];
	br_ec_public_key mine;
	if (br_ec_compute_pub(br_ec_get_default(), &mine, q, sk) == 0)
		return false;
	return mine.curve == pk->curve && mine.qlen == pk->qlen &&
	       memcmp(mine.q, pk->q, pk->qlen) == 0;
}

int tls_creds_match(const struct tls_creds *c, const char *cert_name, const char *key_name,
                    char *err, size_t errlen)
{
	br_x509_decoder_context dec;
	cert_check(c->chain[0].data, c->chain[0].data_len, &dec);
	const br_x509_pkey *pk = br_x509_decoder_get_pkey(&dec);
	bool ok = false;
	if (pk && pk->key_type == c->key_type && c->key_type == BR_KEYTYPE_RSA)
		ok = rsa_match(br_skey_decoder_get_rsa(&c->skey), &pk->key.rsa);
	else if (pk && pk->key_type == c->key_type && c->key_type == BR_KEYTYPE_EC)
		ok = ec_match(br_skey_decoder_get_ec(&c->skey), &pk->key.ec);
	if (ok)
		return 0;
	if (pk && pk->key_type != c->key_type)
		return tls_fail(-EINVAL, err, errlen,
		                "%s: the private key is %s but the certificate in %s has an %s key",
		                key_name, c->key_type == BR_KEYTYPE_RSA ? "RSA" : "EC", cert_name,
		                pk->key_type == BR_KEYTYPE_RSA ? "RSA" : "EC");
	return tls_fail(-EINVAL, err, errlen,
	                "%s: the private key does not match the certificate in %s", key_name,
	                cert_name);
}

void tls_creds_free(struct tls_creds *c)
{
	free(c->chain);
	tls_wipe_free(c->key_der, c->key_der_len);
	explicit_bzero(c, sizeof(*c));
}
