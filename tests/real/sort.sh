#!/usr/bin/env bash
# sort.sh LIB
#
# GNU sort's multi-threaded merge sort (--parallel=4) with a 64 MiB buffer
# over ~66 MB of generated lines (so it also spills to temporary files and
# merges them), preloaded, against plain native sort: the outputs must be
# byte-identical (the same options natively are the control, and the time
# to compare with). LC_ALL=C. Three orders: whole lines, a stable sort on
# two keys (text, then numeric), and -u on a key.
set -u
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/real/real-lib.sh
. "$here/real-lib.sh"
need sort "$PY"
real_init "$1"
export LC_ALL=C

"$PY" "$here/gen_data.py" lines 3000000 1 >"$W/lines" || exit 2
echo "input: $(wc -l <"$W/lines") lines, $(wc -c <"$W/lines") bytes"

# name: sort keys ('' for whole lines)
orders=(lines keys unique)
declare -A keys=([lines]='' [keys]='-s -k3,3 -k2,2n' [unique]='-u -k3,3')
for o in "${orders[@]}"; do
	# The reference: plain sort with its defaults. Its default buffer is a
	# share of RAM, which meson's MALLOC_PERTURB_ would make it fill byte
	# by byte (30 s instead of 2), so not for this one.
	# shellcheck disable=SC2086
	run native "$o" env -u MALLOC_PERTURB_ sort ${keys[$o]} "$W/lines"
	# shellcheck disable=SC2086
	run native "$o-par" sort --parallel=4 -S 64M ${keys[$o]} "$W/lines" &&
		same "$W/$o.out" "$W/$o-par.out" "sort ${keys[$o]:-(whole lines)}: native --parallel=4 -S 64M equals native sort"
	rm -f "$W/$o-par.out"
	# shellcheck disable=SC2086
	run gmpt "$o-gmpt" sort --parallel=4 -S 64M ${keys[$o]} "$W/lines" &&
		same "$W/$o.out" "$W/$o-gmpt.out" "sort ${keys[$o]:-(whole lines)}: preloaded --parallel=4 -S 64M equals native sort"
	rm -f "$W/$o-gmpt.out"
	if [ "$o" = lines ]; then
		# Also check the order itself, and that nothing was lost.
		if sort -c "$W/lines.out" && [ "$(wc -l <"$W/lines.out")" -eq 3000000 ]; then
			echo "ok: native output sorted, 3000000 lines"
		else
			fail "native sort output is not sorted or lost lines"
		fi
	fi
	rm -f "$W/$o.out"
done
finish
