/* tfo_linux.c — Fast Open with TCP_FASTOPEN (listeners) and
 * TCP_FASTOPEN_CONNECT (Linux 4.11+: connect() stays a plain call and the
 * first write rides in the SYN); net.ipv4.tcp_fastopen says which sides the
 * kernel enables (bit 1 client, bit 2 server). */
#include "core/tfo.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#ifndef TCP_FASTOPEN_CONNECT
#define TCP_FASTOPEN_CONNECT 30 /* linux/tcp.h, older libc headers lack it */
#endif

#define SYSCTL_PATH "/proc/sys/net/ipv4/tcp_fastopen"

int tfo_listen(int fd)
{
	int q = TFO_QUEUE;
	return setsockopt(fd, IPPROTO_TCP, TCP_FASTOPEN, &q, sizeof(q)) == -1 ? -errno : 0;
}

int tfo_connect(int fd)
{
	int one = 1;
	return setsockopt(fd, IPPROTO_TCP, TCP_FASTOPEN_CONNECT, &one, sizeof(one)) == -1 ? -errno
	                                                                                  : 0;
}

const char *tfo_blocked(bool server)
{
	char text[16] = {0};
	int fd = open(SYSCTL_PATH, O_RDONLY | O_CLOEXEC);
	if (fd == -1)
		return NULL;
	ssize_t n = read(fd, text, sizeof(text) - 1);
	close(fd);
	if (n <= 0 || text[0] < '0' || text[0] > '9')
		return NULL;
	unsigned v = 0; /* decimal, as the kernel prints it (no sscanf: its bytes) */
	for (ssize_t i = 0; i < n && text[i] >= '0' && text[i] <= '9' && v < 1000000; i++)
		v = v * 10 + (unsigned)(text[i] - '0');
	if (server && !(v & 2))
		return "the kernel's net.ipv4.tcp_fastopen lacks the server bit 2 "
		       "(sysctl -w net.ipv4.tcp_fastopen=3 turns it on)";
	if (!server && !(v & 1))
		return "the kernel's net.ipv4.tcp_fastopen lacks the client bit 1 "
		       "(sysctl -w net.ipv4.tcp_fastopen=3 turns it on)";
	return NULL;
}
