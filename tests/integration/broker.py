"""
Test harness: run the built gregor binary as a child process.

A Broker gets a free port (bind port 0, read it, close, pass it on), a fresh
temporary data directory (unless one is given, for restart tests) and a log
file that captures its stderr. start() returns once the broker accepts
connections; stop() sends SIGTERM and checks that the broker exits with 0
within STOP_DEADLINE seconds.

Nothing here sleeps to "let the broker catch up": every wait is a poll for a
condition with a deadline (wait_until).

GREGOR_TEST_TARGET=kafka runs the same tests against Apache Kafka 4.4.0, the
reference (GREGOR_TEST_TARGET=kafka39: Kafka 3.9.1, for the tests marked
@old_versions): Broker(...) then hands out a KafkaBroker, which starts a single
KRaft node with scripts/kafka-ref (same node id, same overrides, same data
directory layout: DIR/data). A test that cannot run there (it reads
Gregor's log lines or data files, sets a gregor.* key, runs the gregor
binary, or checks a documented Gregor default that differs from Kafka's) is
marked @gregor_only("why") and is skipped, with that reason, against Kafka.
"""

import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest

START_DEADLINE = 10.0  # seconds until the broker must accept connections
STOP_DEADLINE = 1.0    # seconds between SIGTERM and exit
LOG_DEADLINE = 5.0     # seconds for an expected log line to appear

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.normpath(os.path.join(HERE, "..", ".."))
KAFKA_REF = os.path.join(TOP, "scripts", "kafka-ref")
KAFKA_START_DEADLINE = 240.0  # seconds for scripts/kafka-ref start (JVM start, formatting)
KAFKA_STOP_DEADLINE = 90.0    # scripts/kafka-ref stop waits up to 60 s, then SIGKILLs
GREGOR_ONLY = "Gregor-only: "  # prefix of the skip reason; run.py counts these


# GREGOR_TEST_TARGET -> the Kafka release scripts/kafka-ref runs for it.
KAFKA_TARGETS = {"kafka": "4.4.0", "kafka39": "3.9.1"}


def target():
    """What the tests run against: "gregor" (default), "kafka" (Apache
    Kafka 4.4.0) or "kafka39" (Apache Kafka 3.9.1, the last release that
    served the oldest protocol versions and message formats: the reference
    for the tests marked @old_versions)."""
    t = os.environ.get("GREGOR_TEST_TARGET", "gregor") or "gregor"
    if t != "gregor" and t not in KAFKA_TARGETS:
        raise RuntimeError("GREGOR_TEST_TARGET=%s: expected gregor, kafka or kafka39" % t)
    return t


def on_kafka():
    return target() in KAFKA_TARGETS


def old_versions(what):
    """Decorator for a test of protocol versions or message formats that
    Kafka 4 removed (KIP-896) and Gregor serves as Kafka 3.9 did: skipped
    against Kafka 4.4, run against Gregor and against Kafka 3.9.1
    (GREGOR_TEST_TARGET=kafka39), where the expected answers come from."""
    return unittest.skipIf(target() == "kafka", GREGOR_ONLY + "Kafka 4 removed " + what +
                           " (checked against Kafka 3.9.1: GREGOR_TEST_TARGET=kafka39)")


def gregor_only(reason):
    """Decorator for a test method or class that checks something only
    Gregor has (its log lines, data files, gregor.* keys, the gregor binary,
    a default of Gregor's that differs from Kafka's): skipped against Kafka
    with the reason."""
    return unittest.skipIf(on_kafka(), GREGOR_ONLY + reason)


def kafka_only(overrides):
    """Overrides for the Kafka node alone: Kafka keys Gregor does not have
    (and would refuse), for where Kafka behaves differently by default."""
    return dict(overrides) if on_kafka() else {}


# Kafka's LogManager starts retention, flushing and its checkpoint writers
# log.initial.task.delay.ms (30 s) after startup; Gregor at once.
KAFKA_NO_INITIAL_TASK_DELAY = {"log.initial.task.delay.ms": "0"}


