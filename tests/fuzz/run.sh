#!/bin/sh
# Builds the libFuzzer harnesses of every file qtrain reads -- IDX, CIFAR, PNG, JPEG, the
# INI config (with the key schema), checkpoints and safetensors -- with clang
# (-fsanitize=fuzzer,address,undefined) and runs each for SECONDS (default 60), starting
# from seed corpora of valid files (tools/mkdata, tests/fuzz/fuzz_seeds.c, configs/*.ini).
# Exits non-zero when a fuzzer finds a crash; the reproducer is left in the output directory
# as crash-* / leak-* / timeout-* / oom-*.
#
#   tests/fuzz/run.sh [SECONDS]        output in build-fuzz/ (or $QTRAIN_FUZZ_DIR)
#   CC_FUZZ=clang-14 tests/fuzz/run.sh 10
set -eu

secs=${1:-60}
root=$(cd "$(dirname "$0")/../.." && pwd)
out=${QTRAIN_FUZZ_DIR:-$root/build-fuzz}
cc=${CC_FUZZ:-clang}
harnesses="idx cifar png jpeg config checkpoint safetensors"
mkdir -p "$out"

# The library once, instrumented for coverage and the sanitizers (meson rebuilds only what
# changed); the harnesses and the seed programs link it.
lib="$out/lib"
flags="-fsanitize=fuzzer-no-link -fno-sanitize-recover=undefined -DFUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION"
[ -f "$lib/build.ninja" ] || CC=$cc meson setup "$lib" "$root" -Dtests=disabled \
    -Dbuildtype=debugoptimized -Db_sanitize=address,undefined -Db_lundef=false \
    -Dc_args="$flags" -Dc_link_args=-fsanitize=fuzzer-no-link >/dev/null
ninja -C "$lib" libqtrain.a tools/mkdata >/dev/null
libs="$lib/libqtrain.a $lib/third_party/onnx/libonnx_pb.a"
libs="$libs $(pkg-config --libs openblas libpng zlib libjpeg libprotobuf-c) -lm -lpthread"
common="-std=c11 -D_GNU_SOURCE -g -O1 -I$root/include -I$root/src/include -I$root/src/io"
# shellcheck disable=SC2086
$cc $common -fsanitize=fuzzer-no-link,address,undefined "$root/tests/fuzz/fuzz_seeds.c" $libs \
    -o "$out/fuzz_seeds"
for h in $harnesses; do
    # shellcheck disable=SC2086
    $cc $common -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
        "$root/tests/fuzz/fuzz_$h.c" $libs -o "$out/fuzz_$h"
done

seeds="$out/seeds"
rm -rf "$seeds"
"$lib/tools/mkdata" idx "$seeds/idx" --train 3 --test 2 --size 4 >/dev/null
"$lib/tools/mkdata" idx "$seeds/idxgz" --train 3 --test 2 --size 4 --gzip >/dev/null
"$lib/tools/mkdata" cifar10 "$seeds/c10" --train 5 --test 1 >/dev/null
"$lib/tools/mkdata" cifar100 "$seeds/c100" --train 2 --test 1 >/dev/null
"$lib/tools/mkdata" png "$seeds/png" --classes 1 --train 52 --test 1 --min-side 1 --max-side 9 >/dev/null
"$lib/tools/mkdata" imagenet "$seeds/jpeg" --classes 1 --train 24 --test 0 --min-side 1 --max-side 40 >/dev/null
"$out/fuzz_seeds" "$seeds"

for h in $harnesses; do
    mkdir -p "$out/corpus_$h"
done
cp "$seeds"/idx/* "$seeds"/idxgz/* "$out/corpus_idx/"
# the CIFAR harness reads a layout byte first: 0 = CIFAR-10, 1 = CIFAR-100 fine, 2 = coarse
{ printf '\000'; head -c 6146 "$seeds/c10/data_batch_1.bin"; } >"$out/corpus_cifar/seed10"
{ printf '\001'; cat "$seeds/c100/test.bin"; } >"$out/corpus_cifar/seed100"
{ printf '\006'; cat "$seeds/c100/test.bin"; } >"$out/corpus_cifar/seed100c"
cp "$seeds"/png/train/class_00/*.png "$out/corpus_png/"
cp "$root"/configs/*.ini "$out/corpus_config/"
cp "$seeds"/checkpoint/* "$out/corpus_checkpoint/"
cp "$seeds"/safetensors/* "$out/corpus_safetensors/"
# the JPEG harness reads a scale byte first: 1 << (byte & 3) is the denominator
i=0
for f in "$seeds"/jpeg/train/*/*.JPEG; do
    { printf '%b' "\\00$((i % 4))"; cat "$f"; } >"$out/corpus_jpeg/seed$i"
    i=$((i + 1))
done

status=0
for h in $harnesses; do
    echo "fuzz_$h: ${secs}s"
    "$out/fuzz_$h" -max_total_time="$secs" -max_len=16384 -rss_limit_mb=2048 \
        -artifact_prefix="$out/$h-" -print_final_stats=1 "$out/corpus_$h" \
        2>"$out/fuzz_$h.log" || { status=1; echo "fuzz_$h: FAILED, see $out/fuzz_$h.log"; }
    grep -E "^stat::number_of_executed_units|^Done" "$out/fuzz_$h.log" || true
done
exit $status
