/* tfo.h — TCP Fast Open (RFC 7413) where the OS has it: data in the SYN for
 * client dials, accepted in the SYN by listeners. One file per OS
 * (tfo_linux.c, tfo_none.c), picked by the Makefile; callers fall back to
 * plain TCP, and log why, when a call fails. */
#ifndef WSF_CORE_TFO_H
#define WSF_CORE_TFO_H

#include <stdbool.h>

#define TFO_QUEUE 256 /* pending Fast Open requests a listener may hold */

/* Lets listener fd take data in SYNs. 0, or a negative errno (-ENOPROTOOPT
 * where the OS has no Fast Open). */
int tfo_listen(int fd);

/* Before connect(fd): the first write goes out in the SYN once the kernel
 * holds the server's cookie (the first connection fetches it). 0 or a
 * negative errno. */
int tfo_connect(int fd);

/* Why the system's settings keep Fast Open off for this side (a sentence
 * naming the setting), or NULL when they allow it or it cannot be told. */
const char *tfo_blocked(bool server);

#endif
