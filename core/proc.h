/* proc.h — what a process started by another program needs from the OS:
 * ending with its parent (a SIP003 plugin must not outlive ss-local). One
 * file per OS (proc_linux.c, proc_other.c), picked by the Makefile. */
#ifndef WSF_CORE_PROC_H
#define WSF_CORE_PROC_H

#include <sys/types.h>

/* Arranges for signo to be delivered to this process within a second of
 * the death of parent (the pid it had when it started; if it is already
 * gone, signo is raised now). 0, or a negative errno. */
int proc_end_with_parent(pid_t parent, int signo);

#endif
