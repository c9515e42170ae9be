/* rand.h — unpredictable bytes (nonces, WebSocket masking keys, DNS ids)
 * from getrandom(2), buffered so a masking key per frame costs no syscall. */
#ifndef WSF_CORE_RAND_H
#define WSF_CORE_RAND_H

#include <stddef.h>

/* Fills p with n bytes from the kernel CSPRNG. 0 or -errno (never short). */
int rand_bytes(void *p, size_t n);

#endif
