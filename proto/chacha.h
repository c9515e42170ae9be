/* chacha.h — ChaCha20 (RFC 8439 §2.4) several blocks at a time, for the
 * --encrypt records (seal.c) and the TLS ChaCha20-Poly1305 suites.
 * BearSSL's fastest x86 version runs one block per step (1.6 s/GiB here);
 * on x86-64 this one keeps 4 blocks in the lanes of 128-bit vectors (SSE2,
 * every x86-64), 8 in 256-bit ones where the CPU has AVX2 and 16 in
 * 512-bit ones with AVX-512, written once with the compiler's vector types
 * (0.9, 0.55 and 0.23 s/GiB here). Elsewhere (the router builds) BearSSL's
 * own. Pure: no I/O. */
#ifndef WSF_PROTO_CHACHA_H
#define WSF_PROTO_CHACHA_H

#include <bearssl.h>

/* The fastest implementation this CPU runs: same contract and output as
 * br_chacha20_ct_run (key 32 bytes, iv 12, block counter cc, data XORed in
 * place; returns the counter after the last block). Never NULL. */
br_chacha20_run chacha20_get(void);
/* The implementation with lanes (4, 8 or 16) blocks a step when this build
 * and CPU have it, else NULL: for tests and benches, which check each. */
br_chacha20_run chacha20_lanes(unsigned lanes);

#endif
