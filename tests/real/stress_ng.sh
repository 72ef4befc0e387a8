#!/usr/bin/env bash
# stress_ng.sh LIB
#
# stress-ng's thread stressors, natively and preloaded:
#   stress-ng --pthread 2 --sem 2 --mutex 2 --yield 2 -t 6s --verify
# Each run must exit 0 and print no failure line ("fail:", "failed",
# "failures"), which --verify makes stress-ng print when a stressor sees a
# wrong result. stress-ng runs each stressor instance in a child process
# that stops on SIGALRM; the parent waits for them all, so a stressor that
# misses its SIGALRM hangs the run: the preloaded run's limit is the native
# run's time scaled, and on a hang every process of the run prints a gmpt
# thread dump (GMPT_DUMP_SIGNAL) before it is killed.
set -u
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/real/real-lib.sh
. "$here/real-lib.sh"
need stress-ng
real_init "$1"
export GMPT_DUMP_SIGNAL=SIGRTMIN+2
timeout_signal=RTMIN+2

args=(--pthread 2 --sem 2 --mutex 2 --yield 2 -t 6s --verify)

no_failure_lines() {
	if grep -hiE '(^|[^a-z])fail' "$W/$1.out" "$W/$1.err" >"$W/$1.fails"; then
		fail "$2 run printed $(wc -l <"$W/$1.fails") failure lines, the first:"
		head -n 10 "$W/$1.fails" >&2
	else
		echo "ok: $2 run: no failure lines"
	fi
}

run native sng stress-ng "${args[@]}"
no_failure_lines sng native
# A stressor runs for its 6 s whatever the machine's speed; the rest of
# the run (start-up, reaping) scales with load like the native run's.
limit=$((limit + 4 * real_last_ms / 1000))
run gmpt sng-gmpt stress-ng "${args[@]}"
no_failure_lines sng-gmpt preloaded
finish
