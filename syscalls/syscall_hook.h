/* syscalls/syscall_hook.h - system calls made through syscall(3) that the
 * shim answers for gmpt's threads (thread ids: gettid, tgkill, ...). */
#ifndef GMPT_SYSCALL_HOOK_H
#define GMPT_SYSCALL_HOOK_H

#include <stdbool.h>

/* hook(nr, args, &r) returns true when it made the call (r: the raw
 * result, >= 0 or -errno), false to let the kernel have it. Set once at
 * start-up. */
typedef bool (*syscall_thread_hook)(long nr, const long args[6], long *r);
void syscall_set_thread_hook(syscall_thread_hook hook);

#endif
