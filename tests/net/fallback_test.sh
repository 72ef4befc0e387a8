#!/bin/sh
# fallback_test.sh LIB NO_URING PROG [ARGS...]
# fallback_test.sh --driver DRIVER LIB NO_URING [DRIVER_ARGS...]
#
# The runtime falls back to epoll when io_uring is unavailable. The first
# form runs PROG natively, then as "NO_URING env LD_PRELOAD=LIB PROG" (no
# io_uring system calls in that process); both runs must exit 0 with the
# same stdout. The second form runs "DRIVER LIB DRIVER_ARGS..." with
# ECHO_WRAPPER=NO_URING (a driver such as echo_test.sh that preloads LIB
# itself and starts its program through the wrapper); it must exit 0.
# GMPT_NETPOLL is unset, so the runtime makes its default choice. In both
# forms the preloaded stderr must hold exactly one line mentioning "epoll"
# (the runtime's notice, e.g. "gmpt: io_uring unavailable (...); using
# epoll") and no other "gmpt:" line. Runs are bounded by TEST_TIMEOUT
# seconds (default 60).
set -u

usage() {
	echo "usage: $0 LIB NO_URING PROG [ARGS...]" >&2
	echo "       $0 --driver DRIVER LIB NO_URING [DRIVER_ARGS...]" >&2
	exit 2
}

driver=
if [ "${1:-}" = --driver ]; then
	[ "$#" -ge 4 ] || usage
	driver=$2
	shift 2
fi
[ "$#" -ge 3 ] || { [ -n "$driver" ] && [ "$#" -ge 2 ]; } || usage
lib=$1 no_uring=$2
shift 2
limit=${TEST_TIMEOUT:-60}
unset GMPT_NETPOLL

[ -f "$lib" ] || { echo "$0: library not found: $lib" >&2; exit 2; }
case $lib in /*) ;; *) lib=$PWD/$lib ;; esac
[ -x "$no_uring" ] || { echo "$0: not executable: $no_uring" >&2; exit 2; }
case $no_uring in /*) ;; *) no_uring=$PWD/$no_uring ;; esac

dir=$(mktemp -d "${TMPDIR:-/tmp}/gmpt-fallback.XXXXXX") || exit 2
trap 'rm -rf "$dir"' EXIT
trap 'exit 130' HUP INT TERM

fail=0
if [ -n "$driver" ]; then
	[ -x "$driver" ] || { echo "$0: not executable: $driver" >&2; exit 2; }
	ECHO_WRAPPER=$no_uring "$driver" "$lib" "$@" >"$dir/gmpt.out" 2>"$dir/gmpt.err"
	status=$?
	if [ "$status" -ne 0 ]; then
		echo "FAIL: $driver exited with status $status" >&2
		fail=1
	fi
else
	[ -x "$1" ] || { echo "$0: program not executable: $1" >&2; exit 2; }
	env -u LD_PRELOAD timeout -k 5 "$limit" "$@" >"$dir/native.out" 2>"$dir/native.err"
	nstatus=$?
	env -u LD_PRELOAD timeout -k 5 "$limit" "$no_uring" env LD_PRELOAD="$lib" "$@" \
		>"$dir/gmpt.out" 2>"$dir/gmpt.err"
	status=$?
	if [ "$nstatus" -ne 0 ]; then
		echo "FAIL: the native run exited with status $nstatus" >&2
		fail=1
	fi
	if [ "$status" -ne 0 ]; then
		echo "FAIL: the run without io_uring exited with status $status" >&2
		fail=1
	fi
	if ! cmp -s "$dir/native.out" "$dir/gmpt.out"; then
		echo "FAIL: stdout differs (--- native, +++ preloaded without io_uring):" >&2
		diff -u --label native --label preloaded "$dir/native.out" "$dir/gmpt.out" >&2
		fail=1
	fi
fi

notices=$(grep -c epoll "$dir/gmpt.err")
if [ "$notices" -ne 1 ]; then
	echo "FAIL: expected exactly one line mentioning epoll on stderr, found $notices" >&2
	fail=1
fi
if grep 'gmpt:' "$dir/gmpt.err" | grep -qv epoll; then
	echo "FAIL: other gmpt messages on stderr" >&2
	fail=1
fi

if [ "$fail" -ne 0 ]; then
	if [ -z "$driver" ]; then
		echo "--- native stderr:" >&2
		cat "$dir/native.err" >&2
	fi
	echo "--- stderr without io_uring:" >&2
	cat "$dir/gmpt.err" >&2
	exit 1
fi
cat "$dir/gmpt.out"
cat "$dir/gmpt.err" >&2
echo "ok: exit status 0 without io_uring, one epoll notice: $(grep epoll "$dir/gmpt.err")" >&2
exit 0
