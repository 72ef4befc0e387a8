/* sched/sysfile.c - see sysfile.h. */
#include "arch/syscall.h"
#include "sched/sysfile.h"

#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

ssize_t sysfile_read(const char *path, char *buf, size_t size)
{
	int fd = (int)raw_syscall(SYS_openat, AT_FDCWD, path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	size_t len = 0;
	while (len + 1 < size) {
		ssize_t n = raw_syscall(SYS_read, fd, buf + len, size - 1 - len);
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	raw_syscall(SYS_close, fd);
	buf[len] = 0;
	return (ssize_t)len;
}
