# shellcheck shell=bash
# tests/real/real-lib.sh - sourced by the 'real' suite's scripts.
#
# The scripts run real Debian programs (pigz, xz, zstd, sort, python3,
# redis-server, memcached) natively and with LD_PRELOAD=libgmpt.so and check
# what they produce. Each script takes LIB (libgmpt.so) as its first
# argument; GMPT_* variables in the environment reach the preloaded runs
# (the native runs ignore them). REAL_TIMEOUT bounds each single run
# (seconds, default 100).
#
#   real_init LIB        absolute $preload, a work directory $W, cleanup
#   need CMD...          exit 77 (meson: skipped) when a program is missing
#   run MODE NAME CMD... run CMD natively (MODE native) or preloaded (gmpt)
#                        under timeout; stdout to $W/NAME.out, stderr to
#                        $W/NAME.err; a non-zero status, a timeout or (when
#                        preloaded) a "gmpt:" line on stderr is a failure,
#                        and a timeout ends the script. The elapsed time is
#                        logged. Returns the status. Statuses listed in
#                        $ok_status (default "0") count as success; a
#                        timeout sends $timeout_signal (default TERM) and
#                        SIGKILL 5 s later, and prints any gmpt thread dump
#                        (GMPT_DUMP_SIGNAL set to the same signal).
#                        $real_last_ms is then the run's elapsed time.
#   same A B WHAT        compare two files byte for byte, fail if they differ
#   fail MSG             record a failure (the script goes on, then exits 1)
#   finish               print the timing table; exit 0, or 1 after failures

real_failed=0
real_times=()

fail() {
	echo "FAIL: $*" >&2
	real_failed=1
}

need() {
	local c
	for c in "$@"; do
		if ! command -v "$c" >/dev/null 2>&1 && [ ! -x "$c" ]; then
			echo "SKIP: $c is not installed (scripts/install-deps installs it)"
			exit 77
		fi
	done
}

real_init() {
	if [ "$#" -lt 1 ] || [ ! -f "$1" ]; then
		echo "$(basename "$0"): library not found: ${1:-}" >&2
		exit 2
	fi
	preload=$1
	case $preload in
	/*) ;;
	*) preload=$PWD/$preload ;;
	esac
	limit=${REAL_TIMEOUT:-100}
	W=$(mktemp -d "${TMPDIR:-/tmp}/gmpt-real.XXXXXX") || exit 2
	export TMPDIR=$W # sort's temporary files, python's, ...
	trap 'real_cleanup' EXIT
	trap 'exit 130' HUP INT TERM
	echo "GMPT_PROCS=${GMPT_PROCS:-(default)}, per-run limit ${limit}s, nproc $(nproc)"
}

# Registered cleanup actions (server processes to stop) run before the
# work directory goes.
real_on_exit=()
real_cleanup() {
	local a
	for a in "${real_on_exit[@]}"; do
		eval "$a"
	done
	rm -rf "$W"
}

now_ms() { date +%s%3N; }

describe_status() {
	case $1 in
	124) echo "$1 (timed out after ${limit}s)" ;;
	137) echo "$1 (killed after timeout)" ;;
	*) if [ "$1" -gt 128 ]; then echo "$1 (signal $(($1 - 128)))"; else echo "$1"; fi ;;
	esac
}

# Prefix for running a command in MODE: the timeout itself runs natively,
# env puts the library in front of the program only.
mode_prefix() {
	case $1 in
	native) echo "env -u LD_PRELOAD" ;;
	gmpt) echo "env LD_PRELOAD=$preload" ;;
	*)
		echo "real-lib: bad mode $1" >&2
		exit 2
		;;
	esac
}

run() {
	local mode=$1 name=$2 t0 t1 st ms
	shift 2
	t0=$(now_ms)
	# shellcheck disable=SC2046
	timeout -k 5 -s "${timeout_signal:-TERM}" "$limit" $(mode_prefix "$mode") "$@" >"$W/$name.out" 2>"$W/$name.err"
	st=$?
	t1=$(now_ms)
	ms=$((t1 - t0))
	# shellcheck disable=SC2034 # read by the scripts to scale limits
	real_last_ms=$ms
	real_times+=("$(printf '%-8s %-28s %6d.%03d s  status %s' "$mode" "$name" $((ms / 1000)) $((ms % 1000)) "$st")")
	case " ${ok_status:-0} " in
	*" $st "*) ;;
	*)
		fail "$mode run '$name' ($*) exited with $(describe_status "$st")"
		echo "--- $name stderr (first 30 lines):" >&2
		head -n 30 "$W/$name.err" >&2
		case $st in 124 | 137)
			# Where the threads of a hung preloaded run waited.
			sed -n '/^gmpt: thread dump/,/^gmpt: end of thread dump/p' "$W/$name.err" "$W/$name.out" | head -n 300 >&2
			# A hang ends the script: the rest would likely hang too, and
			# the test must report before meson's own timeout.
			finish
			;;
		esac
		return "$st"
		;;
	esac
	if [ "$mode" = gmpt ] && grep -q 'gmpt:' "$W/$name.err"; then
		fail "preloaded run '$name' printed gmpt messages on stderr:"
		grep 'gmpt:' "$W/$name.err" | head -n 10 >&2
	fi
	return "$st"
}

same() {
	if ! cmp -s "$1" "$2"; then
		fail "$3: $(basename "$1") and $(basename "$2") differ ($(cmp "$1" "$2" 2>&1 | head -n 1))"
		return 1
	fi
	echo "ok: $3"
}

# A TCP port on 127.0.0.1 that was free a moment ago.
free_port() {
	"$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

finish() {
	local l
	echo "--- timings:"
	for l in "${real_times[@]}"; do
		echo "$l"
	done
	if [ "$real_failed" -ne 0 ]; then
		echo "FAILED" >&2
		exit 1
	fi
	echo "PASSED"
	exit 0
}

# Debian's interpreter (not a pyenv or venv shim earlier on PATH): it is the
# real program under test in py_threads.py and runs the generators.
PY=/usr/bin/python3
