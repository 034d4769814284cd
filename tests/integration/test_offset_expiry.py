"""Committed offsets that go away, as in Kafka 4.4: offsets.retention.minutes
after a group became Empty (for a group with a protocol type) or after each
commit (a group used only for offsets), checked every
offsets.retention.check.interval.ms; the offsets of a deleted topic at once,
so that a topic created again under the same name has none. Both are
tombstones in __consumer_offsets: a restart does not bring them back.

OffsetFetch (v8, raw, naming the partitions) answers offset -1 for a
partition with no committed offset. Every wait is a poll for a condition
with a deadline (broker.wait_until).
"""

import shutil
import tempfile
import time
import unittest

from broker import Broker, wait_until
from kwire import Conn
from test_groups import (GROUP_DEADLINE, ck_consumer, create_topic, decode_describe_groups_v0,
                         decode_offset_fetch_v8, describe_groups_v0, offset_fetch_v8, wait_group_coordinator)

NODE_ID = 3
RETENTION_S = 60  # offsets.retention.minutes=1, Kafka's minimum
EXPIRY_DEADLINE = RETENTION_S + 60.0


class _RestartableBroker(unittest.TestCase):
    """One broker per test, in a data directory that outlives its restarts."""

    OVERRIDES = {}

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="gregor-it-offexp-")
        self.broker = None

    def tearDown(self):
        if self.broker:
            self.broker.cleanup()
        shutil.rmtree(self.dir, ignore_errors=True)

    def start(self):
        self.broker = Broker(node_id=NODE_ID, data_dir=self.dir, overrides=self.OVERRIDES)
        self.broker.start()
        return self.broker.bootstrap

    def restart(self):
        self.broker.stop()
        return self.start()

    def fetch(self, group, topic, partitions):
        """{partition: committed offset, -1 for none} by OffsetFetch v8."""
        wait_group_coordinator(self.broker.host, self.broker.port, group)
        with Conn(self.broker.host, self.broker.port) as c:
            c.send(offset_fetch_v8([(group, [(topic, partitions)])]))
            err, offs = decode_offset_fetch_v8(c.recv_frame())[group]
        self.assertEqual(err, 0)
        return {p: offs[(topic, p)][0] for p in partitions}

    def commit_only(self, bs, group, topic, offsets):
        """Commit outside any generation (assign, no subscribe): a group with
        no protocol type, as Sarama's offset manager uses."""
        from confluent_kafka import TopicPartition
        c = ck_consumer(bs, group)
        try:
            c.commit(offsets=[TopicPartition(topic, p, o) for p, o in offsets.items()], asynchronous=False)
        finally:
            c.close()

    def state(self, group):
        with Conn(self.broker.host, self.broker.port) as c:
            c.send(describe_groups_v0([group]))
            return decode_describe_groups_v0(c.recv_frame())[0]["state"]


class OffsetExpiryTest(_RestartableBroker):
    OVERRIDES = {"offsets.retention.minutes": "1", "offsets.retention.check.interval.ms": "500"}

    def test_offsets_expire_after_retention(self):
        """A group used only for offsets loses them a retention after the
        commit; a consumer group a retention after its last member left (and
        then the group itself); a group with a live member subscribed to the
        topic keeps them. After a restart the expired ones stay gone."""
        from confluent_kafka import TopicPartition
        bs = self.start()
        create_topic(bs, "exp", 2)
        self.commit_only(bs, "exp-simple", "exp", {0: 3})
        committed_at = time.monotonic()

        def joined(group):
            c = ck_consumer(bs, group)
            c.subscribe(["exp"])
            wait_until(lambda: c.poll(0.05) is None and len(c.assignment()) == 2, GROUP_DEADLINE,
                       "%s assigned both partitions" % group)
            c.commit(offsets=[TopicPartition("exp", p, 4 + p) for p in range(2)], asynchronous=False)
            return c

        c = joined("exp-empty")
        c.close()  # LeaveGroup: Empty from now on
        empty_at = time.monotonic()
        live = joined("exp-live")
        try:
            self.assertEqual(self.fetch("exp-simple", "exp", [0]), {0: 3})
            self.assertEqual(self.fetch("exp-empty", "exp", [0, 1]), {0: 4, 1: 5})
            self.assertEqual(self.state("exp-empty"), "Empty")

            def expired(group, partitions):
                live.poll(0)
                return all(o == -1 for o in self.fetch(group, "exp", partitions).values())
            wait_until(lambda: expired("exp-simple", [0]), EXPIRY_DEADLINE, "exp-simple's offsets expired",
                       interval=0.5)
            self.assertGreaterEqual(time.monotonic() - committed_at, RETENTION_S - 2)
            wait_until(lambda: expired("exp-empty", [0, 1]), EXPIRY_DEADLINE, "exp-empty's offsets expired",
                       interval=0.5)
            self.assertGreaterEqual(time.monotonic() - empty_at, RETENTION_S - 2)
            wait_until(lambda: self.state("exp-empty") == "Dead", 10.0, "exp-empty deleted", interval=0.2)
            live.poll(0)
            self.assertEqual(self.fetch("exp-live", "exp", [0, 1]), {0: 4, 1: 5})
        finally:
            live.close()

        self.restart()
        self.assertEqual(self.fetch("exp-simple", "exp", [0]), {0: -1})
        self.assertEqual(self.fetch("exp-empty", "exp", [0, 1]), {0: -1, 1: -1})


class DeletedTopicOffsetsTest(_RestartableBroker):
    """Default retention: nothing expires during the test."""

    def delete_and_recreate(self, bs, topic, partitions):
        from confluent_kafka.admin import AdminClient, NewTopic
        admin = AdminClient({"bootstrap.servers": bs})
        for _, f in admin.delete_topics([topic], operation_timeout=10, request_timeout=15).items():
            f.result(timeout=15)

        def created():  # Kafka finishes a deletion in the background
            try:
                for _, f in admin.create_topics([NewTopic(topic, partitions, 1)]).items():
                    f.result(timeout=10)
                return True
            except Exception as e:  # TOPIC_ALREADY_EXISTS while the deletion completes
                if "already exists" not in str(e).lower() and "marked for deletion" not in str(e).lower():
                    raise
                return False
        wait_until(created, 30.0, "%s created again" % topic, interval=0.2)

    def test_deleted_topic_offsets_removed(self):
        """Deleting a topic removes every group's offsets for it: the topic
        created again under the same name has none, before and after a
        restart; the groups' offsets of other topics stay."""
        bs = self.start()
        create_topic(bs, "gone", 2)
        create_topic(bs, "kept", 1)
        self.commit_only(bs, "del-a", "gone", {0: 5, 1: 6})
        self.commit_only(bs, "del-b", "gone", {0: 7})
        self.commit_only(bs, "del-b", "kept", {0: 8})
        self.assertEqual(self.fetch("del-a", "gone", [0, 1]), {0: 5, 1: 6})

        self.delete_and_recreate(bs, "gone", 2)
        wait_until(lambda: self.fetch("del-a", "gone", [0, 1]) == {0: -1, 1: -1}, 10.0, "del-a's offsets removed",
                   interval=0.2)
        self.assertEqual(self.fetch("del-b", "gone", [0]), {0: -1})
        self.assertEqual(self.fetch("del-b", "kept", [0]), {0: 8})

        self.restart()
        self.assertEqual(self.fetch("del-a", "gone", [0, 1]), {0: -1, 1: -1})
        self.assertEqual(self.fetch("del-b", "gone", [0]), {0: -1})
        self.assertEqual(self.fetch("del-b", "kept", [0]), {0: 8})


if __name__ == "__main__":
    unittest.main()
