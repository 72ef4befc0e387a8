#!/bin/sh
# debug_info.sh LIB BUILDDIR - scripts/gmpt-gdb.py reads gmpt's structures
# through the library's debug information: the library built here, and the
# copy `meson install` puts in place, must have it (not stripped, built
# with -g), or the script finds nothing on the users' builds. gdb must
# know the types and variables the script reads.
set -u
lib=$1
builddir=$2
fail=0

check() {
	what=$1
	file=$2
	if ! readelf -S "$file" | grep -q '\.debug_info'; then
		echo "FAIL: $what ($file) has no .debug_info section" >&2
		fail=1
		return
	fi
	out=$(gdb -nx -batch -ex 'ptype struct g' -ex 'ptype struct m' \
		-ex 'ptype enum g_status' -ex 'ptype struct thread' -ex 'whatis sched' \
		"$file" 2>&1)
	for want in allg_link wait_reason wait_since syscall_depth G_WAITING magic \
		created_name 'type = struct sched'; do
		if ! printf '%s\n' "$out" | grep -q "$want"; then
			echo "FAIL: $what: gdb does not see '$want' in gmpt's types:" >&2
			printf '%s\n' "$out" | head -20 >&2
			fail=1
			return
		fi
	done
	echo "ok: $what has the debug information gmpt-gdb.py reads"
}

check "the built library" "$lib"

dest=$(mktemp -d)
trap 'rm -rf "$dest"' EXIT
if ! meson install -C "$builddir" --no-rebuild --quiet --destdir "$dest" >/dev/null; then
	echo "FAIL: meson install --destdir failed" >&2
	exit 1
fi
installed=$(find "$dest" -name 'libgmpt.so*' -type f | head -1)
if [ -z "$installed" ]; then
	echo "FAIL: meson install put no libgmpt.so under $dest" >&2
	exit 1
fi
check "the installed library" "$installed"
exit $fail
