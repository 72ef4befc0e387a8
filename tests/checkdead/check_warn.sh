#!/bin/sh
# check_warn.sh LIB PROG SCENARIO - with GMPT_DEADLOCK=warn, a deadlock is
# reported once (the deadlock line, the thread dump, a notice) and the
# program goes on waiting: it must still be alive after the report, and
# is then killed by this script. Fails if no report comes within
# TEST_TIMEOUT seconds (default 30), if the program ends by itself, or if
# the report is printed more than once.
set -u
lib=$1
prog=$2
scenario=$3
case $lib in /*) ;; *) lib=$PWD/$lib ;; esac
limit=${TEST_TIMEOUT:-30}
err=$(mktemp "${TMPDIR:-/tmp}/gmpt-warn.XXXXXX") || exit 2
trap 'rm -f "$err"' EXIT

GMPT_DEADLOCK=warn LD_PRELOAD=$lib "$prog" "$scenario" >/dev/null 2>"$err" &
pid=$!

waited=0
while ! grep -q 'all threads are asleep' "$err"; do
	if ! kill -0 "$pid" 2>/dev/null; then
		wait "$pid"
		echo "FAIL: $scenario ended (status $?) without a deadlock report" >&2
		cat "$err" >&2
		exit 1
	fi
	if [ "$waited" -ge $((limit * 10)) ]; then
		kill -KILL "$pid"
		echo "FAIL: no deadlock report within ${limit}s" >&2
		exit 1
	fi
	sleep 0.1
	waited=$((waited + 1))
done
# The report is out; the program must not abort or end after it. Give it
# a moment in which a second report or an abort would show.
sleep 1
fail=0
if ! kill -0 "$pid" 2>/dev/null; then
	wait "$pid"
	echo "FAIL: $scenario ended (status $?) after the warning; GMPT_DEADLOCK=warn must not stop it" >&2
	fail=1
else
	kill -KILL "$pid"
	wait "$pid" 2>/dev/null
fi
if [ "$(grep -c 'all threads are asleep' "$err")" -ne 1 ]; then
	echo "FAIL: the deadlock line was printed $(grep -c 'all threads are asleep' "$err") times, expected once" >&2
	fail=1
fi
if ! grep -q '^gmpt: GMPT_DEADLOCK=warn' "$err"; then
	echo "FAIL: no GMPT_DEADLOCK=warn notice" >&2
	fail=1
fi
echo "--- stderr:" >&2
cat "$err" >&2
[ "$fail" -eq 0 ] && echo "ok: $scenario: reported once, still waiting, killed" >&2
exit "$fail"
