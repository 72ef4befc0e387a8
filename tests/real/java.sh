#!/usr/bin/env bash
# java.sh LIB BUILDDIR version
# java.sh LIB BUILDDIR threads [JVM-OPTION...]
#
# Debian's OpenJDK 17 (/usr/bin/java, HotSpot), natively and preloaded:
#   version  `java -version`: stdout and stderr must be identical. The JVM
#            starts a dozen threads (GC, compiler, VM, signal dispatcher...)
#            with guard size 0 and protects their lowest stack pages itself.
#   threads  java/ThreadStress.java (200 threads: monitors, wait/notifyAll,
#            a blocking queue, atomics, enough allocation for several
#            collections) with the JVM options given; every line it prints
#            is checked against its closed form, and the preloaded stdout
#            and stderr must equal the native ones.
# The class is compiled with javac into BUILDDIR/java-classes, again only
# when the source is newer than the class. A missing java or javac is a
# failure, not a skip: scripts/install-deps installs openjdk-17-jdk-headless.
set -u
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/real/real-lib.sh
. "$here/real-lib.sh"
real_init "$1"
builddir=$2
what=$3
shift 3

JAVA=/usr/bin/java
for c in "$JAVA" javac; do
	if ! command -v "$c" >/dev/null 2>&1; then
		fail "$c is not installed (scripts/install-deps installs openjdk-17-jdk-headless)"
		finish
	fi
done

# Compiles ThreadStress.java into $classes unless the class there is newer.
# Concurrent tests share the directory: one compiles under the lock while
# the others wait, and the classes appear by rename, complete.
compile_stress() {
	local src=$here/java/ThreadStress.java tmp
	classes=$builddir/java-classes
	mkdir -p "$builddir"
	(
		flock 9
		if [ ! -f "$classes/ThreadStress.class" ] || [ "$src" -nt "$classes/ThreadStress.class" ]; then
			tmp=$(mktemp -d "$builddir/java-classes.XXXXXX") || exit 1
			if ! env -u LD_PRELOAD javac -d "$tmp" "$src" >"$W/javac.err" 2>&1; then
				rm -rf "$tmp"
				exit 1
			fi
			rm -rf "$classes"
			chmod 755 "$tmp"
			mv "$tmp" "$classes"
		fi
	) 9>"$builddir/java-classes.lock"
}

case $what in
version)
	run native version "$JAVA" -version
	run gmpt version-gmpt "$JAVA" -version
	same "$W/version.err" "$W/version-gmpt.err" "java -version: preloaded stderr equals native" ||
		diff -u --label native --label preloaded "$W/version.err" "$W/version-gmpt.err" >&2
	same "$W/version.out" "$W/version-gmpt.out" "java -version: preloaded stdout equals native"
	cat "$W/version-gmpt.err"
	;;
threads)
	if ! compile_stress; then
		fail "javac could not compile ThreadStress.java"
		cat "$W/javac.err" >&2
		finish
	fi
	echo "JVM options: $*"
	run native stress "$JAVA" "$@" -cp "$classes" ThreadStress
	run gmpt stress-gmpt "$JAVA" "$@" -cp "$classes" ThreadStress
	# The native run must be right too, or equal outputs prove nothing.
	if grep -q 'WRONG' "$W/stress.out" || ! grep -qx 'garbage collected: true' "$W/stress.out"; then
		fail "native ThreadStress output is wrong (or no collection ran):"
		cat "$W/stress.out" >&2
	fi
	if same "$W/stress.out" "$W/stress-gmpt.out" "ThreadStress: preloaded stdout equals native"; then
		cat "$W/stress-gmpt.out"
	else
		diff -u --label native --label preloaded "$W/stress.out" "$W/stress-gmpt.out" | head -n 40 >&2
	fi
	same "$W/stress.err" "$W/stress-gmpt.err" "ThreadStress: preloaded stderr equals native" ||
		head -n 30 "$W/stress-gmpt.err" >&2
	;;
*)
	echo "java.sh: unknown test '$what'" >&2
	exit 2
	;;
esac
finish
