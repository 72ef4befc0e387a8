#!/usr/bin/env bash
# cpython.sh LIB
#
# CPython's own thread tests (Debian's libpython3.11-testsuite), run by
# Debian's /usr/bin/python3 natively and preloaded:
#   python3 -m test -v test_threading test_thread test_threadsignals test_queue
# They exercise locks interrupted by signals, signals sent from threads,
# fork from threads, thread-local data, queues and shutdown. A test may fail
# natively on some machine; what must hold is that no test case fails,
# errs or is skipped only under gmpt, and that the preloaded run changes
# the environment (dangling threads, ...) only where the native one does.
# A hang is reported with a gmpt thread dump (GMPT_DUMP_SIGNAL); the -v
# output names the test case that was running.
set -u
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/real/real-lib.sh
. "$here/real-lib.sh"
need "$PY"
if ! "$PY" -c 'import test.test_threading, test.test_threadsignals' 2>/dev/null; then
	echo "SKIP: CPython's test package is not installed (scripts/install-deps installs libpython3.11-testsuite)"
	exit 77
fi
real_init "$1"
export GMPT_DUMP_SIGNAL=SIGRTMIN+2
timeout_signal=RTMIN+2

tests=(test_threading test_thread test_threadsignals test_queue)

# Test cases that failed or erred: unittest's summary names each once as
# "FAIL: test_x (module.Class.test_x)" or "ERROR: ...".
failed_cases() {
	grep -hE '^(FAIL|ERROR): ' "$W/$1.out" "$W/$1.err" | sort -u
}

# Test cases skipped: the -v line "test_x (module.Class.test_x) ... skipped".
skipped_cases() {
	grep -hoE '^[A-Za-z_][A-Za-z0-9_]* \([^)]*\) \.\.\. skipped' "$W/$1.out" "$W/$1.err" |
		sed 's/ \.\.\. skipped$//' | sort -u
}

# regrtest exits 2 when tests failed and 3 when a test changed the
# environment: both are compared below rather than failing the run.
ok_status="0 2 3" run native py-tests "$PY" -m test -v "${tests[@]}"
native_st=$?
# The preloaded run should take about the native time; its limit scales
# with the native run so that a loaded machine does not make it time out.
limit=$((limit + 2 * real_last_ms / 1000))
ok_status="0 2 3" run gmpt py-tests-gmpt "$PY" -m test -v "${tests[@]}"
gmpt_st=$?

failed_cases py-tests >"$W/native.failed"
failed_cases py-tests-gmpt >"$W/gmpt.failed"
if comm -13 "$W/native.failed" "$W/gmpt.failed" | grep -q .; then
	fail "test cases failing only preloaded:"
	comm -13 "$W/native.failed" "$W/gmpt.failed" >&2
	# Their messages: unittest's report of each, up to the next one.
	comm -13 "$W/native.failed" "$W/gmpt.failed" | while IFS= read -r c; do
		awk -v c="$c" '$0 == c { on = 1; print; next } on && /^(={70}$|-{70}$|Ran )/ && ++n > 1 { on = 0; n = 0 } on' \
			"$W/py-tests-gmpt.out" "$W/py-tests-gmpt.err" | head -n 25 >&2
	done
else
	echo "ok: no test case fails only preloaded ($(wc -l <"$W/gmpt.failed") failed both ways)"
fi

skipped_cases py-tests >"$W/native.skipped"
skipped_cases py-tests-gmpt >"$W/gmpt.skipped"
if comm -13 "$W/native.skipped" "$W/gmpt.skipped" | grep -q .; then
	fail "test cases skipped only preloaded:"
	comm -13 "$W/native.skipped" "$W/gmpt.skipped" >&2
else
	echo "ok: no test case skipped only preloaded ($(wc -l <"$W/gmpt.skipped") skipped both ways)"
fi

if [ "$gmpt_st" = 3 ] && [ "$native_st" != 3 ]; then
	fail "the preloaded run changed the test environment, the native one did not:"
	grep -hE 'env changed|^Warning -- ' "$W/py-tests-gmpt.out" "$W/py-tests-gmpt.err" | head -n 20 >&2
fi
finish
