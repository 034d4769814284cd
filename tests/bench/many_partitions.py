#!/usr/bin/env python3
"""Descriptors, mappings, RSS and start-up time of a broker with many
partitions (issue 18): creates TOPICS x PARTS partitions, produces one
record to each (RECORDS with --records), restarts the broker and fetches
every record back.

    GREGOR_BIN=build/broker/gregor python3 tests/bench/many_partitions.py \
        --topics 2000 --parts 5 [--segment-bytes 14 --records 20] [--nofile 4096]

Prints one line per phase: open fds (total, .log, index files), mappings of
the data directory, VmRSS, and the start-up time from the broker's own
'started in' log line. Gregor-only (reads /proc of the gregor process).
"""
import argparse
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "integration"))
from broker import free_port, gregor_bin, clean_env  # noqa: E402


def proc_stats(pid, data):
    fds = logs = idx = 0
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            t = os.readlink("/proc/%d/fd/%s" % (pid, fd))
        except OSError:
            continue
        fds += 1
        logs += t.endswith(".log")
        idx += t.endswith("index")
    maps = 0
    with open("/proc/%d/maps" % pid) as f:
        for line in f:
            maps += data in line
    rss = 0
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1]) // 1024
    return "fds %d (.log %d, index %d), data-dir mappings %d, RSS %d MiB" % (fds, logs, idx, maps, rss)


class Gregor:
    def __init__(self, data, overrides, nofile):
        self.data, self.overrides, self.nofile = data, overrides, nofile
        self.port = free_port()
        self.proc = None

    def start(self):
        args = [gregor_bin(), "--override", "node.id=1", "--override",
                "listeners=PLAINTEXT://127.0.0.1:%d" % self.port, "--override", "log.dirs=" + self.data]
        for k, v in self.overrides.items():
            args += ["--override", "%s=%s" % (k, v)]
        self.logf = tempfile.NamedTemporaryFile(prefix="gregor-bench-", suffix=".log", delete=False)

        def limit():
            if self.nofile:
                resource.setrlimit(resource.RLIMIT_NOFILE, (self.nofile, self.nofile))
        self.proc = subprocess.Popen(args, stdout=self.logf, stderr=self.logf, env=clean_env(), preexec_fn=limit)
        deadline = time.time() + 600
        while time.time() < deadline:
            text = open(self.logf.name, errors="replace").read()
            m = re.search(r"started in ([0-9.]+) ms", text)
            if m:
                return float(m.group(1))
            if self.proc.poll() is not None:
                raise SystemExit("gregor exited %d:\n%s" % (self.proc.returncode, text[-3000:]))
            time.sleep(0.05)
        raise SystemExit("gregor did not start")

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=600)

    @property
    def bootstrap(self):
        return "127.0.0.1:%d" % self.port


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--topics", type=int, default=2000)
    ap.add_argument("--parts", type=int, default=5)
    ap.add_argument("--records", type=int, default=1)
    ap.add_argument("--segment-bytes", type=int, default=0)
    ap.add_argument("--nofile", type=int, default=0)
    ap.add_argument("--batch", type=int, default=200, help="topics per CreateTopics request")
    a = ap.parse_args()
    from confluent_kafka import Consumer, Producer, TopicPartition
    from confluent_kafka.admin import AdminClient, NewTopic

    root = tempfile.mkdtemp(prefix="gregor-bench-")
    data = os.path.join(root, "data")
    overrides = {}
    if a.segment_bytes:
        overrides["log.segment.bytes"] = str(a.segment_bytes)
    g = Gregor(data, overrides, a.nofile)
    try:
        ms = g.start()
        print("empty broker: started in %.1f ms; %s" % (ms, proc_stats(g.proc.pid, data)), flush=True)
        admin = AdminClient({"bootstrap.servers": g.bootstrap})
        names = ["mp-%05d" % i for i in range(a.topics)]
        t0 = time.time()
        failed = 0
        for i in range(0, len(names), a.batch):
            fs = admin.create_topics([NewTopic(n, a.parts, 1) for n in names[i:i + a.batch]],
                                     operation_timeout=120, request_timeout=300)
            for n, f in fs.items():
                try:
                    f.result()
                except Exception as e:  # noqa: BLE001
                    failed += 1
                    if failed < 3:
                        print("create %s: %s" % (n, e))
        print("created %d partitions (%d topics failed) in %.1f s; %s"
              % (a.topics * a.parts, failed, time.time() - t0, proc_stats(g.proc.pid, data)), flush=True)
        p = Producer({"bootstrap.servers": g.bootstrap, "linger.ms": 5, "acks": 1,
                      "queue.buffering.max.messages": 1000000, "topic.metadata.refresh.interval.ms": -1})
        t0 = time.time()
        for r in range(a.records):
            for n in names:
                for k in range(a.parts):
                    p.produce(n, value=b"%s/%d/%d" % (n.encode(), k, r), partition=k)
                    p.poll(0)
            p.flush(300)  # one batch per partition per round: with a tiny segment.bytes, one segment each
        assert p.flush(300) == 0
        print("produced %d record(s) to each partition in %.1f s; %s"
              % (a.records, time.time() - t0, proc_stats(g.proc.pid, data)), flush=True)
        g.stop()
        ms = g.start()
        print("restart: started in %.1f ms; %s" % (ms, proc_stats(g.proc.pid, data)), flush=True)
        c = Consumer({"bootstrap.servers": g.bootstrap, "group.id": "bench", "enable.auto.commit": False,
                      "fetch.wait.max.ms": 10})
        tps = [TopicPartition(n, k, 0) for n in names for k in range(a.parts)]
        c.assign(tps)
        want = a.topics * a.parts * a.records
        got = 0
        t0 = time.time()
        while got < want and time.time() - t0 < 600:
            for m in c.consume(10000, timeout=1.0):
                if m.error() is None:
                    got += 1
        c.close()
        print("fetched %d of %d record(s) after the restart in %.1f s; %s"
              % (got, want, time.time() - t0, proc_stats(g.proc.pid, data)), flush=True)
        g.stop()
        return 0 if got == want and failed == 0 else 1
    finally:
        if g.proc and g.proc.poll() is None:
            g.proc.kill()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
