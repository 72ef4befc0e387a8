/* Linked into C test programs to make gmpt take them for Go programs: an
 * ELF note owned by "Go" (n_namesz 4, as Go's linker writes its build ID),
 * in a section whose .note prefix makes it SHT_NOTE, so the linker maps it
 * in a PT_NOTE segment (sched/runtime_detect.c looks there). gmpt then
 * steps aside for a program whose every output is known natively, and
 * every pthread, semaphore, signal and I/O call it makes goes through
 * gmpt's forwarding. */
#include <stdint.h>

struct go_note {
	uint32_t namesz, descsz, type;
	char name[4];
	char desc[8] __attribute__((nonstring)); /* a Go build id: no NUL */
};

__attribute__((section(".note.go.buildid"), used,
	       aligned(4))) static const struct go_note go_buildid_note = {4, 8, 4, "Go",
									   "gmpttest"};
