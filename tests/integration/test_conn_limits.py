"""Connection limits, with Kafka's keys and meaning (SocketServer's
Acceptor and ConnectionQuotas): max.connections (the broker stops accepting
at the limit), max.connections.per.ip and its overrides (a connection over
the limit is closed at once), connections.max.idle.ms (an idle connection is
closed by the broker), the connection_creation_rate quota of an ip entity
(KIP-612: a connection over the rate is closed unanswered after the throttle
time), queued.max.request.bytes (no reading while the requests in memory
hold that much), and descriptors running out (issue 18: accept failing with
EMFILE must not spin the loop nor flood the log).

The tests without @gregor_only gave the same results against Kafka 4.4
(GREGOR_TEST_TARGET=kafka)."""

import os
import resource
import socket
import subprocess
import time
import unittest

import kwire
import quotawire as qw
from broker import Broker, clean_env, free_port, gregor_bin, gregor_only, wait_until
from kwire import Conn
from test_data import fetch_request

HOLD = 300


def answered(conn, timeout):
    """Does an ApiVersions on conn get its answer within timeout? False if
    the broker stays silent or closes the connection."""
    conn.sock.settimeout(timeout)
    try:
        conn.send(kwire.api_versions_request(3, 11))
        return kwire.decode_api_versions_response(3, conn.recv_frame())["error_code"] == 0
    except (socket.timeout, ConnectionError, OSError):
        return False
    finally:
        conn.sock.settimeout(conn.timeout)


