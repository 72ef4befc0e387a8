#!/bin/sh
# go_aside.sh LIB CPROG GO_SRC_DIR
#
# gmpt cannot host the Go runtime (it schedules its own threads), so it
# steps aside for a Go program: one notice on stderr, and the program runs
# exactly as natively. This script
#   - builds the cgo program in GO_SRC_DIR into GO_OUT (the build
#     directory), offline (no modules, GOCACHE/GOPATH/HOME under GO_OUT),
#     again only when a source file is newer than the binary; GO_BUILDID=none
#     builds it with an empty build ID, so that no Go note marks it;
#   - runs it natively and with LD_PRELOAD=LIB (the GMPT_* variables in the
#     environment apply to the preloaded runs), then once more with
#     GMPT_DEBUG=stats added: same status and stdout as native, and stderr
#     exactly the notice (no stats line: gmpt's runtime never started);
#   - runs CPROG, a C program, natively and preloaded with GMPT_DEBUG=stats:
#     same stdout, and gmpt's only line on stderr is its stats line (gmpt ran
#     it, and did not step aside);
#   - has the Go program exec CPROG (GMPT_DEBUG=stats added): the same
#     stdout as natively, and gmpt's lines on stderr are the notice, then the
#     child's stats line: LD_PRELOAD is inherited, and the C child runs under
#     gmpt.
# Each run is bounded by timeout (TEST_TIMEOUT seconds, default 60): the Go
# program hung or crashed under gmpt before gmpt learnt to step aside.
# Exits 77 (skipped) when go is not installed.
set -u

# shellcheck source=tests/preload-args.sh
. "$(dirname "$0")/../preload-args.sh"
cprog=$1
src=$2
limit=${TEST_TIMEOUT:-60}
out=${GO_OUT:?GO_OUT: the directory to build the Go program in}
flavour=${GO_BUILDID:-default}

if ! command -v go >/dev/null 2>&1; then
	echo "go is not installed (Debian: golang-go, in scripts/install-deps)" >&2
	exit 77
fi

case $flavour in
default)
	ldflags=
	notice='gmpt: this is a Go program, whose runtime schedules its own threads: gmpt steps aside and runs it natively'
	;;
none)
	ldflags=-buildid=
	notice="gmpt: the Go runtime is linked in (cgo's crosscall2) and schedules its own threads: gmpt steps aside and runs it natively"
	;;
*)
	echo "GO_BUILDID=$flavour: expected default or none" >&2
	exit 2
	;;
esac

mkdir -p "$out" || exit 2
bin=$out/cgo_goroutines-$flavour
# Tests run in parallel; one builds, the others wait for it.
(
	flock 9 || exit 2
	if [ -x "$bin" ] && [ -z "$(find "$src" -newer "$bin" -print)" ]; then
		exit 0
	fi
	echo "building $bin ($(go version))" >&2
	cd "$src" &&
		env GO111MODULE=off GOFLAGS= GOTOOLCHAIN=local GOPROXY=off GOENV=off \
			CGO_ENABLED=1 GOCACHE="$out/go-cache" GOPATH="$out/go-path" HOME="$out" \
			go build -ldflags="$ldflags" -o "$bin.tmp" . &&
		mv "$bin.tmp" "$bin"
) 9>"$out/build.lock" || {
	echo "FAIL: go build in $src failed" >&2
	exit 1
}

dir=$(mktemp -d "${TMPDIR:-/tmp}/gmpt-foreign.XXXXXX") || exit 2
trap 'rm -rf "$dir"' EXIT
trap 'exit 130' HUP INT TERM

fail=0
failed() {
	echo "FAIL: $*" >&2
	fail=1
}

# run NAME PRELOAD CMD...: stdout and stderr to $dir/NAME.out/.err; the
# status is left in $dir/NAME.status.
run() {
	name=$1
	lib=$2
	shift 2
	if [ -n "$lib" ]; then
		LD_PRELOAD=$lib timeout -k 5 "$limit" "$@" >"$dir/$name.out" 2>"$dir/$name.err"
	else
		env -u LD_PRELOAD timeout -k 5 "$limit" "$@" >"$dir/$name.out" 2>"$dir/$name.err"
	fi
	echo $? >"$dir/$name.status"
}

# like NAME REFERENCE: same status and stdout as the native run.
like() {
	if [ "$(cat "$dir/$1.status")" != "$(cat "$dir/$2.status")" ]; then
		failed "$1: exit status $(cat "$dir/$1.status"), natively $(cat "$dir/$2.status")" \
			"(124/137: timed out after ${limit}s; above 128: killed by a signal)"
	fi
	if ! cmp -s "$dir/$2.out" "$dir/$1.out"; then
		failed "$1: stdout differs from the native run's (--- native, +++ preloaded):"
		diff -u --label native --label preloaded "$dir/$2.out" "$dir/$1.out" >&2
	fi
}

run go-native "" "$bin"
if [ "$(cat "$dir/go-native.status")" != 0 ] || [ -s "$dir/go-native.err" ]; then
	failed "the Go program failed natively (status $(cat "$dir/go-native.status")):"
	cat "$dir/go-native.err" >&2
fi

printf '%s\n' "$notice" >"$dir/notice"
run go "$preload" "$bin"
like go go-native
run go-stats "$preload" env GMPT_DEBUG=stats "$bin"
like go-stats go-native
for r in go go-stats; do
	if ! cmp -s "$dir/notice" "$dir/$r.err"; then
		failed "$r: stderr is not exactly the step-aside notice (--- expected, +++ got):"
		diff -u --label expected --label got "$dir/notice" "$dir/$r.err" >&2
	fi
done

run c-native "" "$cprog"
run c "$preload" env GMPT_DEBUG=stats "$cprog"
like c c-native
# Only gmpt's lines: the sanitizer build's runtime adds warnings of its own.
grep '^gmpt:' "$dir/c.err" >"$dir/c.gmpt"
if [ "$(grep -c . "$dir/c.gmpt")" != 1 ] || ! grep -q '^gmpt: stats: ' "$dir/c.gmpt"; then
	failed "the C program's gmpt lines are not the stats line alone (gmpt did not run it?):"
	cat "$dir/c.err" >&2
fi

run go-exec-native "" "$bin" -exec "$cprog"
run go-exec "$preload" "$bin" -exec "$cprog"
like go-exec go-exec-native
grep '^gmpt:' "$dir/go-exec.err" >"$dir/go-exec.gmpt"
if [ "$(grep -c . "$dir/go-exec.gmpt")" != 2 ] || [ "$(head -n 1 "$dir/go-exec.gmpt")" != "$notice" ] ||
	! tail -n 1 "$dir/go-exec.gmpt" | grep -q '^gmpt: stats: '; then
	failed "exec: gmpt's lines are not the notice then the C child's stats line:"
	cat "$dir/go-exec.err" >&2
fi

if [ "$fail" -ne 0 ]; then
	echo "native stdout of the Go program:" >&2
	cat "$dir/go-native.out" >&2
	exit 1
fi
echo "ok: the Go program ran natively under gmpt with one notice; the C program ran under gmpt" >&2
exit 0
