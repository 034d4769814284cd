#!/usr/bin/env python3
"""The client x capability matrix of tests/clients: what the clients and
capabilities are, which pairs are known gaps, and the table in
docs/compatibility.md, generated from what tests/integration/
test_modern_clients.py and test_old_clients.py ran (client-matrix.json
beside the build directory).

    tests/clients/matrix.py build/client-matrix.json docs/compatibility.md [--fix]

Without --fix, exits 1 when the table in the page is not the one the run
gives (CI runs it after scripts/test); with --fix, rewrites it."""

import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))

# client name -> the driver in build/clients that checks it
CLIENTS = {
    "java": "java-driver",
    "confluent-kafka": "python-driver",
    "kafka-python": "python-driver",
    "franz-go": "go-driver",
    "sarama": "go-driver",
    "kafka-go": "go-driver",
    "kafkajs": "node-driver",
}
# The old clients (tests/integration/test_old_clients.py, @old_versions):
# protocol versions and message formats that Kafka 4 removed, checked
# against Gregor and Kafka 3.9.1, not Kafka 4.4.
OLD_CLIENTS = {
    "sarama-1.22-default": "go-old-driver",
    "sarama-1.22-v0.10.2": "go-old-driver",
    "kafka-go-0.2": "go-old-driver",
    "librdkafka-0.9-fallback": "python-driver",
}
VERSIONS = {
    "java": "Java kafka-clients 4.4.0",
    "confluent-kafka": "confluent-kafka 2.16.1",
    "kafka-python": "kafka-python 3.0.12",
    "franz-go": "franz-go 1.22.3",
    "sarama": "Sarama 1.61.1",
    "kafka-go": "kafka-go 0.4.51",
    "kafkajs": "kafkajs 2.2.4",
    "sarama-1.22-default": "Sarama 1.22.1 (default Version 0.8.2)",
    "sarama-1.22-v0.10.2": "Sarama 1.22.1 (Version 0.10.2)",
    "kafka-go-0.2": "kafka-go 0.2.1",
    "librdkafka-0.9-fallback": "librdkafka 2.16 (fallback 0.9.0)",
}
ALL_CLIENTS = list(CLIENTS) + list(OLD_CLIENTS)
CAPABILITIES = [
    "metadata",
    "produce-consume-none", "produce-consume-gzip", "produce-consume-snappy",
    "produce-consume-lz4", "produce-consume-zstd",
    "group-eager", "group-cooperative", "committed-offsets", "idempotence",
    "admin-topics", "admin-partitions", "admin-describe-configs",
    "list-offsets-time", "transactions",
    "txn-abort-visibility", "txn-consume-transform-produce", "txn-fencing",
]
BEGIN = "<!-- BEGIN GENERATED: tests/clients/matrix.py -->\n"
END = "<!-- END GENERATED: tests/clients/matrix.py -->\n"
MARK = {"pass": "pass", "fail": "**FAIL**", "skip": "n/a", "gap": "gap"}


def known_gaps(path=os.path.join(HERE, "known-gaps.txt")):
    gaps = {}
    with open(path) as f:
        for line in f:
            line = line.split("#", 1)[0].strip()
            if line:
                pair, _, reason = line.partition(" ")
                client, _, cap = pair.partition("/")
                if client not in ALL_CLIENTS or cap not in CAPABILITIES or not reason.strip():
                    raise ValueError("%s: want 'client/capability reason', got %r" % (path, line))
                gaps[(client, cap)] = reason.strip()
    return gaps


def record(path, target, client, row, elapsed):
    """Put one client's results (capability -> {status, detail}) into the
    matrix file, replacing that client's earlier row."""
    try:
        with open(path) as f:
            data = json.load(f)
    except (OSError, ValueError):
        data = {}
    data.setdefault(target, {})[client] = {"seconds": round(elapsed, 1), "results": row}
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(data, f, indent=1, sort_keys=True)
    os.replace(tmp, path)


def table(data):
    runs = data.get("gregor", {})
    missing = [c for c in ALL_CLIENTS if c not in runs]
    if missing:
        raise SystemExit("matrix: no results for %s (run the whole integration suite)" % ", ".join(missing))
    out = ["| capability | " + " | ".join(VERSIONS[c] for c in ALL_CLIENTS) + " |",
           "|---|" + "---|" * len(ALL_CLIENTS)]
    notes = []
    gaps = known_gaps()
    for cap in CAPABILITIES:
        cells = []
        for c in ALL_CLIENTS:
            r = runs[c]["results"][cap]
            cell = MARK[r["status"]]
            if r["status"] in ("skip", "gap"):
                # Gaps say the reason of known-gaps.txt, not the client's
                # error text, so that the table is the same on every run.
                if r["status"] == "skip":
                    note = "%s, %s: the client lacks it: %s" % (c, cap, r["detail"].strip() or "no detail")
                else:
                    note = "%s, %s: not built in Gregor yet: %s" % (c, cap, gaps.get((c, cap), "?"))
                notes.append(note)
                cell += " [%d]" % len(notes)
            cells.append(cell)
        out.append("| `%s` | %s |" % (cap, " | ".join(cells)))
    out.append("")
    for i, n in enumerate(notes, 1):
        out.append("%d. %s" % (i, n.replace("\n", " ")))
    return "\n".join(out) + "\n"


def main(argv):
    if len(argv) < 2:
        sys.exit(__doc__)
    with open(argv[0]) as f:
        data = json.load(f)
    page = argv[1]
    text = open(page).read()
    if BEGIN not in text or END not in text:
        sys.exit("%s: no GENERATED markers for the client matrix" % page)
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    want = head + BEGIN + table(data) + END + tail
    if want == text:
        print("matrix: %s matches %s" % (page, argv[0]))
        return 0
    if "--fix" in argv:
        open(page, "w").write(want)
        print("matrix: rewrote the client table of %s" % page)
        return 0
    print("matrix: the client table of %s is not what %s ran; run %s %s %s --fix"
          % (page, argv[0], sys.argv[0], argv[0], page))
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
