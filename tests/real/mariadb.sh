#!/usr/bin/env bash
# mariadb.sh LIB
#
# Debian's MariaDB server (mariadbd, default settings: InnoDB with native
# aio through io_uring, one thread per connection) on 127.0.0.1 (a free
# port, its own socket file, a private datadir in the work directory) under
# sysbench, natively as the reference and then with LIB preloaded into the
# server only (the clients - mariadb, mysqladmin, sysbench - always run
# natively). Each scenario:
#   start       the server must answer mysqladmin ping; natively within
#               REAL_TIMEOUT, preloaded within a bound scaled from the native
#               start-up; on a timeout the server's log is shown
#   prepare     sysbench creates 4 tables x 10,000 rows
#   load        oltp_point_select, then oltp_read_write, 16 client threads,
#               SB_TIME seconds each: sysbench exits 0 (no errors), with no
#               reconnects and some transactions; no ignored errors either,
#               but a few retried deadlocks in oltp_read_write (below)
#   check       CHECK TABLE on every table says OK; every table still holds
#               10,000 rows (oltp_read_write deletes and re-inserts the same
#               ids) - the same natively and preloaded
#   shutdown    mysqladmin shutdown: the server exits 0, logs "Shutdown
#               complete", within a bound scaled from the native shutdown
#   restart     the server starts again on the same datadir and finds the
#               same tables in the same state (no crash recovery), then
#               stops on SIGTERM, with the same checks as the shutdown
# An [ERROR] line in the preloaded server's log fails; a [Warning] the
# native server did not print is shown.
set -u
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/real/real-lib.sh
. "$here/real-lib.sh"

need mariadbd mariadb-install-db mariadb mysqladmin sysbench
real_init "$1"
sb_time=${SB_TIME:-10}
sb_threads=${SB_THREADS:-16}
tables=4
rows=10000
# The server lives through start-up, prepare, two loads, the checks and the
# shutdown.
server_limit=$((limit * 3 + 2 * sb_time + 60))
user=()
[ "$(id -u)" = 0 ] && user=(--user=root) # mariadbd refuses root without it

# ---- the pristine datadir ------------------------------------------------------
# mariadb-install-db once per build directory and server version; each
# server gets a copy. Made under a temporary name and renamed, so that two
# tests starting together never see half of one.
version=$(mariadbd --version 2>/dev/null | awk '{ print $3 }')
cache="$(dirname "$preload")/real-cache/mariadb-datadir-${version//[^A-Za-z0-9._-]/_}"
if [ ! -d "$cache" ]; then
	mkdir -p "$(dirname "$cache")"
	tmp=$(mktemp -d "$cache.tmp.XXXXXX") || exit 2
	if ! timeout "$limit" mariadb-install-db --no-defaults --datadir="$tmp/data" "${user[@]}" \
		--auth-root-authentication-method=normal --skip-test-db >"$W/install-db.log" 2>&1; then
		echo "mariadb-install-db failed:" >&2
		tail -n 30 "$W/install-db.log" >&2
		rm -rf "$tmp"
		exit 1
	fi
	mv -T "$tmp/data" "$cache" 2>/dev/null || true # another test may have won
	rm -rf "$tmp"
fi

# ---- the server ------------------------------------------------------------------
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

client=(--no-defaults --protocol=tcp -h 127.0.0.1 -u root)
sql() { run native "$1" mariadb "${client[@]}" -P "$port" -N -B -e "$2"; }
pingable() { env -u LD_PRELOAD mysqladmin "${client[@]}" -P "$port" --connect-timeout=2 ping >/dev/null 2>&1; }

# A preloaded server that hangs is asked for gmpt's thread dump (every
# thread, its state and backtrace) before it is killed; the dump goes to
# its stderr, which server_log shows.
dump_signal=${GMPT_DUMP_SIGNAL:-SIGRTMIN+2}
dump_threads() {
	local pid
	[ "$1" = gmpt ] && [ -n "$server_pid" ] || return 0
	pid=$(pgrep -P "$server_pid" mariadbd) || return 0
	kill -s "$dump_signal" "$pid" 2>/dev/null || return 0
	for _ in $(seq 30); do
		cat "$W/$2.stderr" "$W/$2.log" 2>/dev/null | grep -q 'end of thread dump' && return 0
		sleep 0.1
	done
}

