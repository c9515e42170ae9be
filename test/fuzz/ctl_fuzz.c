/* ctl_fuzz.c — libFuzzer target for proto/ctl.c (and json_array_next): the
 * input is a controller request body. A parsed command has a known op, and
 * walking its users yields exactly nusers of them, each with a path in the
 * alphabet and (add) a destination that splits; a refusal has a sentence;
 * the answer always fits a buffer its size says. A broken invariant aborts. */
#include "proto/ctl.h"

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
	char *in = malloc(size ? size : 1); /* exact size: ASan sees over-reads */
	memcpy(in, data, size);
	struct ctl_cmd c;
	size_t bad = 0;
	enum ctl_rc rc = ctl_parse(in, size, &c, &bad);
	REQUIRE(ctl_strerror(rc) != NULL);
	if (rc == CTL_OK) {
		REQUIRE(c.op == CTL_OP_ADD || c.op == CTL_OP_DELETE || c.op == CTL_OP_RESET ||
		        c.op == CTL_OP_PING);
		if (c.op == CTL_OP_ADD || c.op == CTL_OP_DELETE) {
			size_t at = 0, n = 0;
			struct ctl_user u;
			while (ctl_next_user(&c, &at, &u)) {
				REQUIRE(u.path[0] == '/' && strlen(u.path) <= CTL_PATH_MAX);
				REQUIRE(c.op != CTL_OP_ADD || u.dst[0]);
				REQUIRE(n++ < c.nusers);
			}
			REQUIRE(n == c.nusers);
		}
	} else {
		REQUIRE(rc >= CTL_ERR_KEY && rc <= CTL_ERR_JSON);
	}
	char out[512];
	char why[64];
	size_t wl = size < sizeof(why) - 1 ? size : sizeof(why) - 1;
	memcpy(why, data, wl);
	why[wl] = '\0';
	size_t n = ctl_answer(out, sizeof(out), rc == CTL_OK, why, size);
	REQUIRE(n > 0 && n <= sizeof(out) && out[0] == '{' && out[n - 1] == '}');
	free(in);
	return 0;
}
