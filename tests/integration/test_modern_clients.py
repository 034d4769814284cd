"""Today's clients, pinned (tests/clients/README.md): the Java client 4.4,
confluent-kafka 2.16, kafka-python 3.0, franz-go, Sarama, kafka-go and kafkajs, each
checked for every capability of the contract by its driver against a broker
of its own.

The drivers are built by scripts/install-clients (scripts/test runs it) into
build/clients/ (GREGOR_CLIENTS overrides). Each driver runs once per class,
in setUpClass; each capability is then one test: it passes, fails, or is
skipped with the driver's reason (the client lacks the capability) or as a
known gap (tests/clients/known-gaps.txt: the broker lacks the feature). A
known gap that passes fails, so the list stays honest.

What ran is written to client-matrix.json beside the build directory of
GREGOR_BIN; tests/clients/matrix.py turns it into the table of
docs/compatibility.md."""

import json
import os
import subprocess
import sys
import time
import unittest

from broker import BrokerTestCase, gregor_bin

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.normpath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(TOP, "tests", "clients"))
import matrix  # noqa: E402

DRIVER_DEADLINE = 360.0  # seconds for one driver run (every capability)


def clients_dir():
    return os.environ.get("GREGOR_CLIENTS") or os.path.join(TOP, "build", "clients")


def matrix_path():
    if target() != "gregor":
        return os.path.join(TOP, "build", "client-matrix-%s.json" % target())
    return os.path.join(os.path.dirname(os.path.dirname(gregor_bin())), "client-matrix.json")


def target():
    return os.environ.get("GREGOR_TEST_TARGET", "gregor")


class ClientMatrixCase(BrokerTestCase):
    CLIENT = None
    DRIVER = None
    results = None

    @classmethod
    def after_start(cls):
        driver = os.path.join(clients_dir(), cls.DRIVER)
        if not os.access(driver, os.X_OK):
            raise AssertionError("no %s: run scripts/install-clients (scripts/test does)" % driver)
        t0 = time.monotonic()
        p = subprocess.run([driver, "--bootstrap", cls.broker.bootstrap, "--client", cls.CLIENT],
                           stdin=subprocess.DEVNULL, capture_output=True, text=True,
                           timeout=DRIVER_DEADLINE)
        cls.elapsed = time.monotonic() - t0
        cls.stderr_tail = "\n".join(p.stderr.splitlines()[-30:])
        cls.results = {}
        for line in p.stdout.splitlines():
            line = line.strip()
            if not line.startswith("{"):
                continue
            r = json.loads(line)
            if r.get("client") == cls.CLIENT:
                cls.results[r["capability"]] = r
        if p.returncode != 0:
            raise AssertionError("%s --client %s exited %d; stderr:\n%s"
                                 % (cls.DRIVER, cls.CLIENT, p.returncode, cls.stderr_tail))
        gaps = matrix.known_gaps() if target() == "gregor" else {}
        row = {}
        for cap in matrix.CAPABILITIES:
            r = cls.results.get(cap)
            if r is None:
                row[cap] = {"status": "fail", "detail": "the driver printed no line for it"}
            elif r["status"] == "fail" and (cls.CLIENT, cap) in gaps:
                row[cap] = {"status": "gap", "detail": r.get("detail", "")}
            else:
                row[cap] = {"status": r["status"], "detail": r.get("detail", "")}
        matrix.record(matrix_path(), target(), cls.CLIENT, row, cls.elapsed)

    def check(self, cap):
        r = self.results.get(cap)
        self.assertIsNotNone(r, "%s printed no line for %s; stderr:\n%s" % (self.DRIVER, cap, self.stderr_tail))
        gap = target() == "gregor" and (self.CLIENT, cap) in matrix.known_gaps()
        if r["status"] == "skip":
            self.assertFalse(gap, "%s/%s is a known gap but the driver skips it" % (self.CLIENT, cap))
            self.skipTest("%s lacks it: %s" % (self.CLIENT, r.get("detail", "")))
        if r["status"] == "pass":
            self.assertFalse(gap, "%s/%s passes: take it off tests/clients/known-gaps.txt" % (self.CLIENT, cap))
            return
        self.assertEqual(r["status"], "fail", "bad status in %r" % r)
        if gap:
            self.skipTest("known gap: %s" % r.get("detail", ""))
        self.fail("%s %s: %s" % (self.CLIENT, cap, r.get("detail", "")))


def _make(cap):
    return lambda self: self.check(cap)


for _client, _driver in matrix.CLIENTS.items():
    _name = "".join(w.capitalize() for w in _client.split("-"))
    _attrs = {"CLIENT": _client, "DRIVER": _driver}
    for _cap in matrix.CAPABILITIES:
        _attrs["test_" + _cap.replace("-", "_")] = _make(_cap)
    globals()[_name] = type(_name, (ClientMatrixCase,), _attrs)
del _client, _driver, _name, _attrs, _cap

if __name__ == "__main__":
    unittest.main()
