#!/bin/sh
# tls_mode.sh LIB FAKE PROG - per-thread TLS is in force on this glibc
# (GMPT_TLS=per-thread runs PROG with nothing on stderr); on a glibc gmpt
# does not know (FAKE, preloaded first, reports 2.99) the default falls
# back to shared TLS with one notice naming the version, and
# GMPT_TLS=per-thread refuses to run. PROG is a trivial program (exit 0).
set -u
lib=$1
fake=$2
prog=$3
case $lib in /*) ;; *) lib=$PWD/$lib ;; esac
case $fake in /*) ;; *) fake=$PWD/$fake ;; esac
fail=0
out=/tmp/gmpt-tls-mode-$$

# One gmpt line matching the pattern (the shell may add its own "Aborted"
# to the fatal case's stderr), or an empty stderr.
check() { # description, expected status ("0" or "nonzero"), stderr pattern ("" = empty)
	ok=1
	case $2 in
	0) [ "$status" -eq 0 ] || ok=0 ;;
	*) [ "$status" -ne 0 ] || ok=0 ;;
	esac
	if [ -z "$3" ]; then
		[ -s "$out" ] && ok=0
	elif [ "$(grep -c '^gmpt:' "$out")" -ne 1 ] || ! grep -q -- "$3" "$out"; then
		ok=0
	fi
	if [ "$ok" = 1 ]; then
		echo "ok: $1"
	else
		echo "FAIL: $1: status $status, stderr: $(cat "$out")" >&2
		fail=1
	fi
}

GMPT_TLS=per-thread LD_PRELOAD="$lib" "$prog" >/dev/null 2>"$out"
status=$?
check "per-thread TLS on $(getconf GNU_LIBC_VERSION)" 0 ""

env -u GMPT_TLS LD_PRELOAD="$fake:$lib" "$prog" >/dev/null 2>"$out"
status=$?
check "unknown glibc: shared TLS with a notice" 0 \
	"^gmpt: per-thread TLS is not available on glibc 2.99 (gmpt knows glibc 2.31 to 2.43 only)"

GMPT_TLS=per-thread LD_PRELOAD="$fake:$lib" "$prog" >/dev/null 2>"$out"
status=$?
check "unknown glibc, GMPT_TLS=per-thread: refused" nonzero \
	"^gmpt: fatal: GMPT_TLS=per-thread: not available on glibc 2.99"

rm -f "$out"
exit "$fail"
