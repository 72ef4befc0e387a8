#!/bin/sh
# check_deadlock.sh LIB PROG SCENARIO REASON - PROG SCENARIO deadlocks for
# good (natively it would hang). Preloaded, the deadlock check must end
# it: the run must die of SIGABRT, having printed on stderr
#   gmpt: all threads are asleep - deadlock!
# followed by the thread dump, in which some thread waits for REASON
# ("mutex", "cond", ...). A run still going after TEST_TIMEOUT seconds
# (default 30) means the deadlock went unnoticed: that fails, as does
# another way of ending. GMPT_* variables in the environment pass through.
set -u
lib=$1
prog=$2
scenario=$3
reason=$4
case $lib in /*) ;; *) lib=$PWD/$lib ;; esac
limit=${TEST_TIMEOUT:-30}
err=$(mktemp "${TMPDIR:-/tmp}/gmpt-deadlock.XXXXXX") || exit 2
trap 'rm -f "$err"' EXIT

# No core file for the expected abort (dash and bash have ulimit -c).
# shellcheck disable=SC3045
ulimit -c 0 2>/dev/null || true
# Only PROG is preloaded (not timeout).
timeout -k 5 "$limit" env LD_PRELOAD="$lib" "$prog" "$scenario" >/dev/null 2>"$err"
status=$?

fail=0
if [ "$status" -ne 134 ]; then
	case $status in
	124 | 137) echo "FAIL: $scenario: still running after ${limit}s: the deadlock was not detected" >&2 ;;
	*) echo "FAIL: $scenario: exited with status $status, expected 134 (SIGABRT)" >&2 ;;
	esac
	fail=1
fi
if ! grep -qx 'gmpt: all threads are asleep - deadlock!' "$err"; then
	echo "FAIL: $scenario: no deadlock line on stderr" >&2
	fail=1
fi
if ! grep -Eq "^G[0-9]+ .*(^|[^a-z])$reason([^a-z]|\$)" "$err"; then
	echo "FAIL: $scenario: the thread dump shows no thread waiting for '$reason'" >&2
	fail=1
fi
if [ "$(grep -c 'all threads are asleep' "$err")" -ne 1 ]; then
	echo "FAIL: $scenario: the deadlock line was printed more than once" >&2
	fail=1
fi
echo "--- stderr:" >&2
cat "$err" >&2
[ "$fail" -eq 0 ] && echo "ok: $scenario: deadlock reported, aborted with SIGABRT" >&2
exit "$fail"