# mariadbd points its stderr at the error log once it has opened it: what
# was written before (and gmpt's messages after) can be in either file.
server_log() {
	local f
	for f in "$W/$1.stderr" "$W/$1.log"; do
		grep -q 'gmpt: thread dump' "$f" 2>/dev/null || continue
		echo "--- the preloaded server's thread dump (first 150 lines):" >&2
		sed -n '/gmpt: thread dump/,/gmpt: end of thread dump/p' "$f" | head -n 150 >&2
	done
	echo "--- $1 server error log (last 30 lines but the dump):" >&2
	sed '/gmpt: thread dump/,/gmpt: end of thread dump/d' "$W/$1.log" | tail -n 30 >&2
	echo "--- $1 server stdout/stderr (last 20 lines but the dump):" >&2
	sed '/gmpt: thread dump/,/gmpt: end of thread dump/d' "$W/$1.stderr" | tail -n 20 >&2
}

# start_server MODE NAME BOUND: start mariadbd on $W/data-MODE, wait up to
# BOUND seconds for it to answer. Sets start_ms.
start_server() {
	local mode=$1 name=$2 bound=$3 t0
	port=$(free_port)
	t0=$(now_ms)
	# shellcheck disable=SC2046
	timeout -k 5 "$server_limit" $(mode_prefix "$mode") GMPT_DUMP_SIGNAL="$dump_signal" mariadbd --no-defaults \
		--datadir="$W/data-$mode" "${user[@]}" --bind-address=127.0.0.1 --port="$port" \
		--socket="$W/$mode.sock" --pid-file="$W/$mode.pid" --log-error="$W/$name.log" \
		>"$W/$name.stderr" 2>&1 &
	server_pid=$!
	while ! pingable; do
		if ! kill -0 "$server_pid" 2>/dev/null; then
			wait "$server_pid"
			fail "$mode mariadbd exited with $(describe_status $?) during start-up"
			server_log "$name"
			server_pid=
			return 1
		fi
		if [ $(($(now_ms) - t0)) -gt $((bound * 1000)) ]; then
			fail "$mode mariadbd did not answer on 127.0.0.1:$port within ${bound}s"
			dump_threads "$mode" "$name"
			server_log "$name"
			stop_server_hard
			return 1
		fi
		sleep 0.05
	done
	start_ms=$(($(now_ms) - t0))
	real_times+=("$(printf '%-8s %-28s %6d.%03d s' "$mode" "$name start-up" $((start_ms / 1000)) $((start_ms % 1000)))")
}

# stop_server MODE NAME BOUND HOW: stop it (HOW: mysqladmin or TERM); it
# must exit 0 within BOUND seconds and log a complete shutdown. Sets stop_ms.
stop_server() {
	local mode=$1 name=$2 bound=$3 how=$4 t0 st
	t0=$(now_ms)
	case $how in
	mysqladmin) run native "shutdown.$name" mysqladmin "${client[@]}" -P "$port" shutdown ;;
	TERM) kill -TERM "$server_pid" ;; # timeout passes it on to mariadbd
	esac
	while kill -0 "$server_pid" 2>/dev/null; do
		if [ $(($(now_ms) - t0)) -gt $((bound * 1000)) ]; then
			fail "$mode mariadbd still running ${bound}s after $how"
			dump_threads "$mode" "$name"
			server_log "$name"
			stop_server_hard
			return 1
		fi
		sleep 0.05
	done
	wait "$server_pid"
	st=$?
	server_pid=
	stop_ms=$(($(now_ms) - t0))
	real_times+=("$(printf '%-8s %-28s %6d.%03d s' "$mode" "$name shutdown ($how)" $((stop_ms / 1000)) $((stop_ms % 1000)))")
	if [ "$st" -ne 0 ]; then
		fail "$mode mariadbd exited with $(describe_status "$st") after $how"
		server_log "$name"
	elif ! grep -q 'Shutdown complete' "$W/$name.log"; then
		fail "$mode mariadbd exited after $how without logging 'Shutdown complete'"
		server_log "$name"
	fi
}

