#!/bin/sh
# check_retakes.sh LIB PROG [ARGS...]
#
# Runs PROG with LD_PRELOAD=LIB, GMPT_PROCS=1 and GMPT_DEBUG=stats, under
# `timeout` (TEST_TIMEOUT seconds, default 60). Succeeds only if PROG exits
# 0 and the statistics line the runtime prints on stderr at exit
# ("gmpt: stats: ... retakes=N ...") shows N > 0: the system monitor took
# the P back from a thread blocked in a system call at least once.
set -u

# shellcheck source=tests/preload-args.sh
. "$(dirname "$0")/../preload-args.sh"
limit=${TEST_TIMEOUT:-60}

err=$(mktemp "${TMPDIR:-/tmp}/gmpt-retakes.XXXXXX") || exit 2
trap 'rm -f "$err"' EXIT
trap 'exit 130' HUP INT TERM

# Only PROG is preloaded (not timeout, whose own stats line would mix in).
env -u LD_PRELOAD timeout -k 5 "$limit" \
	env LD_PRELOAD="$preload" GMPT_PROCS=1 GMPT_DEBUG=stats "$@" 2>"$err"
status=$?
cat "$err" >&2
if [ "$status" -ne 0 ]; then
	echo "FAIL: $1 exited with status $status" >&2
	exit 1
fi
if ! grep -q '^gmpt: stats:' "$err"; then
	echo "FAIL: no 'gmpt: stats:' line on stderr (GMPT_DEBUG=stats)" >&2
	exit 1
fi
if ! grep '^gmpt: stats:' "$err" | grep -Eq '(^|[^a-z_])retakes=[1-9][0-9]*([^0-9]|$)'; then
	echo "FAIL: the stats line shows no retakes (expected retakes=N with N > 0)" >&2
	exit 1
fi
echo "ok: $(grep -Eo 'retakes=[0-9]+' "$err" | head -n 1)" >&2
exit 0
