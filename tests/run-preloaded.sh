#!/bin/sh
# run-preloaded.sh LIB PROG [ARGS...]
#
# Runs PROG with LD_PRELOAD=LIB under `timeout` (TEST_TIMEOUT seconds,
# default 240). Without EXPECT_STATUS the program's exit status is passed
# through (the program asserts its own results). With EXPECT_STATUS=N the
# script succeeds only if the program exited with status N in time.
set -u

# shellcheck source=tests/preload-args.sh
. "$(dirname "$0")/preload-args.sh"
limit=${TEST_TIMEOUT:-240}

LD_PRELOAD=$preload timeout -k 5 "$limit" "$@"
status=$?

case $status in
124 | 137)
	echo "FAIL: $1 did not finish within ${limit}s (status $status)" >&2
	exit 1
	;;
esac

if [ -n "${EXPECT_STATUS:-}" ]; then
	if [ "$status" -ne "$EXPECT_STATUS" ]; then
		echo "FAIL: $1 exited with status $status, expected $EXPECT_STATUS" >&2
		exit 1
	fi
	echo "ok: $1 exited with the expected status $status" >&2
	exit 0
fi
if [ "$status" -gt 128 ]; then
	echo "FAIL: $1 killed by signal $((status - 128))" >&2
fi
exit "$status"
