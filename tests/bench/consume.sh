#!/bin/bash
# The consume picture in one command: run-bench's consume-1k-p8 row (kbench
# consume --assign --passes N --fetch-wait-ms 1 of an 8-partition topic of
# 12,000 records of 1 KiB) against Gregor, the broker pinned to one CPU and
# the client to the other, then the same row under `perf stat` and under
# `strace -c` of the broker, and the machine's sendfile limit row (run-bench's
# limit tool: file -> sendfile -> loopback reader). A benchmark, not a test:
# it prints figures and fails only if something does not run.
#
#   tests/bench/consume.sh [--bin GREGOR] [--passes N] [--reps N] [--size B]
#                          [--no-perf] [--no-strace] [--no-limit]
#                          [-- extra gregor arguments, e.g. --override k=v]
#
# Needs ../shared/bench (kbench and limit, built with make: librdkafka-dev),
# perf (linux-perf) and strace. Broker on CPU 0, client on CPU 1.
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=build/broker/gregor PASSES=60 REPS=3 SIZE=1024 COUNT=12000 PARTS=8
PERF=1 STRACE=1 LIMITROW=1 EXTRA=()
while [ $# -gt 0 ]; do
  case "$1" in
    --bin) BIN="$2"; shift 2 ;;
    --passes) PASSES="$2"; shift 2 ;;
    --reps) REPS="$2"; shift 2 ;;
    --size) SIZE="$2"; COUNT=$((12000 * 1024 / $2)); shift 2 ;;
    --no-perf) PERF=0; shift ;;
    --no-strace) STRACE=0; shift ;;
    --no-limit) LIMITROW=0; shift ;;
    --) shift; EXTRA=("$@"); break ;;
    *) echo "usage: $0 [--bin GREGOR] [--passes N] [--reps N] [--size B] [--no-perf] [--no-strace] [--no-limit] [-- gregor args]" >&2; exit 2 ;;
  esac
done
BENCH="${GREGOR_SHARED:-../shared}/bench"
[ -x "$BENCH/kbench" ] && [ -x "$BENCH/limit" ] || make -s -C "$BENCH" kbench limit
KB="$(cd "$BENCH" && pwd)/kbench" LIM="$(cd "$BENCH" && pwd)/limit"
[ "$(nproc)" -ge 2 ] || { echo "consume.sh: needs 2 CPUs to pin broker and client apart" >&2; exit 1; }
[ $PERF -eq 0 ] || command -v perf >/dev/null || { echo "consume.sh: no perf (apt-get install linux-perf), or --no-perf" >&2; exit 1; }
[ $STRACE -eq 0 ] || command -v strace >/dev/null || { echo "consume.sh: no strace, or --no-strace" >&2; exit 1; }

work="$(mktemp -d /tmp/gregor-consume.XXXXXX)"
port=$((19500 + RANDOM % 400))
boot="127.0.0.1:$port"
bpid=""
cleanup() { [ -z "$bpid" ] || kill "$bpid" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

taskset -c 0 "$BIN" --override "log.dirs=$work/data" --override "listeners=PLAINTEXT://$boot" \
  "${EXTRA[@]}" > "$work/broker.log" 2>&1 &
bpid=$!
"$KB" waitport "$boot" --timeout 10 > /dev/null
topic="consume-bench"
taskset -c 1 "$KB" produce -b "$boot" -t "$topic" -p "$PARTS" -s "$SIZE" -n "$COUNT" --acks all -q > "$work/setup.json"
grep -q '"status":"ok"' "$work/setup.json" || { cat "$work/setup.json" >&2; exit 1; }
mb=$(awk -v n="$COUNT" -v s="$SIZE" -v p="$PASSES" 'BEGIN{printf "%.1f", n*s*p/1e6}')
echo "consume.sh: $PARTS partitions x $((COUNT / PARTS)) records of $SIZE B, $PASSES passes ($mb MB per run); broker pid $bpid on CPU 0, client on CPU 1"

row() { # -> prints mb_per_s and client_cpu_pct of one consume run
  taskset -c 1 "$KB" consume -b "$boot" -t "$topic" -s "$SIZE" -n "$COUNT" --assign --passes "$PASSES" \
    --fetch-wait-ms 1 -q > "$work/run.json"
  local j; j="$(cat "$work/run.json")"
  printf '%s' "$j" | grep -q '"status":"ok"' || { echo "consume run failed: $j" >&2; exit 1; }
  printf '%s MB/s (client CPU %s%%)' \
    "$(printf '%s' "$j" | grep -oE '"mb_per_s":[0-9.]+' | cut -d: -f2)" \
    "$(printf '%s' "$j" | grep -oE '"client_cpu_pct":[0-9.]+' | cut -d: -f2)"
}
cpu_s() { awk '{print ($14 + $15) / '"$(getconf CLK_TCK)"'}' "/proc/$bpid/stat"; }

echo "== consume-1k-p8 against Gregor, $REPS runs"
for r in $(seq 1 "$REPS"); do
  c0=$(cpu_s); t0=$EPOCHREALTIME
  out="$(row)"
  c1=$(cpu_s); t1=$EPOCHREALTIME
  echo "  run $r: $out, broker CPU $(awk -v a="$c0" -v b="$c1" -v x="$t0" -v y="$t1" 'BEGIN{printf "%.0f%% of a core", 100*(b-a)/(y-x)}')"
done

if [ $LIMITROW -eq 1 ]; then
  echo "== the machine's limit: file -> sendfile -> loopback reader (run-bench's limit serve)"
  mkdir -p "$work/limit"
  "$LIM" serve -n "$COUNT" -s "$SIZE" --dir "$work/limit" --repeat 3 --cpu-recv 0 --cpu-send 1 \
    --passes "$PASSES" --timeout 120 --label consume-limit -q 2>/dev/null | tail -n1 |
    grep -oE '"mb_per_s":[0-9.]+' | sed 's/"mb_per_s":/  limit: /; s/$/ MB\/s/'
fi

if [ $PERF -eq 1 ]; then
  echo "== perf stat of the broker during one run"
  # perf stat -p PID -- CMD counts PID for as long as CMD runs
  perf stat -e task-clock,context-switches,cpu-migrations,page-faults,cycles,instructions -p "$bpid" \
    -o "$work/perf.txt" -- taskset -c 1 "$KB" consume -b "$boot" -t "$topic" -s "$SIZE" -n "$COUNT" --assign \
    --passes "$PASSES" --fetch-wait-ms 1 -q > "$work/run.json"
  echo "  $(grep -oE '"mb_per_s":[0-9.]+' "$work/run.json" | cut -d: -f2) MB/s"
  grep -E '^ +([0-9]|<)' "$work/perf.txt" | sed 's/^/  /' || true
fi

if [ $STRACE -eq 1 ]; then
  echo "== strace -c -f of the broker during one run (syscall time; slows the broker)"
  strace -qq -c -f -p "$bpid" -o "$work/strace.txt" &
  spid=$!
  sleep 0.3
  echo "  $(row)"
  kill -TERM "$spid" 2>/dev/null || true
  wait "$spid" 2>/dev/null || true
  head -n 12 "$work/strace.txt" | sed 's/^/  /'
fi
