/* proc_other.c — proc_end_with_parent where no death signal exists (BSDs,
 * macOS): a small watcher process polls every 250 ms; when our parent is
 * gone it signals us, and when we are gone it ends itself. */
#include "core/proc.h"

#include <errno.h>
#include <signal.h>
#include <unistd.h>

#define WATCH_POLL_US 250000

int proc_end_with_parent(pid_t parent, int signo)
{
	pid_t self = getpid();
	if (getppid() != parent)
		return raise(signo), 0;
	pid_t pid = fork();
	if (pid == -1)
		return -errno;
	if (pid > 0)
		return 0;
	for (;;) { /* the watcher: ends with us or after signalling us */
		usleep(WATCH_POLL_US);
		if (getppid() != self)
			_exit(0);
		if (kill(parent, 0) == -1 && errno == ESRCH) {
			kill(self, signo);
			_exit(0);
		}
	}
}
