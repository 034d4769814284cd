"""The old clients (tests/clients/README.md, "Old clients"): Debian bookworm's
Sarama 1.22.1 (at its default Config.Version 0.8.2, and at 0.10.2) and
kafka-go 0.2.1 (tests/clients/go-old), and librdkafka speaking as to Kafka
0.9.0 (confluent-kafka 2.16.1 with api.version.request=false and
broker.version.fallback=0.9.0, in tests/clients/python/driver.py). They send
the protocol versions and message formats (magic 0 and 1) that Kafka 4
removed, so they run against Gregor and Kafka 3.9.1
(GREGOR_TEST_TARGET=kafka39), not against Kafka 4.4.

Each driver runs once per class, as in test_modern_clients.py (the same
machinery: known gaps from tests/clients/known-gaps.txt apply against Gregor
only, and the rows go into client-matrix.json for tests/clients/matrix.py)."""

import os
import sys
import unittest

from broker import old_versions

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(HERE)), "tests", "clients"))
import matrix  # noqa: E402
import test_modern_clients  # noqa: E402

WHAT = {
    "sarama-1.22-default": "Metadata v0, Produce v0 (message format v0), Fetch v0, ListOffsets v0, "
                           "OffsetCommit v1 and OffsetFetch v1 (Sarama 1.22 at Version 0.8.2)",
    "sarama-1.22-v0.10.2": "Metadata v1, Produce v2 (message format v1), Fetch v3, ListOffsets v1, "
                           "JoinGroup v1, CreateTopics v0, DeleteTopics v0 (Sarama 1.22 at Version 0.10.2)",
    "kafka-go-0.2": "Produce v2 (message format v1), Fetch v2, Metadata v1, ListOffsets v1, "
                    "CreateTopics v0, DeleteTopics v1, OffsetCommit v2 (kafka-go 0.2.1)",
    "librdkafka-0.9-fallback": "Metadata v0, Produce v1 (message format v0), Fetch v1, ListOffsets v0, "
                               "JoinGroup v0, OffsetCommit v2, OffsetFetch v1 (librdkafka at "
                               "broker.version.fallback=0.9.0)",
}


def _make(cap):
    return lambda self: self.check(cap)


for _client, _driver in matrix.OLD_CLIENTS.items():
    _name = "Old" + "".join(w.capitalize() for w in _client.replace(".", "").split("-"))
    _attrs = {"CLIENT": _client, "DRIVER": _driver}
    for _cap in matrix.CAPABILITIES:
        _attrs["test_" + _cap.replace("-", "_")] = _make(_cap)
    globals()[_name] = old_versions(WHAT[_client])(
        type(_name, (test_modern_clients.ClientMatrixCase,), _attrs))
del _client, _driver, _name, _attrs, _cap

if __name__ == "__main__":
    unittest.main()
