#!/bin/sh
# config_errors.sh LIB PROG - every GMPT_* variable with a bad value stops
# the program before main with one line on stderr naming the variable, and
# exit status 2; good values run PROG normally (exit 0). PROG should be a
# trivial program (exit 0).
set -u
lib=$1
prog=$2
case $lib in /*) ;; *) lib=$PWD/$lib ;; esac
fail=0

bad() {
	err=$(env "$1" LD_PRELOAD="$lib" "$prog" 2>&1 >/dev/null)
	status=$?
	lines=$(printf '%s\n' "$err" | grep -c .)
	name=${1%%=*}
	if [ "$status" -ne 2 ] || [ "$lines" -ne 1 ] ||
		! printf '%s' "$err" | grep -q "^gmpt: $name"; then
		echo "FAIL: $1: status $status, $lines line(s) on stderr: $err" >&2
		fail=1
	else
		echo "ok: $1 -> $err"
	fi
}

good() {
	if ! env "$@" LD_PRELOAD="$lib" "$prog" >/dev/null 2>/tmp/gmpt-config-$$; then
		echo "FAIL: $* was refused: $(cat /tmp/gmpt-config-$$)" >&2
		fail=1
	elif [ -s /tmp/gmpt-config-$$ ] && ! grep -q '^gmpt: stats:' /tmp/gmpt-config-$$; then
		echo "FAIL: $* printed: $(cat /tmp/gmpt-config-$$)" >&2
		fail=1
	else
		echo "ok: $* accepted"
	fi
	rm -f /tmp/gmpt-config-$$
}

bad GMPT_PROSC=2
bad GMPT_PROCS=0
bad GMPT_PROCS=abc
bad GMPT_PROCS=2000
bad GMPT_STRESS=-1
bad GMPT_NETPOLL=kqueue
bad GMPT_NETPOLL=
bad GMPT_PREEMPT=yes
bad GMPT_PREEMPT_SIGNAL=SIGKILL
bad GMPT_PREEMPT_SIGNAL=SIGSEGV
bad GMPT_PREEMPT_SIGNAL=32
bad GMPT_PREEMPT_SIGNAL=SIGNOPE
bad GMPT_MAXTHREADS=1
bad GMPT_MAXTHREADS=ten
bad GMPT_DEBUG=verbose
bad GMPT_DEBUG=schedtrace=abc
bad GMPT_DEBUG=schedtrace=0
bad GMPT_DEBUG=schedtrace=
bad GMPT_DEBUG=schedtrace=-5
bad GMPT_DEBUG=schedtrace=3600001
bad GMPT_DEBUG=scheddetail=1
bad GMPT_DEBUG=schedtrace=100,scheddetail=2
bad GMPT_DEBUG=stats,verbose
bad GMPT_DEBUG=waitqbuckets=0
bad GMPT_DEBUG=waitqbuckets=3
bad GMPT_DEBUG=waitqbuckets=2048
bad GMPT_DEBUG=waitqbuckets=
bad GMPT_DEBUG=stats,
bad GMPT_DEBUG=,stats
bad GMPT_DEADLOCK=maybe
bad GMPT_DEADLOCK=
bad GMPT_DEADLOCK=WARN
bad GMPT_DUMP_SIGNAL=SIGKILL
bad GMPT_DUMP_SIGNAL=SIGSTOP
bad GMPT_DUMP_SIGNAL=SIGSEGV
bad GMPT_DUMP_SIGNAL=SIGBUS
bad GMPT_DUMP_SIGNAL=32
bad GMPT_DUMP_SIGNAL=33
bad GMPT_DUMP_SIGNAL=0
bad GMPT_DUMP_SIGNAL=65
bad GMPT_DUMP_SIGNAL=SIGURG
bad GMPT_DUMP_SIGNAL=SIGNOPE
bad GMPT_DUMP_SIGNAL=on
bad GMPT_TRACE=
bad GMPT_TRACE=/nonexistent-gmpt-dir/trace.json
bad GMPT_TRACE=/etc/passwd/trace.json
bad GMPT_TRACE=/

good GMPT_PROCS=3
good GMPT_NETPOLL=epoll
good GMPT_NETPOLL=uring
good GMPT_PREEMPT=0
good GMPT_PREEMPT_SIGNAL=SIGUSR2
good GMPT_PREEMPT_SIGNAL=RTMIN+3
good GMPT_MAXTHREADS=50
good GMPT_DEBUG=stats
good GMPT_DEBUG=
good GMPT_DEBUG=schedtrace=60000
good GMPT_DEBUG=stats,schedtrace=60000,scheddetail=1
good GMPT_DEBUG=scheddetail=0,schedtrace=1000
good GMPT_DEBUG=waitqbuckets=1
good GMPT_DEBUG=stats,waitqbuckets=1024
good GMPT_DEADLOCK=abort
good GMPT_DEADLOCK=warn
good GMPT_DEADLOCK=off
good GMPT_DUMP_SIGNAL=SIGPWR
good GMPT_DUMP_SIGNAL=USR1
good GMPT_DUMP_SIGNAL=SIGRTMIN+2
good GMPT_DUMP_SIGNAL=12
good GMPT_DUMP_SIGNAL=off
good GMPT_PREEMPT=0 GMPT_DUMP_SIGNAL=SIGURG
good GMPT_PREEMPT_SIGNAL=SIGUSR2 GMPT_DUMP_SIGNAL=SIGURG
# The file is created only by a process that creates threads (the trace
# tests check that): PROG has none, so it is accepted and leaves no file.
tracedir=$(mktemp -d)
good GMPT_TRACE="$tracedir/trace.json"
if [ -e "$tracedir/trace.json" ]; then
	echo "FAIL: GMPT_TRACE=$tracedir/trace.json: a program without threads wrote it" >&2
	fail=1
fi
rm -rf "$tracedir"
exit $fail
