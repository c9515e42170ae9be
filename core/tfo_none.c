/* tfo_none.c — no TCP Fast Open on this OS: every call says so, and
 * callers connect and listen as plain TCP. */
#include "core/tfo.h"

#include <errno.h>

int tfo_listen(int fd)
{
	(void)fd;
	return -ENOPROTOOPT;
}

int tfo_connect(int fd)
{
	(void)fd;
	return -ENOPROTOOPT;
}

const char *tfo_blocked(bool server)
{
	(void)server;
	return "this build has no TCP Fast Open for this OS";
}
