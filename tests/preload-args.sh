# shellcheck shell=sh
# tests/preload-args.sh - sourced by run-compare.sh and run-preloaded.sh.
# Checks their "LIB PROG [ARGS...]" arguments, shifts LIB off, and sets
# $preload to LIB as an absolute path: a bare name in LD_PRELOAD is searched
# for on the library path, and meson passes the library relative to the
# build directory. The library goes first in LD_PRELOAD; with an ASan build
# the caller sets ASAN_OPTIONS=verify_asan_link_order=0.
if [ "$#" -lt 2 ]; then
	echo "usage: $0 LIB PROG [ARGS...]" >&2
	exit 2
fi
preload=$1
shift
if [ ! -f "$preload" ]; then
	echo "$(basename "$0"): library not found: $preload" >&2
	exit 2
fi
if [ ! -x "$1" ]; then
	echo "$(basename "$0"): program not executable: $1" >&2
	exit 2
fi
case $preload in
/*) ;;
*) preload=$PWD/$preload ;;
esac