def gregor_bin():
    """The gregor binary (GREGOR_BIN). Against Kafka only its path matters
    (tests that run it are Gregor-only; others put files beside its build
    directory), so it need not be built."""
    path = os.environ.get("GREGOR_BIN")
    if not path:
        path = os.path.join(TOP, "build", "broker", "gregor")
    if not os.access(path, os.X_OK) and not on_kafka():
        raise RuntimeError("gregor binary not found at %s (set GREGOR_BIN)" % path)
    return path


def clean_env(extra=None):
    """The environment for a child gregor: ours without KAFKA_* variables
    (they are configuration) and without GREGOR_LOG_LEVEL, plus `extra`."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("KAFKA_") and k != "GREGOR_LOG_LEVEL"}
    env.update(extra or {})
    return env


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(cond, deadline, what, interval=0.01):
    """Poll cond() until it returns a true value (which is returned), or
    raise AssertionError after `deadline` seconds."""
    end = time.monotonic() + deadline
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() >= end:
            raise AssertionError("timed out after %.1f s waiting for %s" % (deadline, what))
        time.sleep(interval)


def run_gregor(args, env=None, timeout=10.0):
    """Run gregor expecting it to exit by itself (configuration errors).
    Returns (exit code, stderr). A broker that starts instead is stopped and
    reported as a failure."""
    p = subprocess.Popen([gregor_bin()] + list(args), stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         env=clean_env(env))
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
        raise AssertionError("gregor %s did not exit within %.0f s; stderr:\n%s"
                             % (" ".join(args), timeout, err.decode(errors="replace")))
    return p.returncode, err.decode(errors="replace")


class Broker:
    def __new__(cls, *args, **kwargs):
        if cls is Broker and on_kafka():
            cls = KafkaBroker
        return super().__new__(cls)

    def __init__(self, node_id=1, data_dir=None, overrides=None, env=None):
        self.node_id = node_id
        self.host = "127.0.0.1"
        self.port = None
        self._own_dir = data_dir is None
        self.data_dir = data_dir or tempfile.mkdtemp(prefix="gregor-it-")
        self.overrides = dict(overrides or {})
        self.env = env
        self.proc = None
        self._logf = None
        self.log_path = None

    @property
    def bootstrap(self):
        return "%s:%d" % (self.host, self.port)

    def args(self):
        conf = {
            "node.id": str(self.node_id),
            "listeners": "PLAINTEXT://%s:%d" % (self.host, self.port),
            "log.dirs": os.path.join(self.data_dir, "data"),
        }
        conf.update(self.overrides)
        out = []
        for k, v in conf.items():
            out += ["--override", "%s=%s" % (k, v)]
        return out

    def start(self):
        self.port = free_port()
        fd, self.log_path = tempfile.mkstemp(prefix="gregor-it-", suffix=".log")
        self._logf = os.fdopen(fd, "wb")
        self.proc = subprocess.Popen([gregor_bin()] + self.args(), stdin=subprocess.DEVNULL,
                                     stdout=self._logf, stderr=self._logf, env=clean_env(self.env))

        def ready():
            if self.proc.poll() is not None:
                raise AssertionError("gregor exited with %d during startup; log:\n%s"
                                     % (self.proc.returncode, self.log()))
            try:
                socket.create_connection((self.host, self.port), timeout=1).close()
                return True
            except OSError:
                return False

        try:
            wait_until(ready, START_DEADLINE, "gregor to accept connections on %s" % self.bootstrap)
            wait_until(lambda: "started" in self.log(), LOG_DEADLINE, "the 'started' log line")
        except BaseException:
            self.kill()
            raise
        return self

    def log(self):
        if not self.log_path:
            return ""
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")

    def wait_for_log(self, pattern, deadline=LOG_DEADLINE):
        """Wait for a log line matching the regex; return the match."""
        rx = re.compile(pattern)
        return wait_until(lambda: rx.search(self.log()), deadline, "log line /%s/" % pattern)

    def closing_reason(self, local_port, deadline=LOG_DEADLINE):
        """The reason logged for closing the connection from our local port
        (peer is "ip:port" or "client 'id' at ip:port")."""
        m = self.wait_for_log(r"WARN +closing connection from (?:client '[^']*' at )?127\.0\.0\.1:%d: (.+)"
                              % local_port, deadline)
        return m.group(1)

    def cluster_id(self):
        """cluster.id from <data dir>/meta.properties."""
        with open(os.path.join(self.data_dir, "data", "meta.properties")) as f:
            for line in f:
                if line.startswith("cluster.id="):
                    return line.strip().split("=", 1)[1]
        return None

    def stop(self):
        """SIGTERM; the broker must exit with 0 within STOP_DEADLINE."""
        if not self.proc or self.proc.poll() is not None:
            rc = self.proc.returncode if self.proc else None
            self._close_log()
            if rc not in (None, 0):
                raise AssertionError("gregor had already exited with %d; log:\n%s" % (rc, self.log()))
            return
        t0 = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=STOP_DEADLINE)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError("gregor did not exit within %.1f s of SIGTERM; log:\n%s"
                                 % (STOP_DEADLINE, self.log()))
        finally:
            self._close_log()
        elapsed = time.monotonic() - t0
        if rc != 0:
            raise AssertionError("gregor exited with %d after SIGTERM; log:\n%s" % (rc, self.log()))
        return elapsed

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._close_log()

    def _close_log(self):
        if self._logf:
            self._logf.close()
            self._logf = None

    def cleanup(self):
        """Kill if still running; remove the data dir (if ours) and the log."""
        self.kill()
        if self._own_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)
        if self.log_path:
            try:
                os.unlink(self.log_path)
            except OSError:
                pass
            self.log_path = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        try:
            if exc[0] is None:
                self.stop()
        finally:
            self.cleanup()


class _KafkaProcess:
    """What tests use of Popen (poll, wait, send_signal, kill) for the Kafka
    node: a process scripts/kafka-ref started (setsid), not our child, so
    its exit status is not ours to read: returncode is -signal when we
    signalled it, else 0."""

    def __init__(self, pid):
        self.pid = pid
        self.returncode = None
        self._signal = None

    def _alive(self):
        try:
            with open("/proc/%d/stat" % self.pid) as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            return False
        return state not in ("Z", "X")

    def poll(self):
        if self.returncode is None and not self._alive():
            self.returncode = -self._signal if self._signal else 0
        return self.returncode

    def wait(self, timeout=None):
        end = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if end is not None and time.monotonic() >= end:
                raise subprocess.TimeoutExpired("kafka pid %d" % self.pid, timeout)
            time.sleep(0.02)
        return self.returncode

    def send_signal(self, sig):
        if self.poll() is None:
            self._signal = sig
            try:
                os.kill(self.pid, sig)
            except ProcessLookupError:
                pass

    def kill(self):
        self.send_signal(signal.SIGKILL)


class KafkaBroker(Broker):
    """The same interface, backed by an Apache Kafka 4.4.0 (or 3.9.1) node (broker and
    controller in one process) run by scripts/kafka-ref in data_dir: data
    in data_dir/data, log in data_dir/kafka.log. node.id and the overrides
    go to its server.properties; kafka-ref picks the ports (so `listeners`
    cannot be set) and sets group.initial.rebalance.delay.ms=0, Gregor's
    default. Kafka's shutdown takes seconds: STOP_DEADLINE is Gregor's."""

    # set by scripts/kafka-ref itself
    KAFKA_REF_KEYS = ("listeners", "advertised.listeners", "listener.security.protocol.map",
                               "controller.listener.names", "log.dirs", "log.dir", "process.roles")

    def __init__(self, node_id=1, data_dir=None, overrides=None, env=None):
        super().__init__(node_id=node_id, data_dir=data_dir, overrides=overrides, env=env)
        self._log_from = 0
        for key in self.overrides:
            if key.startswith("gregor.") or key in self.KAFKA_REF_KEYS:
                raise AssertionError("override %s cannot go to the Kafka node (scripts/kafka-ref): "
                                     "mark the test @gregor_only" % key)

    def args(self):
        conf = {"node.id": str(self.node_id)}
        conf.update(self.overrides)
        return ["%s=%s" % kv for kv in conf.items()]

    def _kafka_ref(self, *args, timeout):
        return subprocess.run([KAFKA_REF] + list(args), stdin=subprocess.DEVNULL, capture_output=True,
                              text=True, timeout=timeout,
                              env=clean_env({"KAFKA_REF_VERSION": KAFKA_TARGETS[target()]}))

    def start(self):
        self.proc = None
        self.log_path = os.path.join(self.data_dir, "kafka.log")
        try:
            self._log_from = os.path.getsize(self.log_path)
        except OSError:
            self._log_from = 0
        try:
            p = self._kafka_ref("start", self.data_dir, *self.args(), timeout=KAFKA_START_DEADLINE)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError("scripts/kafka-ref start did not finish within %.0f s; log:\n%s"
                                 % (KAFKA_START_DEADLINE, self.log()[-5000:]))
        if p.returncode != 0:
            self.kill()
            raise AssertionError("scripts/kafka-ref start %s failed (%d): %s"
                                 % (self.data_dir, p.returncode, p.stderr[-5000:]))
        hostport = p.stdout.strip().splitlines()[-1]
        host, port = hostport.rsplit(":", 1)
        self.host, self.port = host, int(port)
        with open(os.path.join(self.data_dir, "pid")) as f:
            self.proc = _KafkaProcess(int(f.read().strip()))
        return self

    def log(self):
        """Kafka's log since this start."""
        if not self.log_path:
            return ""
        try:
            with open(self.log_path, "rb") as f:
                f.seek(self._log_from)
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    def closing_reason(self, local_port, deadline=LOG_DEADLINE):
        raise AssertionError("closing_reason reads Gregor's log: mark the test @gregor_only")

    def stop(self):
        """scripts/kafka-ref stop (SIGTERM, up to 60 s, then SIGKILL): the
        node must go without being killed."""
        if not self.proc or self.proc.poll() is not None:
            return
        t0 = time.monotonic()
        p = self._kafka_ref("stop", self.data_dir, timeout=KAFKA_STOP_DEADLINE)
        elapsed = time.monotonic() - t0
        if p.returncode != 0 or "SIGKILL" in p.stderr:
            raise AssertionError("scripts/kafka-ref stop failed (%d): %s" % (p.returncode, p.stderr))
        self.proc.wait(10)
        return elapsed

    def kill(self):
        if self.proc:
            self.proc.kill()
            self.proc.wait(30)
            return
        # A start that failed half way: kafka-ref may have left a node behind.
        if os.path.exists(os.path.join(self.data_dir, "pid")):
            self._kafka_ref("stop", self.data_dir, timeout=KAFKA_STOP_DEADLINE)

    def cleanup(self):
        self.kill()
        if self._own_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)
        self.log_path = None


class GregorBroker(Broker):
    """Gregor whatever the target, for tests about Gregor itself (its data
    directory, its binary) that run under GREGOR_TEST_TARGET=kafka too."""


class BrokerTestCase(unittest.TestCase):
    """One broker for a test class: started before its first test, stopped
    after its last (stop() checks a clean exit within a second). BROKER_ARGS
    are Broker's keyword arguments; OVERRIDES, when set, become its
    overrides (subclasses of a test class often change only those);
    after_start() runs once the broker is up, for fixtures."""

    BROKER_ARGS = {}
    OVERRIDES = None

    @classmethod
    def setUpClass(cls):
        args = dict(cls.BROKER_ARGS)
        if cls.OVERRIDES is not None:
            args["overrides"] = cls.OVERRIDES
        cls.broker = Broker(**args)
        try:
            cls.broker.start()
            cls.after_start()
        except BaseException:
            cls.broker.cleanup()
            raise

    @classmethod
    def after_start(cls):
        pass

    @classmethod
    def tearDownClass(cls):
        try:
            cls.broker.stop()
        finally:
            cls.broker.cleanup()

    def conn(self):
        from kwire import Conn
        return Conn(self.broker.host, self.broker.port)
