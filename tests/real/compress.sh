#!/usr/bin/env bash
# compress.sh LIB pigz|xz|zstd
#
# A multi-threaded compressor round trip on generated, deterministic input,
# natively and preloaded. The compressed stream made preloaded must be
# byte-identical to the native one (all three are deterministic for the
# same options, whatever the thread timing), must decompress to the
# original with the native tool, and the preloaded (multi-threaded where
# the tool can) decompressor must give back the original too.
#   pigz -p 8, 50 MiB (and the stream must also pass plain gzip -d)
#   xz -T4 -3 --block-size=1MiB, 32 MiB: 32 blocks, so 4 threads really work
#      (and xz -T4 -d decompresses them in parallel)
#   zstd -T4, 50 MiB
set -u
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/real/real-lib.sh
. "$here/real-lib.sh"

tool=${2:-}
pipe_opt=()
case $tool in
pigz)
	size=$((50 << 20))
	comp=(pigz -p 8 -c)
	pipe_opt=(-T) # from a pipe pigz stores the current time unless -T
	decomp=(pigz -p 8 -dc)
	ext=gz
	need pigz gzip
	;;
xz)
	size=$((32 << 20))
	comp=(xz -T4 -3 --block-size=1MiB -c)
	decomp=(xz -T4 -dc)
	ext=xz
	need xz
	;;
zstd)
	size=$((50 << 20))
	comp=(zstd -T4 -q -c)
	decomp=(zstd -q -dc)
	ext=zst
	need zstd
	;;
*)
	echo "usage: $0 LIB pigz|xz|zstd" >&2
	exit 2
	;;
esac
need "$PY"
real_init "$1"

"$PY" "$here/gen_data.py" blob "$size" 1 >"$W/data" || exit 2
echo "input: $size bytes, sha256 $(sha256sum <"$W/data" | cut -c1-16)..."

run native compress "${comp[@]}" "$W/data"
run gmpt compress-gmpt "${comp[@]}" "$W/data"
same "$W/compress.out" "$W/compress-gmpt.out" "$tool: preloaded compressed stream equals the native one"
echo "compressed: $(wc -c <"$W/compress-gmpt.out") bytes"
mv "$W/compress-gmpt.out" "$W/stream.$ext"
rm -f "$W/compress.out"

# The preloaded stream, decompressed natively and preloaded.
run native decompress "${decomp[@]}" "$W/stream.$ext" &&
	same "$W/data" "$W/decompress.out" "$tool: native decompression of the preloaded stream"
rm -f "$W/decompress.out"
run gmpt decompress-gmpt "${decomp[@]}" "$W/stream.$ext" &&
	same "$W/data" "$W/decompress-gmpt.out" "$tool: preloaded decompression"
rm -f "$W/decompress-gmpt.out"

case $tool in
pigz)
	run native gzip-d gzip -dc "$W/stream.$ext" &&
		same "$W/data" "$W/gzip-d.out" "pigz: plain gzip -d of the preloaded stream"
	rm -f "$W/gzip-d.out"
	;;
xz)
	# The stream has many blocks (the multi-threaded encoder made them).
	blocks=$(xz --robot -lv "$W/stream.$ext" | awk -F'\t' '$1 == "totals" { print $3 }')
	if [ "${blocks:-0}" -ge 16 ]; then
		echo "ok: xz stream has $blocks blocks"
	else
		fail "xz stream has ${blocks:-no} blocks, expected >= 16 (not a multi-threaded encoding?)"
	fi
	;;
esac

# From a pipe on stdin to stdout (no file name or size in the header: the
# stream differs from the one above, so compare with the native pipe run).
run native compress-pipe "${comp[@]}" "${pipe_opt[@]}" < <(cat "$W/data")
run gmpt compress-pipe-gmpt "${comp[@]}" "${pipe_opt[@]}" < <(cat "$W/data")
same "$W/compress-pipe.out" "$W/compress-pipe-gmpt.out" "$tool: from a pipe, preloaded stream equals the native one"
finish
