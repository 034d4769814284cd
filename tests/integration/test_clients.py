"""Real Kafka clients against one broker: kcat, confluent_kafka (librdkafka)
and kafka-python all see one broker that is its own controller."""

import json
import subprocess
import unittest

from broker import BrokerTestCase

NODE_ID = 7


class ClientTest(BrokerTestCase):
    BROKER_ARGS = dict(node_id=NODE_ID)

    def kcat(self, *args):
        p = subprocess.run(["kcat", "-b", self.broker.bootstrap, "-m", "10"] + list(args),
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, 0, "kcat %s failed: %s" % (" ".join(args), p.stderr))
        return p.stdout

    def test_kcat_metadata_json(self):
        md = json.loads(self.kcat("-L", "-J"))
        self.assertEqual(md["brokers"], [{"id": NODE_ID, "name": self.broker.bootstrap}])
        self.assertEqual(md["controllerid"], NODE_ID)
        self.assertEqual(md["originating_broker"]["id"], NODE_ID)
        self.assertEqual(md["topics"], [])

    def test_kcat_metadata_text(self):
        out = self.kcat("-L")
        self.assertIn("broker %d at %s" % (NODE_ID, self.broker.bootstrap), out)
        self.assertIn("1 brokers", out)
        self.assertIn("0 topics", out)

    def test_confluent_kafka_admin(self):
        from confluent_kafka.admin import AdminClient
        admin = AdminClient({"bootstrap.servers": self.broker.bootstrap})
        md = admin.list_topics(timeout=10)
        self.assertEqual(list(md.brokers), [NODE_ID])
        b = md.brokers[NODE_ID]
        self.assertEqual((b.host, b.port), (self.broker.host, self.broker.port))
        self.assertTrue(md.cluster_id)
        self.assertEqual(md.cluster_id, self.broker.cluster_id())
        self.assertEqual(md.controller_id, NODE_ID)
        self.assertEqual(md.orig_broker_id, NODE_ID)
        self.assertEqual(md.topics, {})

    def test_kafka_python_admin_describe_cluster(self):
        from kafka import KafkaAdminClient
        admin = KafkaAdminClient(bootstrap_servers=self.broker.bootstrap,
                                 api_version_auto_timeout_ms=10000)
        try:
            c = admin.describe_cluster()
        finally:
            admin.close()
        self.assertEqual(len(c["brokers"]), 1)
        b = c["brokers"][0]
        self.assertEqual((b["node_id"], b["host"], b["port"]), (NODE_ID, self.broker.host, self.broker.port))
        self.assertEqual(c["controller_id"], NODE_ID)
        self.assertEqual(c["cluster_id"], self.broker.cluster_id())

    def test_kafka_python_consumer_topics(self):
        from kafka import KafkaConsumer
        consumer = KafkaConsumer(bootstrap_servers=self.broker.bootstrap,
                                 api_version_auto_timeout_ms=10000)
        try:
            self.assertEqual(consumer.topics(), set())
        finally:
            consumer.close()


if __name__ == "__main__":
    unittest.main()
