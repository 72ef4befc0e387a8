#!/bin/sh
# check_schedtrace.sh LIB PROG - runs trace_idle preloaded with
# GMPT_PROCS=2 GMPT_DEBUG=stats,schedtrace=50,scheddetail=1. The program
# blocks reading stdin (a FIFO) with every P idle; this script releases it
# only once 5 "SCHED" lines have come with every P idle: sysmon, asleep
# while every P is idle, must still print at the period. No timing: if
# the lines stop, the wait ends after 30 s and the test fails. Then it
# checks the lines' shape, the scheddetail lines and the stats line
# printed at exit (4 threads created, 5 alive at most with main).
set -u
lib=$1
prog=$2
case $lib in /*) ;; *) lib=$PWD/$lib ;; esac
dir=$(mktemp -d "${TMPDIR:-/tmp}/gmpt-schedtrace.XXXXXX") || exit 2
trap 'rm -rf "$dir"' EXIT
err=$dir/stderr
mkfifo "$dir/in"
exec 3<>"$dir/in"
# Made before the program starts: the loop below must not read it before
# the background shell's redirection has created it (an empty count would
# end the wait at once).
: >"$err"

GMPT_PROCS=2 GMPT_DEBUG=stats,schedtrace=50,scheddetail=1 LD_PRELOAD=$lib \
	"$prog" <&3 >"$dir/stdout" 2>"$err" &
pid=$!
idle_lines() { grep -c '^SCHED .*gomaxprocs=2 idleprocs=2 ' "$err"; }
waited=0
while [ "$(idle_lines)" -lt 5 ] && [ "$waited" -lt 300 ] && kill -0 "$pid" 2>/dev/null; do
	sleep 0.1
	waited=$((waited + 1))
done
idle=$(idle_lines)
echo go >&3
waited=0
while kill -0 "$pid" 2>/dev/null && [ "$waited" -lt 300 ]; do
	sleep 0.1
	waited=$((waited + 1))
done
kill -KILL "$pid" 2>/dev/null
wait "$pid"
status=$?

fail=0
check() { # description, grep -E pattern, minimum count
	n=$(grep -Ec "$2" "$err")
	if [ "$n" -lt "$3" ]; then
		echo "FAIL: $1: $n line(s) match '$2', expected at least $3" >&2
		fail=1
	fi
}
if [ "$idle" -lt 5 ]; then
	echo "FAIL: $idle schedtrace line(s) with every P idle in 30 s, expected 5 (period 50 ms)" >&2
	fail=1
fi
if [ "$status" -ne 0 ]; then
	echo "FAIL: trace_idle exited with status $status" >&2
	fail=1
fi
check "schedtrace lines" '^SCHED [0-9]+ms: gomaxprocs=2 idleprocs=[0-9]+ threads=[0-9]+ spinningthreads=[0-9]+ idlethreads=[0-9]+ runqueue=[0-9]+ \[[0-9]+ [0-9]+\] gs=[0-9]+ runnable=[0-9]+ running=[0-9]+ syscall=[0-9]+ waiting=[0-9]+$' 5
check "main in its read, alone" '^SCHED .* gs=1 runnable=0 running=0 syscall=1 waiting=0$' 1
check "scheddetail P lines" '^  P[01]: status=(idle|running|syscall) schedtick=[0-9]+ syscalltick=[0-9]+ m=[-0-9]+ runqsize=[0-9]+ runnext=[-0-9]+ gfreecnt=[0-9]+ timers=[0-9]+$' 10
check "scheddetail M lines" '^  M0: p=[-0-9]+ curg=[-0-9]+ state=[a-z]+ spinning=[01] tid=[0-9]+$' 5
check "scheddetail G lines: main in a system call" '^  G1: status=syscall m=[0-9]+' 1
check "stats line" '^gmpt: stats: procs=2 switches=[1-9][0-9]* steals=[0-9]+ handoffs=[1-9][0-9]* retakes=[1-9][0-9]* preempt_signals=[0-9]+ preemptions=[0-9]+ netpoll_ready=[0-9]+ threads_created=4 threads_peak=5 ms=[0-9]+ netpoll=' 1
if [ "$fail" -ne 0 ]; then
	echo "--- stderr:" >&2
	cat "$err" >&2
	exit 1
fi
grep -E '^(SCHED|gmpt: stats)' "$err" | tail -n 3
echo "ok: $idle schedtrace lines while every P was idle; detail and stats as expected" >&2
