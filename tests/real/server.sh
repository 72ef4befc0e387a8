#!/usr/bin/env bash
# server.sh LIB redis|memcached
#
# A multi-threaded server on 127.0.0.1 (a random free port) under load from
# native clients, first run natively as the control, then preloaded:
#   redis-server --io-threads 4 --io-threads-do-reads yes, loaded by
#     redis-benchmark -c 50 (SET, GET, INCR, LPUSH; the INCR counter must
#     end at exactly -n and the list must hold -n elements)
#   memcached -t 4, loaded by memcaslap (memaslap, libmemcached-tools) with
#     20% of the gets verified (no verify failures, no misses, every
#     operation done)
# then kvcheck.py's concurrent data check (8 connections, 2000 values up to
# 128 KiB read back byte for byte, a shared counter, deletes); then the
# server is shut down and must exit 0. The checks' output must be the same
# natively and preloaded. Each step is bounded by REAL_TIMEOUT.
set -u
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/real/real-lib.sh
. "$here/real-lib.sh"

kind=${2:-}
case $kind in
redis) need redis-server redis-benchmark ;;
memcached) need memcached memcaslap ;;
*)
	echo "usage: $0 LIB redis|memcached" >&2
	exit 2
	;;
esac
need "$PY"
real_init "$1"
bench_n=${REDIS_BENCH_N:-3000}
# The server lives through the load, the data check and the shutdown, each
# bounded by $limit.
server_limit=$((limit * 3 + 30))

server_pid=
# The server runs under timeout (server_pid): a TERM makes timeout pass it
# on and send KILL 5 s later; make sure both are gone.
stop_server_hard() {
	[ -n "$server_pid" ] || return 0
	kill -TERM "$server_pid" 2>/dev/null
	for _ in $(seq 70); do
		kill -0 "$server_pid" 2>/dev/null || break
		sleep 0.1
	done
	pkill -KILL -P "$server_pid" 2>/dev/null
	kill -KILL "$server_pid" 2>/dev/null
	wait "$server_pid" 2>/dev/null
	server_pid=
}
real_on_exit+=(stop_server_hard)

# start_server MODE: start it in the background, wait until it answers.
start_server() {
	local mode=$1
	port=$(free_port)
	case $kind in
	redis)
		# shellcheck disable=SC2046
		timeout -k 5 "$server_limit" $(mode_prefix "$mode") redis-server --port "$port" --bind 127.0.0.1 \
			--io-threads 4 --io-threads-do-reads yes --save '' --appendonly no \
			--dir "$W" --logfile '' --daemonize no >"$W/server-$mode.log" 2>&1 &
		;;
	memcached)
		local user=()
		[ "$(id -u)" = 0 ] && user=(-u root) # memcached refuses root without -u
		# shellcheck disable=SC2046
		timeout -k 5 "$server_limit" $(mode_prefix "$mode") memcached "${user[@]}" -t 4 -A \
			-l 127.0.0.1 -p "$port" -U 0 -m 256 -c 1024 >"$W/server-$mode.log" 2>&1 &
		;;
	esac
	server_pid=$!
	for _ in $(seq 100); do
		"$PY" "$here/kvcheck.py" "$kind" "$port" ping 2>/dev/null && return 0
		kill -0 "$server_pid" 2>/dev/null || break
		sleep 0.1
	done
	fail "$mode $kind server did not answer on port $port"
	server_log "$mode"
	stop_server_hard
	return 1
}

server_log() {
	echo "--- $1 server output (last 20 lines):" >&2
	tail -n 20 "$W/server-$1.log" >&2
}

# stop_server MODE: ask it to shut down; it must exit 0 within 20 s.
stop_server() {
	local mode=$1 st
	case $kind in
	redis) timeout 10 redis-cli -p "$port" shutdown nosave >/dev/null 2>&1 ;;
	memcached) timeout 10 "$PY" "$here/kvcheck.py" memcached "$port" shutdown ;;
	esac
	for _ in $(seq 200); do
		kill -0 "$server_pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$server_pid" 2>/dev/null; then
		fail "$mode $kind server still running 20 s after shutdown"
		server_log "$mode"
		stop_server_hard
		return 1
	fi
	wait "$server_pid"
	st=$?
	server_pid=
	if [ "$st" -ne 0 ]; then
		fail "$mode $kind server exited with $(describe_status "$st")"
		server_log "$mode"
	elif [ "$mode" = gmpt ] && grep -q 'gmpt:' "$W/server-$mode.log"; then
		fail "preloaded $kind server printed gmpt messages:"
		grep 'gmpt:' "$W/server-$mode.log" | head -n 10 >&2
	fi
}

# scenario MODE: the server in MODE, the clients always native. The first
# failed step ends it (the server is still shut down and checked).
scenario() {
	local mode=$1 t0 ms
	t0=$(now_ms)
	start_server "$mode" || return 1
	if load "$mode"; then
		run native "kvcheck.server-$mode" "$PY" "$here/kvcheck.py" "$kind" "$port" check
		cat "$W/kvcheck.server-$mode.out" >>"$W/result-$mode"
	fi
	stop_server "$mode"
	ms=$(($(now_ms) - t0))
	real_times+=("$(printf '%-8s %-28s %6d.%03d s' "$mode" "whole $kind scenario" $((ms / 1000)) $((ms % 1000)))")
}

# load MODE: the benchmark tool against the server, and its own checks.
load() {
	local mode=$1 out="$W/bench.server-$1.out"
	case $kind in
	redis)
		run native "bench.server-$mode" redis-benchmark -p "$port" -c 50 -n "$bench_n" -q --csv \
			-t set,get,incr,lpush || return 1
		sed 's/^/    /' "$out"
		run native "benchcheck.server-$mode" "$PY" "$here/kvcheck.py" redis "$port" bench "$bench_n" ||
			return 1
		cat "$W/benchcheck.server-$mode.out" >>"$W/result-$mode"
		;;
	memcached)
		run native "bench.server-$mode" memcaslap -s "127.0.0.1:$port" -T 2 -c 32 -x 100000 -v 0.2 -b ||
			return 1
		grep -E '^(cmd_get|cmd_set|get_misses|verify_misses|verify_failed):|^Run time' "$out" |
			sed 's/^/    /'
		if grep -qx 'verify_failed: 0' "$out" && grep -qx 'verify_misses: 0' "$out" &&
			grep -qx 'get_misses: 0' "$out" && grep -q 'Ops: 100000 ' "$out"; then
			echo "memcaslap: 100000 operations, no misses, no verify failures" >>"$W/result-$mode"
		else
			fail "$mode memcached: memcaslap saw misses or verify failures or did not finish"
			cat "$out" >&2
			return 1
		fi
		;;
	esac
}

touch "$W/result-native" "$W/result-gmpt"
echo "== $kind natively"
scenario native
echo "== $kind preloaded"
scenario gmpt
same "$W/result-native" "$W/result-gmpt" "$kind: the checks give the same results natively and preloaded"
cat "$W/result-gmpt"
finish