# ---- load and checks ------------------------------------------------------------
sysbench_cmd() {
	sb=(sysbench --db-driver=mysql --mysql-host=127.0.0.1 --mysql-port="$port"
		--mysql-user=root --mysql-db=sbtest --tables="$tables" --table-size="$rows")
}

# load MODE WORKLOAD: sysbench run; it must finish with transactions done
# and no errors.
load() {
	local mode=$1 w=$2 out tx errs allowed
	out="$W/$w.server-$mode.out"
	sysbench_cmd
	run native "$w.server-$mode" "${sb[@]}" --threads="$sb_threads" --time="$sb_time" \
		"$w" run || return 1
	grep -E 'transactions:|ignored errors:|reconnects:|95th percentile:' "$out" | sed "s/^ */    $w: /"
	tx=$(awk '/transactions:/ { print $2 }' "$out")
	if [ -z "$tx" ] || [ "$tx" -eq 0 ]; then
		fail "$mode $w: no transactions"
		return 1
	fi
	# Errors other than the ones sysbench ignores (deadlock, lock wait
	# timeout) stop it with a non-zero status. oltp_read_write can deadlock
	# on its own now and then, natively too (its transactions update and
	# delete random rows): a few such retried transactions, at most 1%, are
	# the workload's; none are possible in oltp_point_select.
	errs=$(awk '/ignored errors:/ { print $3 }' "$out")
	allowed=0
	[ "$w" = oltp_read_write ] && allowed=$((tx / 100))
	if [ -z "$errs" ] || [ "$errs" -gt "$allowed" ] || ! grep -Eq 'reconnects: +0 ' "$out"; then
		fail "$mode $w: sysbench saw errors (more than $allowed) or reconnects:"
		grep -E 'ignored errors:|reconnects:' "$out" >&2
		return 1
	fi
	echo "$w: transactions done, no errors (but retried deadlocks), no reconnects" >>"$W/result-$mode"
}

# check MODE NAME WHEN: CHECK TABLE on every table of sbtest, and the row
# counts, into the results under the heading WHEN.
check() {
	local mode=$1 name=$2 when=$3 list t
	sql "tables.$name" "SELECT table_name FROM information_schema.tables WHERE table_schema = 'sbtest' ORDER BY 1" ||
		return 1
	list=$(sed 's/^/sbtest./' "$W/tables.$name.out" | paste -sd, -)
	if [ -z "$list" ]; then
		fail "$mode: no tables in sbtest"
		return 1
	fi
	sql "check.$name" "CHECK TABLE $list" || return 1
	if awk -F'\t' '$3 == "status" && $4 != "OK" { bad = 1 } $3 == "error" { bad = 1 } END { exit !bad }' \
		"$W/check.$name.out"; then
		fail "$mode: CHECK TABLE did not say OK:"
		cat "$W/check.$name.out" >&2
	fi
	{
		echo "$when: CHECK TABLE:"
		cut -f1,3,4 "$W/check.$name.out"
	} >>"$W/result-$mode"
	while read -r t; do
		sql "count.$name.$t" "SELECT '$t', COUNT(*) FROM sbtest.$t" </dev/null || return 1
		cat "$W/count.$name.$t.out" >>"$W/result-$mode"
	done <"$W/tables.$name.out"
}

# What the native server told about itself, for the preloaded one to be
# compared with: its warning lines, without times and numbers.
warnings_of() {
	grep -F '[Warning]' | sed -E 's/^[0-9-]+ [0-9:]+ [0-9]+ //; s/[0-9]+/N/g' | sort -u
}

