/* shim/trace_file.c - the file GMPT_TRACE names (the trace itself is
 * sched's: sched/trace.c).
 *
 * Start-up only checks that the file could be written (so that a bad path
 * is the one-line error at start-up): it is created when the process
 * first creates a thread (sched calls trace_file_open then), so that a
 * wrapper without threads (timeout, env, sh -c, nice) that runs the real
 * program leaves the name to it.
 *
 * The variable is inherited by the processes the program starts, which
 * run gmpt too, and forked children write traces of their own: a second
 * process that opened the same file with O_TRUNC would wipe the first's
 * trace. So the name goes to the first process that asks for it, and
 * every later one writes FILE.<pid> instead (and says so):
 * - across exec, the writer holds an open-file-description lock on its
 *   file while it runs, and a process that finds it locked backs off;
 * - among the processes forked from one exec'd image (a server's master
 *   and its workers: the lock is gone once a worker has exited, and the
 *   next one must not truncate its trace), a flag in memory they all
 *   share, mapped before any of them forked, says that one of them has
 *   taken the name. */
#include "arch/syscall.h"
#include "shim/config.h"
#include "sched/sched.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

static char trace_path[4096];

/* Shared by every process forked from this image (MAP_SHARED survives
 * fork, not exec): 1 once one of them took trace_path. */
static _Atomic int *family_took_name;

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

/* Whether path could be opened for writing, without creating it: an
 * existing file we may write, or a new name in a directory we may write
 * into. 0 or -errno. */
static int check_writable(const char *path)
{
	struct stat st;
	long r = raw_syscall(SYS_newfstatat, AT_FDCWD, path, &st, 0);
	if (r == 0)
		return S_ISDIR(st.st_mode) ? -EISDIR
					   : (int)raw_syscall(SYS_faccessat, AT_FDCWD, path, W_OK);
	if (r != -ENOENT)
		return (int)r;
	char dir[sizeof trace_path];
	const char *slash = strrchr(path, '/');
	if (!slash)
		return (int)raw_syscall(SYS_faccessat, AT_FDCWD, ".", W_OK | X_OK);
	size_t n = slash == path ? 1 : (size_t)(slash - path);
	memcpy(dir, path, n);
	dir[n] = 0;
	return (int)raw_syscall(SYS_faccessat, AT_FDCWD, dir, W_OK | X_OK);
}

int trace_file_check(const char *path)
{
	/* Made absolute now: the program may change its directory before
	 * its first thread (a daemon's chdir("/")). */
	size_t cwd = 0;
	if (path[0] != '/') {
		long r = raw_syscall(SYS_getcwd, trace_path, sizeof trace_path);
		if (r < 0)
			return (int)r;
		cwd = strlen(trace_path);
		if (cwd > 1)
			trace_path[cwd++] = '/';
		else
			cwd = 1; /* "/" */
	}
	size_t n = strlen(path);
	if (cwd + n + 24 > sizeof trace_path) /* room for ".<pid>" */
		return -ENAMETOOLONG;
	memcpy(trace_path + cwd, path, n + 1);
	int r = check_writable(trace_path);
	if (r < 0)
		return r;
	long map = raw_syscall(SYS_mmap, NULL, sizeof *family_took_name, PROT_READ | PROT_WRITE,
			       MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	/* Without it, forked processes fall back on the lock alone. */
	family_took_name = map < 0 && map > -4096 ? NULL : (_Atomic int *)map;
	return 0;
}

int trace_file_open(void)
{
	/* First come, first served: the flag is taken whether the open then
	 * works or not, so a relative never truncates a file one of its
	 * family wrote. */
	bool first = !family_took_name || atomic_exchange(family_took_name, 1) == 0;
	int fd = first ? open_locked(trace_path) : -EAGAIN;
	if (fd != -EAGAIN) {
		if (fd < 0)
			sched_notice("GMPT_TRACE: cannot write the trace to %s (%s): no trace",
				     trace_path, strerror(-fd));
		return fd;
	}
	char own[sizeof trace_path + 24];
	snprintf(own, sizeof own, "%s.%ld", trace_path, (long)raw_syscall(SYS_getpid));
	fd = open_locked(own);
	if (fd >= 0)
		sched_notice("GMPT_TRACE: %s is another process's trace; this one writes %s",
			     trace_path, own);
	else
		sched_notice("GMPT_TRACE: cannot write the trace to %s (%s): no trace", own,
			     strerror(fd == -EAGAIN ? EBUSY : -fd));
	return fd;
}
