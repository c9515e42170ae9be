/* gcm.h — AES-CTR and GHASH for the TLS AES-GCM suites on x86-64 CPUs
 * with VAES and VPCLMULQDQ (AVX-512): 4 blocks per instruction where
 * BearSSL's AES-NI code does one, and one GHASH reduction per 16 blocks.
 * Drop-in for BearSSL's engine (br_ssl_engine_set_aes_ctr / _set_ghash),
 * same output; the key schedule is BearSSL's own (br_aes_x86ni_ctr_init).
 * Pure: no I/O. */
#ifndef WSF_PROTO_GCM_H
#define WSF_PROTO_GCM_H

#include <bearssl.h>

/* NULL unless this CPU runs them (then BearSSL's own stay). */
const br_block_ctr_class *gcm_aes_ctr_get(void);
br_ghash gcm_ghash_get(void);

#endif
