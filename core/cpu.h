/* cpu.h — which vector instructions this x86-64 CPU runs and its kernel
 * saves the registers of (CPUID and XCR0, read once), for the crypto that
 * has faster lanes for them (proto/chacha.c, proto/gcm.c). Elsewhere 0.
 * Our own look rather than __builtin_cpu_supports, whose libgcc helper
 * costs a static binary 5 KiB. */
#ifndef WSF_CORE_CPU_H
#define WSF_CORE_CPU_H

enum cpu_feature {
	CPU_AVX2 = 1 << 0,
	CPU_AVX512 = 1 << 1,     /* AVX-512 F and BW, opmask and ZMM state saved */
	CPU_VAES = 1 << 2,       /* AES rounds on 256/512-bit vectors (with AES-NI) */
	CPU_VPCLMUL = 1 << 3,    /* carry-less multiply on 256/512-bit vectors */
};

/* The enum cpu_feature bits this CPU has (0 off x86-64). */
unsigned cpu_features(void);

#endif
