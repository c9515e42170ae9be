/* cpu.c — x86-64 feature bits (see cpu.h). AVX2 needs the YMM state saved
 * by the kernel (XCR0 bits 1-2), AVX-512 the opmask and ZMM state too
 * (bits 5-7); VAES and VPCLMULQDQ are only used with AVX-512 here. */
#include "core/cpu.h"

#include <stdbool.h>

#ifdef __x86_64__
#include <cpuid.h>

static unsigned probe(void)
{
	unsigned a, b, c, d, lo, hi, f = 0;
	if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & bit_OSXSAVE))
		return 0;
	bool aesni = (c & bit_AES) && (c & bit_PCLMUL);
	__asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
	(void)hi;
	if ((lo & 0x06) != 0x06 || !__get_cpuid_count(7, 0, &a, &b, &c, &d))
		return 0;
	if (b & bit_AVX2)
		f |= CPU_AVX2;
	if ((b & bit_AVX512F) && (b & bit_AVX512BW) && (lo & 0xe6) == 0xe6)
		f |= CPU_AVX512;
	if (aesni && (c & bit_VAES))
		f |= CPU_VAES;
	if (aesni && (c & bit_VPCLMULQDQ))
		f |= CPU_VPCLMUL;
	return f;
}

unsigned cpu_features(void)
{
	static unsigned f;
	static bool known;
	if (!known) { /* the same answer every time: a race only repeats it */
		f = probe();
		known = true;
	}
	return f;
}
#else
unsigned cpu_features(void)
{
	return 0;
}
#endif
