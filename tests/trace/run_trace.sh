#!/bin/sh
# run_trace.sh LIB PROG CHECKER MODE [CHECKER-ARGS...]
#
# Runs PROG MODE with LIB preloaded and GMPT_TRACE pointing into a fresh
# directory, then checks the trace with CHECKER (check_trace.py) and
# CHECKER-ARGS. Every other file the run left there (FILE.<pid>, written by
# a child that exec'd with the same environment) must pass too, with the
# plain checks. With EXPECT_CHILD_TRACES=N there must be exactly N of them.
# PROG must exit with status EXPECT_STATUS (default 0; 128+N: killed by
# signal N). With WRAPPED=1, PROG runs under wrappers that load gmpt too
# but create no thread (timeout, sh -c, env): the trace must still be
# PROG's, in FILE.
set -u
lib=$1
prog=$2
checker=$3
mode=$4
shift 4
case $lib in /*) ;; *) lib=$PWD/$lib ;; esac

dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
file=$dir/trace.json

if [ -n "${WRAPPED:-}" ]; then
	timeout -k 5 "${TEST_TIMEOUT:-60}" env GMPT_TRACE="$file" LD_PRELOAD="$lib" \
		timeout 30 sh -c 'env "$0" "$1"' "$prog" "$mode"
else
	timeout -k 5 "${TEST_TIMEOUT:-60}" env GMPT_TRACE="$file" LD_PRELOAD="$lib" "$prog" "$mode"
fi
status=$?
if [ "$status" -ne "${EXPECT_STATUS:-0}" ]; then
	echo "FAIL: $prog $mode exited with status $status, expected ${EXPECT_STATUS:-0}" >&2
	exit 1
fi
fail=0
python3 "$checker" "$@" "$file" || fail=1
children=0
for f in "$dir"/trace.json.*; do
	[ -e "$f" ] || continue
	children=$((children + 1))
	python3 "$checker" "$f" || fail=1
done
if [ -n "${EXPECT_CHILD_TRACES:-}" ] && [ "$children" -ne "$EXPECT_CHILD_TRACES" ]; then
	echo "FAIL: $children child trace file(s), expected $EXPECT_CHILD_TRACES" >&2
	fail=1
fi
exit $fail