scenario() {
	local mode=$1 start_bound stop_bound t0 ms
	t0=$(now_ms)
	rm -rf "$W/data-$mode"
	cp -a "$cache" "$W/data-$mode" || exit 2
	if [ "$mode" = native ]; then
		start_bound=$limit
		stop_bound=$limit
	else
		# Start-up and shutdown are mostly file I/O and a few threads
		# handing work over: ten times the native time, at least 15 s.
		start_bound=$(((native_start_ms * 10 + 999) / 1000))
		[ "$start_bound" -lt 15 ] && start_bound=15
		[ "$start_bound" -gt "$limit" ] && start_bound=$limit
		stop_bound=$(((native_stop_ms * 10 + 999) / 1000))
		[ "$stop_bound" -lt 15 ] && stop_bound=15
		[ "$stop_bound" -gt "$limit" ] && stop_bound=$limit
		echo "bounds: start-up ${start_bound}s, shutdown ${stop_bound}s (native: ${native_start_ms} ms, ${native_stop_ms} ms)"
	fi
	start_server "$mode" "$mode" "$start_bound" || return 1
	[ "$mode" = native ] && native_start_ms=$start_ms
	sysbench_cmd
	if sql "createdb.$mode" "CREATE DATABASE sbtest" &&
		run native "prepare.server-$mode" "${sb[@]}" oltp_read_write prepare; then
		load "$mode" oltp_point_select && load "$mode" oltp_read_write
		check "$mode" "$mode" "after the load"
	fi
	sql "aio.$mode" "SELECT @@innodb_use_native_aio" &&
		echo "    innodb_use_native_aio: $(cat "$W/aio.$mode.out")"
	stop_server "$mode" "$mode" "$stop_bound" mysqladmin || return 1
	[ "$mode" = native ] && native_stop_ms=$stop_ms

	# The second life: the data must have survived a clean shutdown.
	start_server "$mode" "$mode-restart" "$start_bound" || return 1
	check "$mode" "$mode-restart" "after the restart"
	if grep -q 'crash recovery' "$W/$mode-restart.log"; then
		fail "$mode mariadbd needed crash recovery after its clean shutdown"
		grep 'crash recovery' "$W/$mode-restart.log" >&2
	fi
	stop_server "$mode" "$mode-restart" "$stop_bound" TERM
	[ "$mode" = native ] && [ "$stop_ms" -gt "$native_stop_ms" ] && native_stop_ms=$stop_ms

	ms=$(($(now_ms) - t0))
	real_times+=("$(printf '%-8s %-28s %6d.%03d s' "$mode" "whole mariadb scenario" $((ms / 1000)) $((ms % 1000)))")
}

# The preloaded server's logs: gmpt messages and errors fail; warnings the
# native server did not print are shown.
judge_logs() {
	local f extra
	for f in "$W"/gmpt.stderr "$W"/gmpt.log "$W"/gmpt-restart.stderr "$W"/gmpt-restart.log; do
		[ -f "$f" ] || continue
		# (a thread dump asked for after a hang is already reported)
		if sed '/gmpt: thread dump/,/gmpt: end of thread dump/d' "$f" | grep -q 'gmpt:'; then
			fail "preloaded mariadbd printed gmpt messages ($(basename "$f")):"
			sed '/gmpt: thread dump/,/gmpt: end of thread dump/d' "$f" | grep 'gmpt:' | head -n 10 >&2
		fi
		if grep -qF '[ERROR]' "$f"; then
			fail "preloaded mariadbd logged errors ($(basename "$f")):"
			grep -F '[ERROR]' "$f" | head -n 10 >&2
		fi
	done
	cat "$W"/native*.stderr "$W"/native*.log 2>/dev/null | warnings_of >"$W/warn-native"
	cat "$W"/gmpt*.stderr "$W"/gmpt*.log 2>/dev/null | warnings_of >"$W/warn-gmpt"
	extra=$(comm -13 "$W/warn-native" "$W/warn-gmpt")
	if [ -n "$extra" ]; then
		echo "note: warnings only the preloaded server logged:"
		printf '%s\n' "$extra" | sed 's/^/    /'
	fi
}

touch "$W/result-native" "$W/result-gmpt"
native_start_ms=0
native_stop_ms=0
echo "== mariadb natively"
scenario native
if [ "$real_failed" -ne 0 ]; then
	echo "the native reference failed: not running the preloaded server" >&2
	finish
fi
echo "== mariadb preloaded"
if scenario gmpt; then
	same "$W/result-native" "$W/result-gmpt" "mariadb: the checks give the same results natively and preloaded"
	cat "$W/result-gmpt"
fi
judge_logs
finish
