/* file.c — small-file I/O for certificates and keys, with messages that
 * name the file and say what is wrong; and tiny helpers the module shares
 * (formatted errors, wiping, hex, IP literals). No logging. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tls/tls_int.h"

int tls_fail(int rc, char *err, size_t errlen, const char *fmt, ...)
{
	if (err && errlen) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return rc;
}

void tls_wipe_free(void *p, size_t n)
{
	if (!p)
		return;
	explicit_bzero(p, n); /* keys must not linger in freed heap */
	free(p);
}

void tls_hex(const uint8_t *p, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[p[i] >> 4];
		out[2 * i + 1] = digits[p[i] & 15];
	}
	out[2 * n] = '\0';
}

size_t tls_ip_parse(const char *s, uint8_t out[16])
{
	char tmp[64];
	size_t n = strlen(s);
	if (n >= 2 && s[0] == '[' && s[n - 1] == ']') {
		s++;
		n -= 2;
	}
	if (n == 0 || n >= sizeof(tmp))
		return 0;
	memcpy(tmp, s, n);
	tmp[n] = '\0';
	if (inet_pton(AF_INET, tmp, out) == 1)
		return 4;
	if (inet_pton(AF_INET6, tmp, out) == 1)
		return 16;
	return 0;
}

static int open_error(const char *path, int e, char *err, size_t errlen)
{
	if (e == ENOENT)
		return tls_fail(-e, err, errlen, "%s: no such file", path);
	return tls_fail(-e, err, errlen, "%s: unreadable: %s", path, strerror(e));
}

/* Reads all of fd (size hint from fstat, but read to EOF: /proc and pipes
 * lie about sizes). */
static int read_all(int fd, const char *path, char **buf, size_t *len, char *err,
                    size_t errlen)
{
	size_t cap = 4096, n = 0;
	char *b = malloc(cap);
	for (;;) {
		if (!b)
			return tls_fail(-ENOMEM, err, errlen, "%s: out of memory", path);
		ssize_t r = read(fd, b + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			int e = errno;
			free(b);
			return open_error(path, e, err, errlen);
		}
		if (r == 0)
			break;
		n += (size_t)r;
		if (n == cap) {
			if (cap >= TLS_FILE_MAX) {
				free(b);
				return tls_fail(-EFBIG, err, errlen,
				                "%s: too large for a certificate or key file", path);
			}
			char *nb = realloc(b, cap * 2);
			if (!nb)
				free(b);
			b = nb;
			cap *= 2;
		}
	}
	*buf = b;
	*len = n;
	return 0;
}

int tls_file_read(const char *path, char **buf, size_t *len, char *err, size_t errlen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return open_error(path, errno, err, errlen);
	struct stat st;
	if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
		close(fd);
		return tls_fail(-EISDIR, err, errlen, "%s: is a directory, not a file", path);
	}
	int rc = read_all(fd, path, buf, len, err, errlen);
	close(fd);
	if (rc == 0 && *len == 0) {
		free(*buf);
		*buf = NULL;
		return tls_fail(-EINVAL, err, errlen, "%s: file is empty", path);
	}
	return rc;
}

int tls_file_write(const char *path, const void *p, size_t n, unsigned mode, char *err,
                   size_t errlen)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, (mode_t)mode);
	if (fd < 0)
		return tls_fail(-errno, err, errlen, "%s: cannot write: %s", path, strerror(errno));
	/* An existing file keeps its old mode through O_CREAT: force ours, so
	 * a key never stays group or world readable. */
	int rc = fchmod(fd, (mode_t)mode) == 0 ? 0 : -errno;
	const char *c = p;
	while (rc == 0 && n) {
		ssize_t w = write(fd, c, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			rc = -errno;
			break;
		}
		c += w;
		n -= (size_t)w;
	}
	if (close(fd) != 0 && rc == 0)
		rc = -errno;
	if (rc < 0)
		return tls_fail(rc, err, errlen, "%s: cannot write: %s", path, strerror(-rc));
	return 0;
}
