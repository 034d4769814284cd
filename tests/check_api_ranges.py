#!/usr/bin/env python3
"""Every API Gregor implements is advertised over the union of Kafka 3.9's
and Kafka 4.4's version ranges: from the lowest version Kafka 3.9 accepted
to the highest (stable) one Kafka 4.4 accepts.

    check_api_ranges.py GREGOR_BIN

The ranges come from Kafka's own message definitions in the kafka-clients
jars the scripts cache (3.9.1: `KAFKA_REF_VERSION=3.9.1 scripts/kafka-ref
fetch`, run by scripts/test; 4.4.0: `scripts/kafka-ref fetch`), read by
protocol/kafka_ranges.py; the advertised ones from `gregor
--print-api-table` (what ApiVersions answers). Exit 1 on a difference not
listed in KNOWN_GAPS, or on a listed gap that no longer differs; 77 (meson's
"skipped") when a jar is missing.
"""

import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "protocol"))
import kafka_ranges  # noqa: E402

# api key -> (Gregor's range, why). Only shrinks: a gap is listed while the
# feature that the missing versions carry is not built.
KNOWN_GAPS = {
}

ROW = re.compile(r"^\|\s*(\d+)\s*\|\s*(\w+)\s*\|\s*(\d+)-(\d+)\s*\|")


def advertised(gregor):
    out = subprocess.run([gregor, "--print-api-table"], capture_output=True, text=True, check=True).stdout
    table = {}
    for line in out.split("Planned")[0].splitlines():
        m = ROW.match(line)
        if m:
            table[int(m.group(1))] = (m.group(2), int(m.group(3)), int(m.group(4)))
    return table


def main(argv):
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    k39, k44 = kafka_ranges.find_kafka39_jar(), kafka_ranges.find_kafka44_jar()
    if not k39 or not k44:
        print("api ranges: skipped, kafka-clients jar missing (3.9.1: %s, 4.4.0: %s)" % (k39, k44))
        return 77
    refs = {"kafka_3_9": kafka_ranges.open_reference("kafka 3.9", k39),
            "kafka_4_4": kafka_ranges.open_reference("kafka 4.4", k44)}
    union = {row["api_key"]: row for row in kafka_ranges.ranges(refs)}
    table = advertised(argv[1])
    problems, gaps = [], []
    for key, (name, lo, hi) in sorted(table.items()):
        row = union.get(key)
        if not row or not row["union"]:
            problems.append("%s (%d): Kafka defines no stable version of it" % (name, key))
            continue
        want = (row["union"]["min"], row["union"]["max"])
        known = KNOWN_GAPS.get(key)
        if (lo, hi) == want:
            if known:
                problems.append("%s (%d): advertises %d-%d, the whole union: take it off KNOWN_GAPS"
                                % (name, key, lo, hi))
        elif known and known[0] == (lo, hi):
            gaps.append("%s (%d): %d-%d of %d-%d: %s" % (name, key, lo, hi, want[0], want[1], known[1]))
        else:
            problems.append("%s (%d): advertises %d-%d, Kafka 3.9 and 4.4 together define %d-%d"
                            % (name, key, lo, hi, want[0], want[1]))
    for key in KNOWN_GAPS:
        if key not in table:
            problems.append("api key %d is in KNOWN_GAPS but not implemented" % key)
    for g in gaps:
        print("known gap: " + g)
    for p in problems:
        print(p)
    if problems:
        return 1
    print("api ranges: %d APIs advertised over Kafka 3.9's oldest to 4.4's newest (%d known gaps)"
          % (len(table) - len(gaps), len(gaps)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
