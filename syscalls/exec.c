/* syscalls/exec.c - a program image that replaces this one, or a child
 * spawned with posix_spawn, inherits our descriptors as they are
 * underneath: non-blocking where the program asked for blocking. Before
 * exec the O_NONBLOCK we added is taken off every inherited descriptor
 * (the ones without FD_CLOEXEC); the new image sees what the program set.
 *
 * The description is shared with the parent of a fork: from then on the
 * parent's own calls on it meet a blocking fd. They stay correct, since
 * every non-blocking attempt runs inside entersyscall (io_park.c) and
 * sysmon hands the P on if one blocks; posix_spawn, which runs in the
 * parent, also marks them blocking in the table, and so the descriptors
 * its file actions dup2 into the child, close-on-exec or not (a pipe's
 * end put on the child's stdout). system() and popen() are
 * left alone: their child is a shell that rarely uses inherited fds, and
 * a server that calls them should not lose its sockets' netpolling. */
#include "syscalls/io_common.h"
#include "sched/real.h"

#include <fcntl.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

extern char **environ;

static bool restore_one(int fd, struct fdinfo *fi, void *mark)
{
	if (atomic_load(&fi->kind) != FD_POLLED || fdtab_user_nonblock(fi))
		return false;
	long fdfl = raw_syscall(SYS_fcntl, fd, F_GETFD);
	if (fdfl < 0 || (fdfl & FD_CLOEXEC))
		return false;
	long fl = raw_syscall(SYS_fcntl, fd, F_GETFL);
	if (fl >= 0)
		raw_syscall(SYS_fcntl, fd, F_SETFL, fl & ~O_NONBLOCK);
	if (*(bool *)mark)
		atomic_store(&fi->kind, FD_BLOCKING);
	return false;
}

static void restore_blocking(bool mark)
{
	/* A vfork child's posix_spawn must not write its parent's table. */
	mark = mark && !sched_in_vfork_child();
	fdtab_for_each(restore_one, &mark);
}

typedef int (*execve_fn)(const char *, char *const[], char *const[]);
typedef int (*execvpe_fn)(const char *, char *const[], char *const[]);
typedef int (*fexecve_fn)(int, char *const[], char *const[]);
typedef int (*spawn_fn)(pid_t *, const char *, const posix_spawn_file_actions_t *,
			const posix_spawnattr_t *, char *const[], char *const[]);

EXPORT int execve(const char *path, char *const argv[], char *const envp[])
{
	STEP_ASIDE_FORWARD(execve, path, argv, envp);
	restore_blocking(false);
	return REAL(execve_fn, execve)(path, argv, envp);
}

EXPORT int execv(const char *path, char *const argv[])
{
	STEP_ASIDE_FORWARD(execv, path, argv);
	return execve(path, argv, environ);
}

EXPORT int execvpe(const char *file, char *const argv[], char *const envp[])
{
	STEP_ASIDE_FORWARD(execvpe, file, argv, envp);
	restore_blocking(false);
	return REAL(execvpe_fn, execvpe)(file, argv, envp);
}

EXPORT int execvp(const char *file, char *const argv[])
{
	STEP_ASIDE_FORWARD(execvp, file, argv);
	return execvpe(file, argv, environ);
}

EXPORT int fexecve(int fd, char *const argv[], char *const envp[])
{
	STEP_ASIDE_FORWARD(fexecve, fd, argv, envp);
	restore_blocking(false);
	return REAL(fexecve_fn, fexecve)(fd, argv, envp);
}

/* The execl family: collect the variadic arguments into an argv, and
 * exec with the vector form (as glibc's execl does). Variadic arguments
 * cannot be passed on, so these do not forward when gmpt steps aside:
 * execve and execvpe do, and the result is glibc's. */
