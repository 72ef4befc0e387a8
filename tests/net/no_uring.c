/* no_uring PROG [ARGS...]: runs PROG where io_uring does not exist.
 *
 * Installs a seccomp filter (raw BPF through prctl; no libseccomp) under
 * which io_uring_setup, io_uring_enter and io_uring_register fail with
 * ENOSYS, as on a kernel built without io_uring, checks that it works, and
 * execvp()s PROG. The filter survives the exec and is inherited by every
 * thread and child PROG creates; so is the environment (LD_PRELOAD). A
 * system call made under another architecture's numbering kills the
 * process (the filter only knows x86_64 numbers; the x32 numbers of the
 * three calls are refused too). */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#if !defined(__x86_64__)
#error "no_uring knows the x86_64 system call numbers only"
#endif

enum {
	NR_IO_URING_SETUP = 425,
	NR_IO_URING_ENTER = 426,
	NR_IO_URING_REGISTER = 427,
	X32_SYSCALL_BIT = 0x40000000,
};

#ifdef __NR_io_uring_setup
_Static_assert(__NR_io_uring_setup == NR_IO_URING_SETUP, "io_uring_setup is 425");
_Static_assert(__NR_io_uring_enter == NR_IO_URING_ENTER, "io_uring_enter is 426");
_Static_assert(__NR_io_uring_register == NR_IO_URING_REGISTER, "io_uring_register is 427");
#endif

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: no_uring PROG [ARGS...]\n");
		return 2;
	}

	struct sock_filter filter[] = {
	    /* 0 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
	    /* 1 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
	    /* 2 */ BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
	    /* 3 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
	    /* 4 */ BPF_STMT(BPF_ALU | BPF_AND | BPF_K, ~(unsigned)X32_SYSCALL_BIT),
	    /* 5 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, NR_IO_URING_SETUP, 2, 0),
	    /* 6 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, NR_IO_URING_ENTER, 1, 0),
	    /* 7 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, NR_IO_URING_REGISTER, 0, 1),
	    /* 8 */ BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (ENOSYS & SECCOMP_RET_DATA)),
	    /* 9 */ BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = {
	    .len = (unsigned short)(sizeof filter / sizeof filter[0]),
	    .filter = filter,
	};
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
		fprintf(stderr, "no_uring: prctl(PR_SET_NO_NEW_PRIVS): %s\n", strerror(errno));
		return 126;
	}
	if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0) {
		fprintf(stderr, "no_uring: prctl(PR_SET_SECCOMP): %s\n", strerror(errno));
		return 126;
	}

	/* The filter must answer ENOSYS now (a bad pointer would give EFAULT). */
	errno = 0;
	long rc = syscall(NR_IO_URING_SETUP, 1, NULL);
	if (rc != -1 || errno != ENOSYS) {
		fprintf(stderr, "no_uring: io_uring_setup still answers (%ld, %s)\n", rc,
			strerror(errno));
		return 126;
	}

	execvp(argv[1], argv + 1);
	fprintf(stderr, "no_uring: cannot run %s: %s\n", argv[1], strerror(errno));
	return 127;
}
