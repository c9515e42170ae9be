/* splice_none.c — where there is no splice(2): callers copy instead. */
#include "core/splice.h"

#include <errno.h>

long splice_move(int from, int to, size_t n)
{
	(void)from;
	(void)to;
	(void)n;
	return -ENOSYS;
}
