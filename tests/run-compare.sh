#!/bin/sh
# run-compare.sh LIB PROG [ARGS...]
#
# Runs PROG natively and then with LD_PRELOAD=LIB (any GMPT_* variables in the
# environment are passed to both runs; only the preloaded one reads them).
# Succeeds only if both runs exit with the same status, that status is
# EXPECT_STATUS (default 0, so a program that fails its own assertions in both
# runs still fails the test), both print the same stdout, and the preloaded
# run wrote no "gmpt:" line to stderr (set ALLOW_GMPT_STDERR=1 to permit
# that). Each run is bounded by `timeout` (TEST_TIMEOUT seconds, default 60).
set -u

# shellcheck source=tests/preload-args.sh
. "$(dirname "$0")/preload-args.sh"
limit=${TEST_TIMEOUT:-60}
expect=${EXPECT_STATUS:-0}

dir=$(mktemp -d "${TMPDIR:-/tmp}/gmpt-compare.XXXXXX") || exit 2
trap 'rm -rf "$dir"' EXIT
trap 'exit 130' HUP INT TERM

env -u LD_PRELOAD timeout -k 5 "$limit" "$@" >"$dir/native.out" 2>"$dir/native.err"
native_status=$?
LD_PRELOAD=$preload timeout -k 5 "$limit" "$@" >"$dir/gmpt.out" 2>"$dir/gmpt.err"
gmpt_status=$?

fail=0
describe() {
	case $1 in
	124) echo "$1 (timed out after ${limit}s)" ;;
	137) echo "$1 (killed after timeout)" ;;
	*) if [ "$1" -gt 128 ]; then
		echo "$1 (signal $(($1 - 128)))"
	else
		echo "$1"
	fi ;;
	esac
}

if [ "$native_status" -ne "$expect" ]; then
	echo "FAIL: native run exited with $(describe "$native_status"), expected $expect" \
		"(the program or the test is wrong, not only the library)" >&2
	fail=1
fi
if [ "$native_status" -ne "$gmpt_status" ]; then
	echo "FAIL: exit status differs: native $(describe "$native_status")," \
		"preloaded $(describe "$gmpt_status")" >&2
	fail=1
fi
if ! cmp -s "$dir/native.out" "$dir/gmpt.out"; then
	echo "FAIL: stdout differs (--- native, +++ preloaded):" >&2
	diff -u --label native --label preloaded "$dir/native.out" "$dir/gmpt.out" >&2
	fail=1
fi
if [ "${ALLOW_GMPT_STDERR:-0}" != 1 ] && grep -q 'gmpt:' "$dir/gmpt.err"; then
	echo "FAIL: preloaded run printed gmpt messages on stderr" >&2
	fail=1
fi

if [ "$fail" -ne 0 ]; then
	echo "--- native stderr:" >&2
	cat "$dir/native.err" >&2
	echo "--- preloaded stderr:" >&2
	cat "$dir/gmpt.err" >&2
	exit 1
fi

# Show what was compared, for the test log.
cat "$dir/gmpt.out"
cat "$dir/gmpt.err" >&2
echo "ok: identical stdout and exit status $native_status natively and preloaded" >&2
exit 0
