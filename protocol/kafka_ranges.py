#!/usr/bin/env python3
"""Kafka's own message definitions, as references for Gregor's schemas.

    kafka_ranges.py [--kafka39 PATH] [--kafka44 PATH]

prints, as JSON, for every api key either release defines: its name, Kafka
3.9's range, Kafka 4.4's stable range and their union, e.g.

    {"api_key": 22, "name": "InitProducerId",
     "kafka_3_9": {"min": 0, "max": 5},
     "kafka_4_4": {"min": 0, "max": 5, "unstable": [6]},
     "union": {"min": 0, "max": 5}}

A release's range is what a default broker of that release accepts: a
request whose JSON says "latestVersionUnstable" has its highest version left
out (listed under "unstable"); null where the release lacks the api or has
no stable version of it. The union runs from the lower minimum to the higher
maximum, which is what Gregor's schemas state (check_schemas.py).

A PATH is a directory of Kafka's message JSON (Kafka's
clients/src/main/resources/common/message) or a kafka-clients jar, read
with zipfile (common/message/*.json inside). Defaults: 3.9's JSON in
../shared/kafka-reference/messages beside the repository ('auto': the
kafka-clients 3.9.1 jar that `KAFKA_REF_VERSION=3.9.1 scripts/kafka-ref
fetch` caches), and 4.4's kafka-clients jar where scripts/kafka-ref and
scripts/install-clients put it (find_kafka_jar). The module is shared with check_schemas.py.
"""

import argparse
import json
import os
import sys
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from schema import Range  # noqa: E402

KAFKA44 = "4.4.0"
DEFAULT_KAFKA39 = os.path.join(HERE, "..", "..", "shared", "kafka-reference", "messages")


KAFKA39 = "3.9.1"  # the 3.9 release scripts/kafka-ref fetches (KAFKA_REF_VERSION=3.9.1)


def find_kafka_jar(version):
    """The kafka-clients jar of `version` in the caches the scripts fill, or
    None: scripts/kafka-ref fetch puts it in $GREGOR_CACHE/kafka-VERSION/libs
    (and its Maven repository $GREGOR_CACHE/m2); scripts/install-clients
    builds the Java driver with mvn's default repository ~/.m2/repository."""
    cache = os.environ.get("GREGOR_CACHE") or os.path.expanduser("~/.cache/gregor")
    jar = "kafka-clients-%s.jar" % version
    maven = os.path.join("org", "apache", "kafka", "kafka-clients", version, jar)
    for path in (os.path.join(cache, "kafka-%s" % version, "libs", jar),
                 os.path.join(cache, "m2", maven),
                 os.path.join(os.path.expanduser("~/.m2/repository"), maven)):
        if os.path.isfile(path):
            return path
    return None


def find_kafka44_jar():
    return find_kafka_jar(KAFKA44)


def find_kafka39_jar():
    return find_kafka_jar(KAFKA39)


def _strip_comments(text):
    return "".join(line for line in text.splitlines(True)
                   if not line.lstrip().startswith("//"))


class Reference:
    """One release's message JSON, from a directory or a jar."""

    def __init__(self, label, path):
        self.label = label
        self.path = path
        self._zip = None
        self._names = None
        if zipfile.is_zipfile(path):
            self._zip = zipfile.ZipFile(path)
            self._names = {os.path.basename(n): n for n in self._zip.namelist()
                           if n.startswith("common/message/") and n.endswith(".json")}
        elif os.path.isdir(path):
            self._names = {n: os.path.join(path, n) for n in os.listdir(path)
                           if n.endswith(".json")}
        else:
            raise OSError("%s: neither a directory nor a jar" % path)

    def has(self, name):
        return name in self._names

    def load(self, name):
        """The message `name` (e.g. "ProduceRequest.json"), `//` comments
        dropped; None if the release has no such file."""
        where = self._names.get(name)
        if where is None:
            return None
        if self._zip is not None:
            text = self._zip.read(where).decode("utf-8")
        else:
            with open(where) as f:
                text = f.read()
        return json.loads(_strip_comments(text))

    def requests(self):
        """Every request message, as parsed JSON."""
        for name in sorted(self._names):
            if name.endswith("Request.json"):
                msg = self.load(name)
                if msg.get("type") == "request" and "apiKey" in msg:
                    yield msg


def stable_range(msg):
    """The versions a default broker accepts: validVersions without the
    highest one when the request says latestVersionUnstable."""
    valid = Range.parse(str(msg["validVersions"]).strip(), msg.get("name", "reference"))
    if msg.get("latestVersionUnstable"):
        return Range(valid.lo, valid.hi - 1)
    return valid


def open_reference(label, path):
    """A Reference, or None (with a line on stderr) if `path` is unusable."""
    if path is None or not os.path.exists(path):
        return None
    try:
        return Reference(label, path)
    except (OSError, zipfile.BadZipFile) as e:
        print("%s: %s" % (label, e), file=sys.stderr)
        return None


def ranges(refs):
    """[{api_key, name, <label>: {min, max[, unstable]} or None, union}] for
    the References in `refs` (label -> Reference or None)."""
    table = {}
    for label, ref in refs.items():
        if ref is None:
            continue
        for msg in ref.requests():
            key = msg["apiKey"]
            name = msg["name"][:-len("Request")]
            row = table.setdefault(key, dict({"api_key": key, "name": name},
                                             **{lb: None for lb in refs}))
            valid = Range.parse(str(msg["validVersions"]).strip(), name)
            stable = stable_range(msg)
            entry = None if stable.empty() else {"min": stable.lo, "max": stable.hi}
            if stable != valid:
                entry = entry or {}
                entry["unstable"] = list(range(max(stable.hi + 1, valid.lo), valid.hi + 1))
            row[label] = entry
    out = []
    for key in sorted(table):
        row = table[key]
        have = [row.get(label) for label in refs if refs[label] is not None]
        have = [e for e in have if e and "min" in e]
        row["union"] = ({"min": min(e["min"] for e in have), "max": max(e["max"] for e in have)}
                        if have else None)
        out.append(row)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--kafka39", default=DEFAULT_KAFKA39,
                    help="Kafka 3.9's message JSON (directory or jar, or 'auto' for the cached "
                    "kafka-clients-%s.jar)" % KAFKA39)
    ap.add_argument("--kafka44", default=None,
                    help="Kafka 4.4's message JSON (directory or jar; default: the cached jar)")
    args = ap.parse_args()
    k44 = args.kafka44 or find_kafka44_jar()
    k39 = find_kafka39_jar() if args.kafka39 == "auto" else args.kafka39
    refs = {"kafka_3_9": open_reference("kafka 3.9", k39),
            "kafka_4_4": open_reference("kafka 4.4", k44)}
    for label, ref in refs.items():
        if ref is None:
            print("kafka_ranges: no %s reference, its column is null" % label, file=sys.stderr)
    if not any(refs.values()):
        return 1
    json.dump(ranges(refs), sys.stdout, indent=1)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
