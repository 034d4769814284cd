"""Startup and configuration: the data directory's identity across restarts,
configuration errors, bind failures, shutdown on signals.

Against Kafka the data directory tests run on a Kafka node; the ones that
run the gregor binary itself (its configuration errors, its exit status)
are Gregor-only."""

import os
import shutil
import signal
import socket
import tempfile
import unittest

import kwire
from broker import Broker, free_port, gregor_only, run_gregor


class DataDirTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="gregor-it-")

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def metadata_cluster_id(self, b):
        with kwire.Conn(b.host, b.port) as c:
            return c.metadata(12)["cluster_id"]

    def test_cluster_id_persists_across_restart(self):
        with Broker(node_id=5, data_dir=self.dir) as b:
            first = b.cluster_id()
            self.assertTrue(first)
            self.assertEqual(self.metadata_cluster_id(b), first)
        with Broker(node_id=5, data_dir=self.dir) as b:
            self.assertEqual(b.cluster_id(), first)
            self.assertEqual(self.metadata_cluster_id(b), first)

    def test_restart_with_other_node_id_fails(self):
        with Broker(node_id=5, data_dir=self.dir):
            pass
        b = Broker(node_id=6, data_dir=self.dir)
        try:
            with self.assertRaises(AssertionError) as cm:  # exits during startup
                b.start()
        finally:
            b.cleanup()
        self.assertRegex(str(cm.exception), r"node\.id|node id")

    @gregor_only("Gregor's exit status on SIGINT within its 1 s shutdown deadline (the Kafka node is not our "
                 "child: no exit status to check)")
    def test_sigint_exits_cleanly(self):
        b = Broker(data_dir=self.dir).start()
        try:
            b.proc.send_signal(signal.SIGINT)
            self.assertEqual(b.proc.wait(timeout=1.0), 0, b.log())
        finally:
            b.cleanup()

    def test_sigterm_with_open_connection(self):
        # A connected idle client does not hold up shutdown.
        b = Broker(data_dir=self.dir).start()
        try:
            with kwire.Conn(b.host, b.port) as c:
                self.assertEqual(c.api_versions(3)["error_code"], 0)
                b.stop()  # asserts exit 0 within 1 s
                self.assertEqual(c.wait_closed(), b"")
        finally:
            b.cleanup()


@gregor_only("runs the gregor binary: its startup errors and messages")
class ConfigErrorTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="gregor-it-")
        self.base = ["--override", "log.dirs=" + os.path.join(self.dir, "data"),
                     "--override", "listeners=PLAINTEXT://127.0.0.1:%d" % free_port()]

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def test_unknown_key_in_file(self):
        path = os.path.join(self.dir, "server.properties")
        with open(path, "w") as f:
            f.write("# a comment\nnode.id=1\n\nno.such.key=3\n")
        rc, err = run_gregor([path] + self.base)
        self.assertNotEqual(rc, 0, err)
        self.assertIn("no.such.key", err)
        self.assertIn("%s:4" % path, err)

    def test_unknown_key_override(self):
        rc, err = run_gregor(self.base + ["--override", "no.such.key=1"])
        self.assertNotEqual(rc, 0, err)
        self.assertIn("no.such.key", err)

    def test_bad_value_override(self):
        rc, err = run_gregor(self.base + ["--override", "num.partitions=abc"])
        self.assertNotEqual(rc, 0, err)
        self.assertIn("num.partitions", err)

    def test_bad_value_env(self):
        rc, err = run_gregor(self.base, env={"KAFKA_NUM_PARTITIONS": "abc"})
        self.assertNotEqual(rc, 0, err)
        self.assertIn("num.partitions", err)

    def test_port_in_use(self):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind(("127.0.0.1", 0))
            s.listen()
            port = s.getsockname()[1]
            rc, err = run_gregor(["--override", "log.dirs=" + os.path.join(self.dir, "data"),
                                  "--override", "listeners=PLAINTEXT://127.0.0.1:%d" % port])
        self.assertNotEqual(rc, 0, err)
        self.assertIn("127.0.0.1:%d" % port, err)
        self.assertIn("address already in use", err.lower())


if __name__ == "__main__":
    unittest.main()
