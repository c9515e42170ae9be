/* sip003_fuzz.c — libFuzzer target for proto/sip003.c: the input is an
 * SS_PLUGIN_OPTIONS value. Every option has a non-empty key within its
 * limit, the position only moves forward and never past the input, and the
 * walk ends (END or an error) within len + 1 calls. */
#include "proto/sip003.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REQUIRE(cond) \
	do {                  \
		if (!(cond))      \
			abort();      \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size ? size : 1); /* exact size: ASan sees over-reads */
	memcpy(s, data, size);
	struct sip003_opt o;
	size_t pos = 0;
	for (size_t calls = 0;; calls++) {
		REQUIRE(calls <= size + 1);
		size_t before = pos;
		enum sip003_rc rc = sip003_next(s, size, &pos, &o);
		REQUIRE(pos <= size);
		if (rc != SIP003_OPT) {
			REQUIRE(rc == SIP003_END || rc < 0);
			REQUIRE(sip003_strerror(rc) != NULL);
			break;
		}
		REQUIRE(pos > before);
		size_t kn = strlen(o.key), vn = strlen(o.value);
		REQUIRE(kn > 0 && kn <= SIP003_MAX_KEY && vn <= SIP003_MAX_VALUE);
		REQUIRE(o.has_value || vn == 0);
	}
	free(s);
	return 0;
}
