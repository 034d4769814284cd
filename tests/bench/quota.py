#!/usr/bin/python3
"""A librdkafka producer (confluent_kafka) against a producer_byte_rate
quota of 1 MiB/s: the rate it achieves once throttled. Not a timed test:
it prints figures.

    GREGOR_BIN=build/broker/gregor python tests/bench/quota.py [seconds] [warmup]

(GREGOR_TEST_TARGET=kafka runs it against Kafka 4.4.) The quota is set on
the default client id with AlterClientQuotas; the producer sends 10 KiB
values as fast as it can for `seconds` (default 40). Both brokers let a
first burst through (Gregor's bucket holds quota.window.num windows, 11 s
of quota; Kafka's Rate counts at least quota.window.num - 1 windows): the
figure is the acknowledged value bytes per second after `warmup` seconds
(default 15), with the bytes acknowledged in each second and the throttle
times librdkafka saw. The issue asks for the achieved rate within 10% of
the quota. Kafka's rate lets ~10 MiB through again each time its oldest
sample expires, so its figure depends on where those bursts fall in the
measured span: run for a minute or more (`quota.py 60 15`).
"""

import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))

import kwire  # noqa: E402
import quotawire  # noqa: E402
from broker import Broker  # noqa: E402

QUOTA = 1048576.0
VALUE = 10240


def main():
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 40.0
    warmup = float(sys.argv[2]) if len(sys.argv) > 2 else 15.0
    from confluent_kafka import Producer
    import json
    with Broker(overrides={"auto.create.topics.enable": "true"}) as b:
        with kwire.Conn(b.host, b.port) as c:
            r = quotawire.alter(c, 1, [([("client-id", None)], [("producer_byte_rate", QUOTA, False)])], False)
            assert r["entries"][0]["error_code"] == 0, r
            c.wait_topic("quota-bench")
            end = time.monotonic() + 15
            while not quotawire.describe(c, 1, [("client-id", 1, None)], True)["entries"]:
                assert time.monotonic() < end, "the quota did not apply"
                time.sleep(0.05)
        acked = []  # (time, bytes)
        throttles = []

        def stats(js):
            for br in json.loads(js)["brokers"].values():
                if br.get("throttle", {}).get("max", 0) > 0:
                    throttles.append(br["throttle"]["max"])

        def delivered(err, msg):
            if err is None:
                acked.append((time.monotonic(), len(msg.value())))

        p = Producer({"bootstrap.servers": b.bootstrap, "client.id": "quota-bench", "acks": 1,
                      "linger.ms": 5, "statistics.interval.ms": 1000, "stats_cb": stats,
                      "queue.buffering.max.kbytes": 8192})
        value = b"q" * VALUE
        start = time.monotonic()
        while time.monotonic() - start < seconds:
            try:
                p.produce("quota-bench", value=value, callback=delivered)
            except BufferError:
                p.poll(0.05)
                continue
            p.poll(0)
        p.flush(30)
        t0 = start + warmup
        t1 = start + seconds
        steady = sum(n for t, n in acked if t0 <= t < t1)
        total = sum(n for _, n in acked)
        rate = steady / (t1 - t0)
        print("target %s, quota %.0f B/s, %d values of %d B acknowledged (%.1f MiB) in %.0f s"
              % (os.environ.get("GREGOR_TEST_TARGET", "gregor"), QUOTA, len(acked), VALUE, total / 1048576,
                 seconds))
        print("after %.0f s of warm-up: %.0f B/s = %.3f of the quota (%+.1f%%)"
              % (warmup, rate, rate / QUOTA, 100 * (rate / QUOTA - 1)))
        per = [0.0] * int(seconds + 1)
        for t, n in acked:
            i = int(t - start)
            if 0 <= i < len(per):
                per[i] += n
        print("acknowledged per second (MiB): %s" % " ".join("%.1f" % (x / 1048576) for x in per[:int(seconds)]))
        print("throttle times librdkafka reported (max per second, ms): %s" % (throttles[-5:] or "none"))


if __name__ == "__main__":
    main()
