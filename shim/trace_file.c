/* shim/trace_file.c - opens the file GMPT_TRACE names (the trace itself
 * is sched's: sched/trace.c).
 *
 * The variable is inherited by the processes the program starts, which
 * run gmpt too: a child that opened the same file with O_TRUNC would wipe
 * the parent's trace. So the writer holds an open-file-description lock on
 * its file while it runs; a process that finds the file locked writes
 * FILE.<pid> instead (and says so). A forked child that does not exec
 * shares the parent's description: sched stops tracing in it. */
#include "arch/syscall.h"
#include "shim/config.h"
#include "sched/sched.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Opens path for writing, at fd 3 or above (0-2 belong to the program
 * even when it closed them), locked. Returns the fd, -EAGAIN if another
 * process holds the lock, or another -errno. */
static int open_locked(const char *path)
{
	long fd = raw_syscall(SYS_openat, AT_FDCWD, path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOCTTY,
			      0666);
	if (fd < 0)
		return (int)fd;
	if (fd < 3) {
		long high = raw_syscall(SYS_fcntl, fd, F_DUPFD_CLOEXEC, 3);
		raw_syscall(SYS_close, fd);
		if (high < 0)
			return (int)high;
		fd = high;
	}
	struct flock fl;
	memset(&fl, 0, sizeof fl);
	fl.l_type = F_WRLCK;
	fl.l_whence = SEEK_SET;
	long r = raw_syscall(SYS_fcntl, fd, F_OFD_SETLK, &fl);
	if (r == -EAGAIN || r == -EACCES) {
		raw_syscall(SYS_close, fd);
		return -EAGAIN;
	}
	/* Other errors (a pipe, a file system without locks): write anyway. */
	raw_syscall(SYS_ftruncate, fd, 0);
	return (int)fd;
}

int trace_file_open(const char *path)
{
	int fd = open_locked(path);
	if (fd != -EAGAIN)
		return fd;
	char own[4096];
	int n = snprintf(own, sizeof own, "%s.%ld", path, (long)raw_syscall(SYS_getpid));
	if (n < 0 || n >= (int)sizeof own)
		return -ENAMETOOLONG;
	fd = open_locked(own);
	if (fd >= 0)
		sched_notice("GMPT_TRACE: %s is being written by another process; this one (a "
			     "child?) writes %s",
			     path, own);
	return fd;
}