def cpu_seconds(pid):
    """utime + stime of a process, from /proc (Linux)."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class ConnLimitsTest(unittest.TestCase):

    def start(self, overrides=None):
        b = Broker(overrides=overrides)
        b.start()
        self.addCleanup(b.cleanup)
        self.addCleanup(b.stop)
        # The harness's readiness probe counts until the broker has read its close.
        time.sleep(0.5)
        return b

    def conns(self, b, n):
        out = []
        for _ in range(n):
            c = Conn(b.host, b.port)
            self.addCleanup(c.sock.close)
            out.append(c)
        return out

    @gregor_only("lowers the gregor process's RLIMIT_NOFILE and reads its CPU time and log")
    def test_descriptors_exhausted_no_spin(self):
        # Issue 18's recipe: `ulimit -n 256`, 300 connections held for 3 s.
        b = self.start()
        resource.prlimit(b.proc.pid, resource.RLIMIT_NOFILE, (256, 256))
        log0 = len(b.log())
        socks = []
        try:
            for _ in range(HOLD):
                s = socket.create_connection((b.host, b.port), timeout=5)
                socks.append(s)
            wait_until(lambda: "Too many open files" in b.log(), 5, "the accept failure to be logged")
            cpu0 = cpu_seconds(b.proc.pid)
            time.sleep(3)
            cpu = cpu_seconds(b.proc.pid) - cpu0
            log = b.log()[log0:]
            # Unfixed: 100% of a core and millions of lines in 3 s.
            self.assertLess(cpu, 0.5, "broker CPU time over 3 s with descriptors exhausted")
            self.assertLess(len(log), 4000, "log growth while descriptors are exhausted:\n" + log[:2000])
            self.assertLessEqual(log.count("Too many open files"), 2, log[:2000])
            self.assertIsNone(b.proc.poll())
        finally:
            for s in socks:
                s.close()
        # Descriptors freed: the broker accepts and serves again (connections
        # queued meanwhile are accepted and found closed).
        def serves():
            try:
                with Conn(b.host, b.port, timeout=2) as c:
                    return c.api_versions()["error_code"] == 0
            except (OSError, ConnectionError):
                return False
        wait_until(serves, 10, "an ApiVersions answer after the connections closed")
        with Conn(b.host, b.port) as c:
            md = c.metadata(9, topics=[])
            self.assertEqual(len(md["brokers"]), 1)
        # Resets are routine: nothing logged above INFO for the 300 that left.
        time.sleep(0.5)
        tail = b.log()[log0:]
        self.assertNotIn("WARN  closing connection", tail)

    def test_max_connections_per_ip(self):
        b = self.start({"max.connections.per.ip": "3"})
        held = self.conns(b, 3)
        for c in held:
            self.assertTrue(answered(c, 5))
        extra = Conn(b.host, b.port)
        self.addCleanup(extra.sock.close)
        extra.wait_closed(5)  # closed at once, before any request
        held[0].sock.close()
        time.sleep(0.5)

        def fourth():
            with Conn(b.host, b.port) as c:
                return answered(c, 3)
        wait_until(fourth, 10, "a connection once one of the three closed")

    def test_per_ip_overrides(self):
        # 0 for every address, 2 for 127.0.0.1: the override wins.
        b = self.start({"max.connections.per.ip": "0", "max.connections.per.ip.overrides": "127.0.0.1:2"})
        held = self.conns(b, 2)
        for c in held:
            self.assertTrue(answered(c, 5))
        extra = Conn(b.host, b.port)
        self.addCleanup(extra.sock.close)
        extra.wait_closed(5)

    def test_per_ip_limit_changes_at_run_time(self):
        # max.connections.per.ip is a dynamic broker config in Kafka.
        from test_alter_configs import SET, incremental_v1
        b = self.start()
        held = self.conns(b, 2)
        for c in held:
            self.assertTrue(answered(c, 5))
        res = incremental_v1(b, [(4, str(b.node_id), [("max.connections.per.ip", SET, "3")])])
        self.assertEqual([r[0] for r in res], [0], res)

        def limited():
            c = Conn(b.host, b.port)
            try:
                c.sock.settimeout(3)
                c.send(kwire.api_versions_request(3, 2))
                c.recv_frame()
                return False  # a third still fits
            except (socket.timeout, ConnectionError, OSError):
                return True
            finally:
                c.sock.close()
        # held (2) + the probe: 3 fit; once the change applies a fourth does not.
        extra = self.conns(b, 1)[0]
        self.assertTrue(answered(extra, 5))
        wait_until(limited, 10, "max.connections.per.ip=3 to apply")

    def test_max_connections_changes_at_run_time(self):
        # A cluster-wide dynamic config in Kafka (resource name "").
        from test_alter_configs import SET, incremental_v1
        b = self.start()
        held = self.conns(b, 2)
        for c in held:
            self.assertTrue(answered(c, 5))
        res = incremental_v1(b, [(4, "", [("max.connections", SET, "3")])])
        self.assertEqual([r[0] for r in res], [0], res)
        third = self.conns(b, 1)[0]
        self.assertTrue(answered(third, 5))

        def waits():
            c = Conn(b.host, b.port)
            self.addCleanup(c.sock.close)
            if answered(c, 1.5):
                c.sock.close()
                return None
            return c
        fourth = wait_until(waits, 15, "max.connections=3 to apply")
        held[0].sock.close()
        self.assertTrue(answered(fourth, 10))

    @gregor_only("runs the gregor binary to check a startup error")
    def test_startup_checks(self):
        for conf, msg in ((["max.connections.per.ip=0"], "max.connections.per.ip can be set to zero only"),
                          (["queued.max.request.bytes=1000"], "must be larger or equal to socket.request.max.bytes"),
                          (["max.connections.per.ip.overrides=127.0.0.1:x"], "max.connections.per.ip.overrides")):
            args = [gregor_bin(), "--override", "listeners=PLAINTEXT://127.0.0.1:%d" % free_port(),
                    "--override", "log.dirs=/tmp/gregor-it-conn-limits-%d" % os.getpid()]
            for kv in conf:
                args += ["--override", kv]
            r = subprocess.run(args, env=clean_env(), capture_output=True, text=True, timeout=10)
            self.assertNotEqual(r.returncode, 0, conf)
            self.assertIn(msg, r.stderr)

    def test_max_connections_waits_for_a_slot(self):
        b = self.start({"max.connections": "3"})
        # Kafka counts its own (none in Gregor): find how many fit.
        held = self.conns(b, 3)
        for c in held:
            self.assertTrue(answered(c, 5))
        waiting = Conn(b.host, b.port)  # TCP completes: it waits in the backlog
        self.addCleanup(waiting.sock.close)
        waiting.send(kwire.api_versions_request(3, 5))
        waiting.sock.settimeout(1.5)
        with self.assertRaises(socket.timeout):
            waiting.sock.recv(4)
        held[0].sock.close()
        waiting.sock.settimeout(10)
        resp = kwire.decode_api_versions_response(3, waiting.recv_frame())
        self.assertEqual(resp["error_code"], 0)

    def test_idle_connection_closed(self):
        b = self.start({"connections.max.idle.ms": "1000"})
        c = Conn(b.host, b.port)
        self.addCleanup(c.sock.close)
        self.assertTrue(answered(c, 5))
        t0 = time.monotonic()
        c.wait_closed(10)
        took = time.monotonic() - t0
        self.assertGreater(took, 0.8)
        self.assertLess(took, 5.0)
        # A busy connection stays.
        d = Conn(b.host, b.port)
        self.addCleanup(d.sock.close)
        for _ in range(6):
            self.assertTrue(answered(d, 5))
            time.sleep(0.4)

    def test_ip_connection_creation_rate(self):
        b = self.start()
        with Conn(b.host, b.port) as c:
            errs = qw.alter(c, 1, [([("ip", "127.0.0.1")], [("connection_creation_rate", 1.0, False)])])
        self.assertTrue(all(e["error_code"] == 0 for e in errs["entries"]), errs)

        def applied():
            with Conn(b.host, b.port) as c:
                got = qw.describe(c, 1, [("ip", 0, "127.0.0.1")])
            return got["entries"]
        wait_until(applied, 10, "the quota to be described")
        # 1 per second over 11 windows of 1 s (counted as 10 at least): about
        # 10 connections pass, then one is held unanswered and closed after
        # the throttle time (at most one window, 1 s).
        served = 0
        for _ in range(20):
            c = Conn(b.host, b.port)
            self.addCleanup(c.sock.close)
            t0 = time.monotonic()
            if answered(c, 3):
                served += 1
                continue
            c.wait_closed(5)
            took = time.monotonic() - t0
            self.assertLess(took, 3.0)
            break
        else:
            self.fail("20 connections in a burst under a rate of 1/s were all served")
        self.assertGreaterEqual(served, 5)
        self.assertLessEqual(served, 12)

    @gregor_only("Gregor counts a request until its response is written, Kafka until its handler takes it: "
                 "a parked Fetch holds its bytes only in Gregor")
    def test_queued_max_request_bytes(self):
        b = self.start({"socket.request.max.bytes": "1000", "queued.max.request.bytes": "1000"})
        with Conn(b.host, b.port) as c:
            c.send(kwire.metadata_request(4, 1, topics=["ql"], allow_auto_topic_creation=True))
            c.recv_frame()
        # Parked fetches (max wait 2.5 s, nothing to read) until 1000 bytes are held.
        size = len(fetch_request(1, "ql", 0, 0, max_wait_ms=2500)) - 4
        parked = self.conns(b, 1000 // size + 1)
        t0 = time.monotonic()
        for c in parked:
            c.send(fetch_request(1, "ql", 0, 0, max_wait_ms=2500))
        time.sleep(0.3)
        late = Conn(b.host, b.port)
        self.addCleanup(late.sock.close)
        late.send(kwire.api_versions_request(3, 9))
        late.recv_frame()
        waited = time.monotonic() - t0
        # Read only once the fetches answered and freed their bytes.
        self.assertGreater(waited, 2.0)
        for c in parked:
            c.recv_frame()


if __name__ == "__main__":
    unittest.main()
