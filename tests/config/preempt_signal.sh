#!/bin/sh
# preempt_signal.sh LIB - the preemption signal belongs to gmpt, but the
# program must not notice: an instance gmpt did not send does what it
# would do without gmpt. Each case runs a shell natively and preloaded and
# compares exit status and output:
#   - SIGUSR2 as the preemption signal, no handler: the shell dies of it;
#   - SIGUSR2 with a trap: the trap runs and the shell goes on;
#   - SIGURG (the default preemption signal), no handler: ignored.
set -u
lib=$1
case $lib in /*) ;; *) lib=$PWD/$lib ;; esac
fail=0

compare() {
	sig_env=$1
	script=$2
	want=$(sh -c "$script" 2>&1)
	want_status=$?
	got=$(env "$sig_env" LD_PRELOAD="$lib" sh -c "$script" 2>&1)
	got_status=$?
	if [ "$want_status" -ne "$got_status" ] || [ "$want" != "$got" ]; then
		echo "FAIL: $sig_env sh -c '$script': native status $want_status output '$want'," \
			"preloaded status $got_status output '$got'" >&2
		fail=1
	else
		echo "ok: $sig_env sh -c '$script': status $got_status, output '$got'"
	fi
}

compare GMPT_PREEMPT_SIGNAL=SIGUSR2 'kill -USR2 $$; sleep 1; echo survived'
compare GMPT_PREEMPT_SIGNAL=SIGUSR2 'trap "echo caught" USR2; kill -USR2 $$; echo after'
compare GMPT_PREEMPT_SIGNAL=SIGURG 'kill -URG $$; echo alive'
compare GMPT_PREEMPT_SIGNAL=SIGURG 'trap "echo caught" URG; kill -URG $$; echo after'
exit $fail
