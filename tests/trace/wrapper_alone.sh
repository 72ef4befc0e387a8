#!/bin/sh
# wrapper_alone.sh LIB - processes that load gmpt with GMPT_TRACE set but
# create no thread (wrappers: timeout, sh -c, env, nice, a subshell that
# forks and exits) write no trace file: the name is left to a program
# that runs threads, and here there is none.
set -u
lib=$1
case $lib in /*) ;; *) lib=$PWD/$lib ;; esac
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
env GMPT_TRACE="$dir/trace.json" LD_PRELOAD="$lib" \
	timeout 30 sh -c '(env true); nice env true; sh -c "exit 0"'
status=$?
if [ "$status" -ne 0 ]; then
	echo "FAIL: the wrappers exited with status $status" >&2
	exit 1
fi
left=$(ls -A "$dir")
if [ -n "$left" ]; then
	echo "FAIL: thread-less processes left trace files: $left" >&2
	exit 1
fi
echo "ok: no trace file"
