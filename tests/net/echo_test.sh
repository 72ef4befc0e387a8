#!/usr/bin/env bash
# echo_test.sh LIB SERVER CLIENT N
#
# Starts the echo server SERVER with LD_PRELOAD=LIB (LIB "-" runs it
# natively, as the control), runs CLIENT natively against it with N
# connections, and checks that the client found every byte right, that the
# server served N connections and then exited 0 by itself, and that both
# counted the same number of bytes. GMPT_* variables in the environment
# reach the server. With ECHO_WRAPPER=PROG the server is started through
# "PROG env LD_PRELOAD=LIB SERVER ..." (tests/net/no_uring, which keeps
# io_uring away from it). The server's stderr is passed through to ours, so a caller can
# inspect what the runtime printed.
#
# N connections need about N file descriptors in each process: the soft
# limit is raised towards the hard limit, and the test fails saying so if
# the hard limit is too low. Each process is bounded by TEST_TIMEOUT seconds
# (default 60).
set -u

if [ "$#" -ne 4 ]; then
	echo "usage: $0 LIB SERVER CLIENT N" >&2
	exit 2
fi
lib=$1 server=$2 client=$3 n=$4
limit=${TEST_TIMEOUT:-60}
wrapper=${ECHO_WRAPPER:-}

if [ "$lib" != - ]; then
	[ -f "$lib" ] || { echo "$0: library not found: $lib" >&2; exit 2; }
	case $lib in /*) ;; *) lib=$PWD/$lib ;; esac
fi
for p in "$server" "$client" ${wrapper:+"$wrapper"}; do
	[ -x "$p" ] || { echo "$0: program not executable: $p" >&2; exit 2; }
done

need=$((n + 64))
hard=$(ulimit -Hn)
# A privileged runner (CI as root) may raise the hard limit itself.
if [ "$hard" != unlimited ] && [ "$hard" -lt "$need" ] && ulimit -Hn "$need" 2>/dev/null; then
	hard=$(ulimit -Hn)
fi
if [ "$hard" != unlimited ] && [ "$hard" -lt "$need" ]; then
	echo "FAIL: $n connections need $need file descriptors per process, but the hard" \
		"limit (ulimit -Hn) is $hard; raise it (e.g. in /etc/security/limits.conf" \
		"or with prlimit) or run fewer connections" >&2
	exit 1
fi
soft=$(ulimit -Sn)
if [ "$soft" != unlimited ] && [ "$soft" -lt "$need" ]; then
	if ! ulimit -n "$need" 2>/dev/null; then
		echo "FAIL: cannot raise ulimit -n from $soft to $need (hard limit $hard)" >&2
		exit 1
	fi
fi

describe() {
	case $1 in
	124) echo "status 124 (timed out after ${limit}s)" ;;
	137) echo "status 137 (killed after timeout)" ;;
	*) if [ "$1" -gt 128 ]; then
		echo "status $1 (signal $(($1 - 128)))"
	else
		echo "status $1"
	fi ;;
	esac
}

dir=$(mktemp -d "${TMPDIR:-/tmp}/gmpt-echo.XXXXXX") || exit 2
spid=
# shellcheck disable=SC2317 # called by the trap
cleanup() {
	if [ -n "$spid" ] && kill -0 "$spid" 2>/dev/null; then
		kill "$spid" 2>/dev/null
		wait "$spid" 2>/dev/null
	fi
	rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' HUP INT TERM

# timeout and the wrapper run natively; env sets LD_PRELOAD for the server
# only.
if [ "$lib" = - ]; then
	set -- env -u LD_PRELOAD
else
	set -- env LD_PRELOAD="$lib"
fi
env -u LD_PRELOAD timeout -k 5 "$limit" ${wrapper:+"$wrapper"} "$@" "$server" -n "$n" -p "$dir/port" \
	>"$dir/server.out" &
spid=$!

# Wait (up to 10 s) for the server to publish its port.
i=0
while [ ! -s "$dir/port" ]; do
	if ! kill -0 "$spid" 2>/dev/null; then
		wait "$spid"
		echo "FAIL: the server exited with $(describe $?) before listening" >&2
		exit 1
	fi
	i=$((i + 1))
	if [ "$i" -gt 200 ]; then
		echo "FAIL: the server did not listen within 10 s" >&2
		exit 1
	fi
	sleep 0.05
done
port=$(cat "$dir/port")

env -u LD_PRELOAD timeout -k 5 "$limit" "$client" -n "$n" -t "$((limit - 5))" "$port" \
	>"$dir/client.out"
cstatus=$?
cat "$dir/client.out"
if [ "$cstatus" -ne 0 ]; then
	echo "FAIL: the client exited with status $cstatus" >&2
	if kill -0 "$spid" 2>/dev/null; then
		echo "(the server was still running)" >&2
	else
		wait "$spid"
		echo "(the server had exited with $(describe $?))" >&2
		spid=
	fi
	exit 1
fi

# The client has closed every connection: the server must finish on its own.
i=0
while kill -0 "$spid" 2>/dev/null; do
	i=$((i + 1))
	if [ "$i" -gt 200 ]; then
		echo "FAIL: the server did not exit within 10 s after the client closed" \
			"its $n connections; killing it" >&2
		exit 1
	fi
	sleep 0.05
done
wait "$spid"
sstatus=$?
spid=
cat "$dir/server.out"
if [ "$sstatus" -ne 0 ]; then
	echo "FAIL: the server exited with $(describe "$sstatus")" >&2
	exit 1
fi

cbytes=$(sed -n 's/^client: .*, \([0-9]*\) bytes echoed and checked$/\1/p' "$dir/client.out")
sbytes=$(sed -n 's/^served \([0-9]*\) connections, \([0-9]*\) bytes$/\2/p' "$dir/server.out")
sconns=$(sed -n 's/^served \([0-9]*\) connections, \([0-9]*\) bytes$/\1/p' "$dir/server.out")
if [ -z "$cbytes" ] || [ "$cbytes" != "$sbytes" ] || [ "$sconns" != "$n" ]; then
	echo "FAIL: the client checked ${cbytes:-?} bytes on $n connections, the server" \
		"echoed ${sbytes:-?} bytes on ${sconns:-?}" >&2
	exit 1
fi
echo "ok: $n connections echoed $cbytes bytes correctly" >&2
exit 0
