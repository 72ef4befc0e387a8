/* sched/sysfile.h - read a small /proc or /sys file with raw system calls
 * (the shim may interpose open/read; start-up code must not depend on it). */
#ifndef GMPT_SYSFILE_H
#define GMPT_SYSFILE_H

#include <stddef.h>
#include <sys/types.h>

/* Reads up to size-1 bytes and NUL-terminates. Returns the length or -1. */
ssize_t sysfile_read(const char *path, char *buf, size_t size);

#endif
