"""A transaction older than its transaction.timeout.ms is aborted by the
coordinator (issue 14), with an epoch bump that fences its producer, as
Kafka's TransactionCoordinator does: the check runs every
transaction.abort.timed.out.transaction.cleanup.interval.ms. Afterwards a
read_committed reader's last stable offset is past the ABORT marker, the
records never become visible, and the stalled producer cannot commit.
Runs against Kafka too (the same keys)."""

import time
import unittest

from broker import BrokerTestCase, wait_until
from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

DEADLINE = 30.0


class TxnTimeoutTest(BrokerTestCase):
    OVERRIDES = {"transaction.abort.timed.out.transaction.cleanup.interval.ms": "200"}

    def test_timed_out_transaction_is_aborted_and_fenced(self):
        topic = "txn-timeout"
        bootstrap = "%s:%d" % (self.broker.host, self.broker.port)
        admin = AdminClient({"bootstrap.servers": bootstrap})
        for f in admin.create_topics([NewTopic(topic, 1, 1)]).values():
            f.result(timeout=DEADLINE)
        p = Producer({"bootstrap.servers": bootstrap, "transactional.id": "txn-timeout-1",
                      "transaction.timeout.ms": 1000})
        p.init_transactions(DEADLINE)
        p.begin_transaction()
        for i in range(5):
            p.produce(topic, value=b"t%d" % i, partition=0)
        p.flush(DEADLINE)
        c = Consumer({"bootstrap.servers": bootstrap, "group.id": "txn-timeout-reader",
                      "isolation.level": "read_committed", "enable.auto.commit": False})
        try:
            tp = TopicPartition(topic, 0)
            # Open: the LSO is the transaction's first offset.
            self.assertEqual(c.get_watermark_offsets(tp, timeout=DEADLINE, cached=False)[1], 0)
            # The coordinator aborts it: 5 records and the ABORT marker.
            wait_until(lambda: c.get_watermark_offsets(tp, timeout=DEADLINE, cached=False)[1] == 6, DEADLINE,
                       "the LSO past the coordinator's ABORT marker")
            c.assign([TopicPartition(topic, 0, 0)])
            got = [m for m in c.consume(10, 2.0) if not m.error()]
            self.assertEqual(got, [], "records of the aborted transaction were visible")
        finally:
            c.close()
        with self.assertRaises(KafkaException):
            p.commit_transaction(10)


if __name__ == "__main__":
    unittest.main()