#define COLLECT_ARGS(arg0, ap, argv)                                                               \
	do {                                                                                       \
		size_t n_ = 1;                                                                     \
		va_list c_;                                                                        \
		va_copy(c_, ap);                                                                   \
		while (va_arg(c_, char *))                                                         \
			n_++;                                                                      \
		va_end(c_);                                                                        \
		argv = alloca((n_ + 1) * sizeof *argv);                                            \
		argv[0] = (char *)(arg0);                                                          \
		for (size_t i_ = 1; i_ <= n_; i_++)                                                \
			argv[i_] = va_arg(ap, char *);                                             \
	} while (0)

EXPORT int execl(const char *path, const char *arg, ...)
{
	char **argv;
	va_list ap;
	va_start(ap, arg);
	COLLECT_ARGS(arg, ap, argv);
	va_end(ap);
	return execve(path, argv, environ);
}

EXPORT int execlp(const char *file, const char *arg, ...)
{
	char **argv;
	va_list ap;
	va_start(ap, arg);
	COLLECT_ARGS(arg, ap, argv);
	va_end(ap);
	return execvpe(file, argv, environ);
}

EXPORT int execle(const char *path, const char *arg, ...)
{
	char **argv;
	va_list ap;
	va_start(ap, arg);
	COLLECT_ARGS(arg, ap, argv);
	char **envp = va_arg(ap, char **);
	va_end(ap);
	return execve(path, argv, envp);
}

/* glibc's posix_spawn_file_actions_t, as glibc 2.36 lays it out (the
 * same since 2.2): a count and an array of actions, each a tag and the
 * tag's arguments; a dup2 is tag 1 with (fd, newfd). */
struct glibc_spawn_action {
	int tag;
	int args[7];
};
_Static_assert(sizeof(struct glibc_spawn_action) == 32, "glibc's struct __spawn_action");
enum { GLIBC_SPAWN_DO_DUP2 = 1, GLIBC_SPAWN_TAGS = 7 };

/* The sources of the file actions' dup2s: what the child's program gets,
 * so blocking underneath if the program wants them blocking. */
static void restore_dup2_sources(const posix_spawn_file_actions_t *fa)
{
	if (!fa || fa->__used < 0 || fa->__used > fa->__allocated)
		return;
	const struct glibc_spawn_action *a = (const void *)fa->__actions;
	for (int i = 0; i < fa->__used; i++) {
		if (a[i].tag < 0 || a[i].tag >= GLIBC_SPAWN_TAGS)
			return; /* not the layout we know: leave it */
		if (a[i].tag != GLIBC_SPAWN_DO_DUP2)
			continue;
		int fd = a[i].args[1];
		struct fdinfo *fi = fdtab_get(fd, false);
		if (!fi || atomic_load(&fi->kind) != FD_POLLED || fdtab_user_nonblock(fi))
			continue;
		long fl = raw_syscall(SYS_fcntl, fd, F_GETFL);
		if (fl >= 0)
			raw_syscall(SYS_fcntl, fd, F_SETFL, fl & ~O_NONBLOCK);
		if (!sched_in_vfork_child())
			atomic_store(&fi->kind, FD_BLOCKING);
	}
}

EXPORT int posix_spawn(pid_t *pid, const char *path, const posix_spawn_file_actions_t *fa,
		       const posix_spawnattr_t *attr, char *const argv[], char *const envp[])
{
	STEP_ASIDE_FORWARD(posix_spawn, pid, path, fa, attr, argv, envp);
	restore_blocking(true);
	restore_dup2_sources(fa);
	return REAL(spawn_fn, posix_spawn)(pid, path, fa, attr, argv, envp);
}

EXPORT int posix_spawnp(pid_t *pid, const char *file, const posix_spawn_file_actions_t *fa,
			const posix_spawnattr_t *attr, char *const argv[], char *const envp[])
{
	STEP_ASIDE_FORWARD(posix_spawnp, pid, file, fa, attr, argv, envp);
	restore_blocking(true);
	restore_dup2_sources(fa);
	return REAL(spawn_fn, posix_spawnp)(pid, file, fa, attr, argv, envp);
}
