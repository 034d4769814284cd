#!/bin/sh
# tests/fuzz/run.sh [SECONDS_PER_TARGET]
#
# Build the libFuzzer targets (clang, ASan + UBSan, every library compiled
# with coverage instrumentation) in their own build directory, write the seed
# corpora, then fuzz each target for SECONDS_PER_TARGET seconds (default 60).
# With 0, only replay the seeds and the saved corpora once (a regression
# run: a few seconds).
#
#   build dir    $GREGOR_FUZZ_BUILD, default <repo>/build-fuzz (git-ignored
#                by /build*/); set up here on first use
#   corpora      tests/fuzz/corpus/<target>/, kept between runs (git-ignored)
#   crashes      tests/fuzz/crashes/<target>-crash-<sha1> etc. (git-ignored)
#   logs         <build dir>/fuzz-logs/<target>.log
#   targets      $GREGOR_FUZZ_TARGETS, default "fuzz_decoders fuzz_header
#                fuzz_frames fuzz_batch fuzz_records fuzz_legacy"
#
# Exits non-zero if any target crashed, leaked, timed out or failed to run.
# Reproduce a crash with: <build dir>/tests/fuzz/<target> <crash file>
set -eu

secs=${1:-60}
case $secs in
'' | *[!0-9]*) echo "usage: $0 [SECONDS_PER_TARGET]" >&2; exit 2 ;;
esac

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${GREGOR_FUZZ_BUILD:-$root/build-fuzz}
targets=${GREGOR_FUZZ_TARGETS:-"fuzz_decoders fuzz_header fuzz_frames fuzz_batch fuzz_records fuzz_legacy"}

if [ ! -f "$build/build.ninja" ]; then
    CC=${CC:-clang} meson setup "$build" "$root" \
        -Dfuzz=true -Db_sanitize=address,undefined -Db_lundef=false \
        -Dc_args=-fsanitize=fuzzer-no-link -Dc_link_args=-fsanitize=fuzzer-no-link
fi
outputs=""
for t in $targets gen_seeds; do
    outputs="$outputs tests/fuzz/$t"
done
# shellcheck disable=SC2086 # one word per target
if ! ninja -C "$build" $outputs; then
    echo "run.sh: cannot build$outputs in $build (is subdir('fuzz') in tests/meson.build," \
        "the compiler clang, -Dfuzz=true?)" >&2
    exit 2
fi

seeds=$build/fuzz-seeds
rm -rf "$seeds"
"$build/tests/fuzz/gen_seeds" "$seeds"
# fuzz_legacy's seeds: the message sets of tests/golden/legacy and the v2
# batches of tests/golden/batches (no kafka-python needed for this)
python3 "$root/tests/golden/legacy/gen.py" --seeds "$seeds/legacy"
mkdir -p "$here/crashes" "$build/fuzz-logs"

export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}"

failed=""
for t in $targets; do
    case $t in
    fuzz_decoders) seed=$seeds/decoders ;;
    fuzz_header) seed=$seeds/header ;;
    fuzz_frames) seed=$seeds/frames ;;
    fuzz_batch) seed=$seeds/batch ;;
    fuzz_legacy) seed=$seeds/legacy ;;
    *) seed=$seeds ;;
    esac
    corpus=$here/corpus/$t
    log=$build/fuzz-logs/$t.log
    mkdir -p "$corpus"
    echo "== $t: ${secs}s (0: replay only), log $log"
    if [ "$secs" -eq 0 ]; then
        how="-runs=0"
    else
        how="-max_total_time=$secs"
    fi
    rc=0
    "$build/tests/fuzz/$t" "$how" -max_len=65536 -timeout=30 -rss_limit_mb=2048 \
        -print_final_stats=1 -artifact_prefix="$here/crashes/$t-" "$corpus" "$seed" >"$log" 2>&1 || rc=$?
    grep -E '^#[0-9]+[[:space:]]+(INITED|DONE)' "$log" | tail -n 1 || true
    grep -E '^stat::(number_of_executed_units|average_exec_per_sec|peak_rss_mb)' "$log" || true
    if [ "$rc" -ne 0 ]; then
        echo "!! $t failed (exit $rc):"
        grep -E 'ERROR:|FUZZ CHECK FAILED|SUMMARY:|Test unit written to' "$log" | head -n 8 || true
        failed="$failed $t"
    fi
done

if [ -n "$failed" ]; then
    echo "run.sh: failures in:$failed (inputs in $here/crashes/)" >&2
    exit 1
fi
echo "run.sh: no crashes"
