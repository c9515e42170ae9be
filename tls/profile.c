/* profile.c — the one TLS profile we ship (BearSSL samples/custom_profile.c
 * idea): TLS 1.2, ECDHE with AES-GCM or ChaCha20-Poly1305, RSA or ECDSA
 * certificates. Naming only these pulls nothing else into a static binary.
 * Owns nothing; sets up contexts its callers own. */
#include "tls/tls_int.h"

#include "proto/chacha.h"
#include "proto/gcm.h"

/* AES-GCM first only where BearSSL has AES instructions to use: x86 AES-NI
 * and POWER8, nothing else. On ARM (even ARMv8 with its crypto extensions,
 * which BearSSL 0.6 has no code for) and on MIPS, AES falls back to the
 * bitsliced constant-time aes_ct/aes_ct64, several times slower than
 * ChaCha20, which is constant-time by construction: routers put
 * ChaCha20-Poly1305 first (README, "Router builds", has the figures). */
static const uint16_t suites_aes_first[] = {
	BR_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	BR_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	BR_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	BR_TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
	BR_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	BR_TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
};
static const uint16_t suites_chacha_first[] = {
	BR_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	BR_TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
	BR_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	BR_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	BR_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	BR_TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
};
#define NSUITES (sizeof(suites_aes_first) / sizeof(suites_aes_first[0]))

static const char *alpn_names[] = { "http/1.1" };

static const struct {
	uint16_t id;
	const char *name;
} suite_names[] = {
	{ BR_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, "ECDHE-ECDSA-AES128-GCM-SHA256" },
	{ BR_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, "ECDHE-RSA-AES128-GCM-SHA256" },
	{ BR_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, "ECDHE-ECDSA-AES256-GCM-SHA384" },
	{ BR_TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384, "ECDHE-RSA-AES256-GCM-SHA384" },
	{ BR_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, "ECDHE-ECDSA-CHACHA20-POLY1305" },
	{ BR_TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256, "ECDHE-RSA-CHACHA20-POLY1305" },
};

const char *tls_suite_name(unsigned suite)
{
	for (size_t i = 0; i < sizeof(suite_names) / sizeof(suite_names[0]); i++)
		if (suite_names[i].id == suite)
			return suite_names[i].name;
	return NULL;
}

static bool aes_hw(void)
{
	return br_aes_x86ni_ctr_get_vtable() != NULL || br_aes_pwr8_ctr_get_vtable() != NULL;
}

/* Everything the two roles share. */
static void common(br_ssl_engine_context *eng, unsigned char *ibuf, unsigned char *obuf)
{
	br_ssl_engine_set_versions(eng, BR_TLS12, BR_TLS12);
	br_ssl_engine_set_suites(eng, aes_hw() ? suites_aes_first : suites_chacha_first, NSUITES);
	/* SHA-256/384 for the PRFs and handshake; SHA-512 only as a signature
	 * hash (it shares SHA-384's code). No SHA-1, no MD5: TLS 1.2 only. */
	br_ssl_engine_set_hash(eng, br_sha256_ID, &br_sha256_vtable);
	br_ssl_engine_set_hash(eng, br_sha384_ID, &br_sha384_vtable);
	br_ssl_engine_set_hash(eng, br_sha512_ID, &br_sha512_vtable);
	br_ssl_engine_set_prf_sha256(eng, &br_tls12_sha256_prf);
	br_ssl_engine_set_prf_sha384(eng, &br_tls12_sha384_prf);
	br_ssl_engine_set_default_aes_gcm(eng);
	/* 4 AES blocks per instruction and one GHASH reduction per 16 where the
	 * CPU has VAES and VPCLMULQDQ (proto/gcm.h) */
	if (gcm_aes_ctr_get() && gcm_ghash_get()) {
		br_ssl_engine_set_aes_ctr(eng, gcm_aes_ctr_get());
		br_ssl_engine_set_ghash(eng, gcm_ghash_get());
	}
	br_ssl_engine_set_default_chapol(eng);
	br_ssl_engine_set_chacha20(eng, chacha20_get()); /* BearSSL's is one block a step */
	br_ssl_engine_set_default_ec(eng);
	br_ssl_engine_set_protocol_names(eng, alpn_names, 1);
	/* Renegotiation buys a tunnel nothing and is a known attack surface. */
	br_ssl_engine_add_flags(eng, BR_OPT_NO_RENEGOTIATION);
	br_ssl_engine_set_buffers_bidi(eng, ibuf, TLS_IN_BUF, obuf, TLS_OUT_BUF);
}

void tls_profile_server(br_ssl_server_context *sc, struct tls_server_cfg *cfg,
                        unsigned char *ibuf, unsigned char *obuf)
{
	const struct tls_creds *c = &cfg->creds;
	br_ssl_server_zero(sc);
	common(&sc->eng, ibuf, obuf);
	/* Whoever lacks AES instructions decides. A server without them
	 * imposes its ChaCha20-first order; a server with them can afford every
	 * suite, so it follows the client's order, which is the client's own
	 * hardware speaking: a router's client gets ChaCha20 from an x86 VPS
	 * (AES-GCM would cost the router its CPU), an x86 client AES-GCM. */
	if (!aes_hw())
		br_ssl_engine_add_flags(&sc->eng, BR_OPT_ENFORCE_SERVER_PREFERENCES);
	if (c->key_type == BR_KEYTYPE_RSA)
		br_ssl_server_set_single_rsa(sc, c->chain, c->chain_len,
		                             br_skey_decoder_get_rsa(&c->skey), BR_KEYTYPE_SIGN,
		                             br_rsa_private_get_default(),
		                             br_rsa_pkcs1_sign_get_default());
	else
		br_ssl_server_set_single_ec(sc, c->chain, c->chain_len,
		                            br_skey_decoder_get_ec(&c->skey), BR_KEYTYPE_SIGN, 0,
		                            br_ec_get_default(), br_ecdsa_sign_asn1_get_default());
	br_ssl_server_set_cache(sc, &cfg->cache.vtable);
}

void tls_profile_client(br_ssl_client_context *cc, unsigned char *ibuf, unsigned char *obuf)
{
	br_ssl_client_zero(cc);
	common(&cc->eng, ibuf, obuf);
	br_ssl_engine_set_default_rsavrfy(&cc->eng);
	br_ssl_engine_set_default_ecdsa(&cc->eng);
	/* Our small output buffer would make BearSSL ask the server for 4 KiB
	 * records (Maximum Fragment Length, RFC 6066 §4). We receive full
	 * records fine, and some servers choke on the extension: claim 2^14.
	 * Our own records still obey the buffer (make_ready_out caps them). */
	cc->eng.log_max_frag_len = 14;
}
