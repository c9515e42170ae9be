/* proc_linux.c — proc_end_with_parent with prctl(PR_SET_PDEATHSIG): the
 * kernel signals us the moment the parent exits, no polling. */
#include "core/proc.h"

#include <errno.h>
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

int proc_end_with_parent(pid_t parent, int signo)
{
	if (prctl(PR_SET_PDEATHSIG, signo) == -1)
		return -errno;
	/* The parent may have died before prctl: then we were reparented. */
	if (getppid() != parent)
		raise(signo);
	return 0;
}
