#!/bin/sh
# aside_compare.sh LIB PROG [ARGS...]
#
# PROG is a C program that gmpt takes for a Go one (go_note.c is linked
# in), so it steps aside. Runs it natively and with LD_PRELOAD=LIB:
# succeeds only if both exit with the same status, EXPECT_STATUS (default
# 0), print the same stdout, and the preloaded run's stderr is the
# step-aside notice followed by exactly what the native run wrote there
# (children it execs may add their own notices).
# Each run is bounded by timeout (TEST_TIMEOUT seconds, default 60).
set -u

# shellcheck source=tests/preload-args.sh
. "$(dirname "$0")/../preload-args.sh"
limit=${TEST_TIMEOUT:-60}
expect=${EXPECT_STATUS:-0}
notice='gmpt: this is a Go program, whose runtime schedules its own threads: gmpt steps aside and runs it natively'

dir=$(mktemp -d "${TMPDIR:-/tmp}/gmpt-aside.XXXXXX") || exit 2
trap 'rm -rf "$dir"' EXIT
trap 'exit 130' HUP INT TERM

env -u LD_PRELOAD timeout -k 5 "$limit" "$@" >"$dir/native.out" 2>"$dir/native.err"
native_status=$?
LD_PRELOAD=$preload timeout -k 5 "$limit" "$@" >"$dir/gmpt.out" 2>"$dir/gmpt.err"
gmpt_status=$?

fail=0
if [ "$native_status" -ne "$expect" ]; then
	echo "FAIL: native run exited with $native_status, expected $expect" >&2
	fail=1
fi
if [ "$native_status" -ne "$gmpt_status" ]; then
	echo "FAIL: exit status differs: native $native_status, preloaded $gmpt_status" \
		"(124/137: timed out after ${limit}s)" >&2
	fail=1
fi
if ! cmp -s "$dir/native.out" "$dir/gmpt.out"; then
	echo "FAIL: stdout differs (--- native, +++ preloaded):" >&2
	diff -u --label native --label preloaded "$dir/native.out" "$dir/gmpt.out" >&2
	fail=1
fi
# The program's own first line on stderr is gmpt's notice; a child it
# execs (the same kind of program) prints its own notice too, once per
# process, so the others are taken out before the comparison.
{
	printf '%s\n' "$notice"
	cat "$dir/native.err"
} >"$dir/expected.err"
{
	head -n 1 "$dir/gmpt.err"
	tail -n +2 "$dir/gmpt.err" | grep -vxF "$notice"
} >"$dir/gmpt-own.err"
if ! cmp -s "$dir/expected.err" "$dir/gmpt-own.err"; then
	echo "FAIL: stderr is not the notice and the native stderr (--- expected, +++ preloaded):" >&2
	diff -u --label expected --label preloaded "$dir/expected.err" "$dir/gmpt.err" >&2
	fail=1
fi
exit "$fail"
