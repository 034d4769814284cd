"""A broker that dies between a transaction's PrepareCommit and its markers
completes the transaction when it starts again (issue 14): the test-only
fault point GREGOR_TEST_FAULT=txn-before-markers makes Gregor kill itself
(SIGKILL) 200 ms after it answered the first EndTxn, with PrepareCommit
durable in __transaction_state and no marker written. After the restart a
read_committed consumer must see the whole transaction, and the last
stable offset must reach the high watermark on every partition of it."""

import signal
import unittest

from broker import Broker, gregor_only, wait_until
from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

DEADLINE = 30.0


def read_committed(bootstrap, topic, partitions, want):
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "txn-recovery-reader",
                  "isolation.level": "read_committed", "enable.auto.commit": False,
                  "auto.offset.reset": "earliest"})
    try:
        c.assign([TopicPartition(topic, p, 0) for p in range(partitions)])
        got = []
        wait_until(lambda: got.extend(m.value() for m in c.consume(100, 0.5) if not m.error()) or len(got) >= want,
                   DEADLINE, "%d committed records" % want)
        return got
    finally:
        c.close()


@gregor_only("uses Gregor's test-only fault point GREGOR_TEST_FAULT")
class TxnRecoveryTest(unittest.TestCase):
    def test_prepare_commit_then_crash_ends_committed(self):
        topic, parts = "txn-recovery", 3
        b = Broker(env={"GREGOR_TEST_FAULT": "txn-before-markers"})
        try:
            b.start()
            bootstrap = "%s:%d" % (b.host, b.port)
            admin = AdminClient({"bootstrap.servers": bootstrap})
            for f in admin.create_topics([NewTopic(topic, parts, 1)]).values():
                f.result(timeout=DEADLINE)
            p = Producer({"bootstrap.servers": bootstrap, "transactional.id": "txn-recovery-1"})
            p.init_transactions(DEADLINE)
            p.begin_transaction()
            for i in range(30):
                p.produce(topic, value=b"r%02d" % i, partition=i % parts)
            p.flush(DEADLINE)
            try:
                p.commit_transaction(5)   # answered after PrepareCommit; the broker dies after
            except KafkaException:
                pass                      # the answer may be lost with the broker: not what is tested
            b.proc.wait(DEADLINE)
            self.assertEqual(b.proc.returncode, -signal.SIGKILL, b.log()[-2000:])
            self.assertIn("killing the broker (SIGKILL) before the markers", b.log())
            # Nothing committed is visible yet: no marker was written.
            b.env = None
            b.start()
            b.wait_for_log(r"completing the transactions a stop left between prepare and complete", DEADLINE)
            bootstrap = "%s:%d" % (b.host, b.port)
            got = read_committed(bootstrap, topic, parts, 30)
            self.assertEqual(sorted(got), [b"r%02d" % i for i in range(30)])
            c = Consumer({"bootstrap.servers": bootstrap, "group.id": "txn-recovery-lso",
                          "isolation.level": "read_committed"})
            try:
                for part in range(parts):
                    lo, hi = c.get_watermark_offsets(TopicPartition(topic, part), timeout=DEADLINE, cached=False)
                    # read_committed's high end is the LSO: past the marker.
                    self.assertEqual(hi, 11, "partition %d: LSO %d" % (part, hi))
            finally:
                c.close()
            del p
        finally:
            b.cleanup()


if __name__ == "__main__":
    unittest.main()
