#!/usr/bin/env bash
# Capture golden byte vectors: the exact request frames real Kafka clients
# send, and the broker's answers, for tests/golden/test_golden.c.
#
#   tests/golden/capture.sh [build/broker/gregor]
#
# Not run in CI: it needs root (tshark on the loopback interface), kcat,
# /usr/bin/python3 with kafka-python, and optionally @platformatic/kafka
# (installed by /work/shared/compat/platformatic/setup into
# ~/.cache/kafka-compat/platformatic; skipped if absent).
#
# For each client: start a fresh gregor (node.id 1) on a free port, start
# tshark on lo filtered to that port, wait until tshark is capturing, run the
# client, stop tshark, then reassemble each TCP stream, cut it into frames and
# write each distinct request frame as
#   tests/golden/<client>-<api>-v<N>[-K].hex            (request; -2, -3.. for
#                                                         later different ones)
#   tests/golden/<client>-<api>-v<N>[-K]-response.hex   (the broker's response)
# without the 4-byte size prefix, as hex (32 bytes a line) under a one-line
# "# captured from ..." header. Existing files are overwritten.
#
# Set KEEP_WORK=1 to keep the work directory (pcaps, logs).
#
# Responses contain the cluster id, port and node id of the capture broker;
# test_golden.c only checks what is stable (round trip, field shapes).
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd -P)"
root="$(cd "$here/../.." && pwd -P)"
gregor="${1:-$root/build/broker/gregor}"
py=/usr/bin/python3
plat_dir="${KAFKA_COMPAT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kafka-compat}/platformatic"
work="$(mktemp -d /tmp/gregor-golden.XXXXXX)"
broker_pid="" tshark_pid=""

cleanup() {
  [ -n "$tshark_pid" ] && kill "$tshark_pid" 2>/dev/null || true
  [ -n "$broker_pid" ] && kill "$broker_pid" 2>/dev/null || true
  [ -n "${KEEP_WORK:-}" ] && echo "kept $work" || rm -rf "$work"
}
trap cleanup EXIT

# Poll until a command succeeds, at most $1 seconds.
wait_for() {
  local deadline=$(($(date +%s) + $1)) && shift
  until "$@" >/dev/null 2>&1; do
    [ "$(date +%s)" -lt "$deadline" ] || { echo "timed out waiting for: $*" >&2; return 1; }
    sleep 0.05
  done
}

