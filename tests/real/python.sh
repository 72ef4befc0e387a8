#!/usr/bin/env bash
# python.sh LIB
#
# Debian's CPython (/usr/bin/python3) running py_threads.py: Lock, RLock,
# queue.Queue producers/consumers, Condition, Event, Barrier,
# BoundedSemaphore, threading.local, ThreadPoolExecutor, thread churn and a
# ThreadingTCPServer on 127.0.0.1. Natively and preloaded; both must exit 0
# (the script checks each result against its closed form) with identical
# stdout.
set -u
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/real/real-lib.sh
. "$here/real-lib.sh"
need "$PY"
real_init "$1"

run native py "$PY" "$here/py_threads.py"
run gmpt py-gmpt "$PY" "$here/py_threads.py"
if same "$W/py.out" "$W/py-gmpt.out" "python3 threading workload: preloaded stdout equals native"; then
	cat "$W/py-gmpt.out"
else
	diff -u --label native --label preloaded "$W/py.out" "$W/py-gmpt.out" | head -n 40 >&2
fi
finish
