/* sched/runtime_detect.c - finds a runtime in the process that schedules
 * its own threads, which gmpt would break by scheduling them again.
 *
 * Go is the one known today. Two marks, both read from memory, so the
 * check opens no file and costs a few microseconds in a C program:
 *
 *  - The main executable's PT_NOTE segments hold a note with owner "Go":
 *    Go's linker writes the build ID as such a note (type 4, section
 *    .note.go.buildid) in every executable `go build` makes, internally or
 *    externally linked (cgo through gcc), PIE or not; it is in an allocated
 *    segment, so strip keeps it. No C toolchain writes that owner. Only
 *    the main executable is looked at: a C library of that name elsewhere
 *    would not make the program a Go one.
 *
 *  - Without the note (`-ldflags=-buildid=`, as reproducible builds pass):
 *    crosscall2, runtime/cgo's entry for calls from C into Go, which every
 *    cgo binary exports dynamically (internal and external linking alike).
 *    Go binaries without cgo are static, and LD_PRELOAD never reaches
 *    them. The same symbol in a Go c-shared library that the program
 *    links against (a DT_NEEDED one, loaded before any constructor runs)
 *    is a Go runtime starting its threads in this process too.
 *
 * A .go.buildinfo section would also mark a Go binary, but finding a
 * section needs the section headers, which are not mapped: the file would
 * have to be opened and read. */
#include "sched/runtime_detect.h"

#include <dlfcn.h>
#include <elf.h>
#include <link.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

/* Whether one PT_NOTE segment, mapped at notes (size bytes), holds a note
 * whose owner is "Go". Notes are padded to the segment's alignment: 4, or
 * 8 in segments such as .note.gnu.property's. */
static bool notes_have_go(const unsigned char *notes, size_t size, size_t align)
{
	size_t off = 0;
	while (size - off >= sizeof(ElfW(Nhdr))) {
		ElfW(Nhdr) nh;
		memcpy(&nh, notes + off, sizeof nh);
		size_t name_off = off + sizeof nh;
		size_t name_len = (nh.n_namesz + align - 1) & ~(align - 1);
		size_t desc_len = (nh.n_descsz + align - 1) & ~(align - 1);
		if (name_len > size - name_off || desc_len > size - name_off - name_len)
			return false; /* malformed: stop, it is not Go's linker's */
		/* Go's linker writes the owner as "Go\0\0" (n_namesz 4); the
		 * ELF convention would give 3. */
		if ((nh.n_namesz == 3 || nh.n_namesz == 4) &&
		    memcmp(notes + name_off, "Go", 3) == 0 &&
		    (nh.n_namesz == 3 || notes[name_off + 3] == 0))
			return true;
		off = name_off + name_len + desc_len;
	}
	return false;
}

/* dl_iterate_phdr visits the main program first; stop there. */
static int main_program_is_go(struct dl_phdr_info *info, size_t size, void *out)
{
	(void)size;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type != PT_NOTE)
			continue;
		size_t align = ph->p_align == 8 ? 8 : 4;
		if (notes_have_go((const unsigned char *)(info->dlpi_addr + ph->p_vaddr),
				  ph->p_memsz, align)) {
			*(bool *)out = true;
			break;
		}
	}
	return 1;
}

const char *runtime_detect_unhostable(void)
{
	bool go = false;
	dl_iterate_phdr(main_program_is_go, &go);
	if (go)
		return "this is a Go program, whose runtime schedules its own threads";
	if (dlsym(RTLD_DEFAULT, "crosscall2"))
		return "the Go runtime is linked in (cgo's crosscall2) and schedules its own "
		       "threads";
	return NULL;
}