free_port() {
  "$py" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

start_broker() {
  port="$(free_port)"
  rm -rf "$work/data"
  "$gregor" --override node.id=1 --override "listeners=PLAINTEXT://127.0.0.1:$port" \
    --override "log.dirs=$work/data" 2>"$work/broker.log" &
  broker_pid=$!
  wait_for 10 grep -q started "$work/broker.log"
}

stop_broker() {
  kill -TERM "$broker_pid"
  wait "$broker_pid" || true
  broker_pid=""
}

# Connect to the broker and close at once, from a port we know; wait until
# tshark has printed a packet of that connection. Packets on lo are seen in
# order, so this proves the capture is live (start) or has seen everything
# sent before it (end). The probe carries no payload, so extract skips it.
probe() {
  local p i
  for i in 1 2 3 4 5 6 7 8 9 10; do
    p="$("$py" -c 'import socket,sys; s=socket.create_connection(("127.0.0.1",int(sys.argv[1]))); print(s.getsockname()[1]); s.close()' "$port")"
    wait_for 1 grep -q "[^0-9]$p[^0-9]" "$work/tshark.out" 2>/dev/null && return 0
  done
  echo "tshark does not see connections to port $port" >&2
  return 1
}

start_capture() {
  pcap="$work/$1.pcap"
  : >"$work/tshark.out"
  tshark -i lo -f "tcp port $port" -w "$pcap" -P -l >"$work/tshark.out" 2>"$work/tshark.log" &
  tshark_pid=$!
  probe
}

stop_capture() {
  probe
  kill -INT "$tshark_pid"
  wait "$tshark_pid" || true
  tshark_pid=""
}

# extract CLIENT DESCRIPTION: write the .hex files from $pcap.
extract() {
  tshark -r "$pcap" -T fields -e tcp.stream -e tcp.srcport -e tcp.dstport -e tcp.payload \
    -Y 'tcp.len>0' >"$work/$1.segments"
  "$py" - "$work/$1.segments" "$port" "$here" "$1" "$2" "$gregor_version" <<'EOF'
import datetime, struct, sys
seg_file, port, outdir, client, desc, gregor = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6]
API_NAMES = {18: "apiversions", 3: "metadata"}
streams = {}  # (stream, to_broker) -> bytes
for line in open(seg_file):
    stream, sport, dport, payload = line.rstrip("\n").split("\t")
    key = (int(stream), int(dport) == port)
    streams[key] = streams.get(key, b"") + bytes.fromhex(payload.replace(":", ""))

def frames(data):
    out, pos = [], 0
    while pos + 4 <= len(data):
        (n,) = struct.unpack(">i", data[pos:pos + 4])
        if pos + 4 + n > len(data):
            sys.exit("%s: incomplete frame in capture" % client)
        out.append(data[pos + 4:pos + 4 + n])
        pos += 4 + n
    if pos != len(data):
        sys.exit("%s: trailing bytes in capture" % client)
    return out

stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d")
seen, count = set(), {}
def write(name, data, what):
    with open("%s/%s.hex" % (outdir, name), "w") as f:
        f.write("# captured from %s (%s %s) on lo, %s\n" % (desc, what, gregor, stamp))
        for i in range(0, len(data), 32):
            f.write(data[i:i + 32].hex() + "\n")
    print("  %s.hex (%d bytes)" % (name, len(data)))

for stream in sorted({s for s, _ in streams}):
    reqs = frames(streams.get((stream, True), b""))
    resps = {struct.unpack(">i", r[:4])[0]: r for r in frames(streams.get((stream, False), b""))}
    for req in reqs:
        key, version, corr = struct.unpack(">hhi", req[:8])
        # Every distinct request (ignoring the correlation id); repeats of
        # an (api, version) with other contents get -2, -3, ...
        base = "%s-%s-v%d" % (client, API_NAMES.get(key, "api%d" % key), version)
        ident = (key, version, req[8:])
        if ident in seen:
            continue
        seen.add(ident)
        count[base] = count.get(base, 0) + 1
        name = base if count[base] == 1 else "%s-%d" % (base, count[base])
        write(name, req, "request to")
        if corr in resps:
            write(name + "-response", resps[corr], "response from")
EOF
}

# capture CLIENT DESCRIPTION COMMAND...
capture() {
  local client="$1" desc="$2"
  shift 2
  echo "$client:"
  start_broker
  start_capture "$client"
  BOOTSTRAP="127.0.0.1:$port" "$@" >"$work/$client.out" 2>&1 || { cat "$work/$client.out"; exit 1; }
  stop_capture
  stop_broker
  extract "$client" "$desc"
}

gregor_version="$("$gregor" --version)"
kcat_version="$(kcat -V 2>&1 | sed -n 's/^Version \([^ ]*\).*/\1/p')"
rdkafka_version="$(kcat -V 2>&1 | sed -n 's/.*librdkafka \([0-9.]*\).*/\1/p' | head -1)"

capture kcat "kcat $kcat_version (librdkafka $rdkafka_version) -L" \
  sh -c 'kcat -L -b "$BOOTSTRAP" -m 10'

kp_version="$("$py" -c 'import kafka; print(kafka.__version__)')"
capture kafka-python "kafka-python $kp_version KafkaConsumer.topics()" \
  "$py" -c '
import os
from kafka import KafkaConsumer
c = KafkaConsumer(bootstrap_servers=os.environ["BOOTSTRAP"], api_version_auto_timeout_ms=10000)
print(c.topics())
c.close()'

if [ -x "$plat_dir/bin/node" ]; then
  plat_version="$("$plat_dir/bin/node" -p "require('$plat_dir/node_modules/@platformatic/kafka/package.json').version")"
  cat >"$work/plat.mjs" <<'EOF'
import { createRequire } from 'module'
const require = createRequire(process.env.PLAT_DIR + '/package.json')
const { Admin } = await import(require.resolve('@platformatic/kafka'))
const admin = new Admin({ clientId: 'gregor-golden', bootstrapBrokers: [process.env.BOOTSTRAP] })
const md = await admin.metadata({ topics: [] })
console.log(JSON.stringify({ brokers: [...md.brokers.entries()], id: md.id, controller: md.controllerId }))
await admin.close()
EOF
  PLAT_DIR="$plat_dir" capture platformatic \
    "@platformatic/kafka $plat_version Admin.metadata({topics: []})" \
    "$plat_dir/bin/node" "$work/plat.mjs"
else
  echo "platformatic: skipped (run /work/shared/compat/platformatic/setup)"
fi
