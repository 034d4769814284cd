"""
acks=all and the flusher: many produce requests pipelined on one connection
over several partitions, each partition synced on its own while the others
are, answers in request order with contiguous offsets; a topic deleted while
its acks=all requests wait; SIGTERM while they wait.
"""

import os
import shutil
import tempfile
import threading
import unittest

from broker import Broker, wait_until
from test_admin import create_topics_v7, delete_topics_v1
from test_data import (BrokerCase, RawClient, build_batch, decode_produce_response, produce_request)

PARTITIONS = 8
ROUNDS = 40
E_NONE = 0


def pipeline(c, topic, rounds, partitions, first_cid=1):
    """Send rounds x partitions acks=-1 requests without waiting, one
    partition per request; return [(cid, partition, count)] in send order."""
    sent, frames = [], []
    cid = first_cid
    for r in range(rounds):
        for p in range(partitions):
            n = 1 + (r + p) % 3
            values = [b"r%d p%d m%d" % (r, p, i) for i in range(n)]
            frames.append(produce_request(7, cid, topic, p, build_batch(values)))
            sent.append((cid, p, n))
            cid += 1
    c.send(b"".join(frames))
    return sent


class PipelinedAcksAllTest(BrokerCase):
    OVERRIDES = {"num.partitions": str(PARTITIONS)}

    def test_answers_in_order_with_contiguous_offsets(self):
        topic = "flush-pipeline"
        with self.raw() as c:
            self.assertEqual(c.wait_topic(topic), PARTITIONS)  # auto-created
            sent = pipeline(c, topic, ROUNDS, PARTITIONS)
            next_offset = {p: 0 for p in range(PARTITIONS)}
            for cid, p, n in sent:
                resp = decode_produce_response(7, c.recv_frame())
                self.assertEqual(resp["correlation_id"], cid)
                part = resp["topics"][0]["partitions"][0]
                self.assertEqual((part["index"], part["error_code"]), (p, E_NONE))
                self.assertEqual(part["base_offset"], next_offset[p], "partition %d" % p)
                next_offset[p] += n
        for p in range(PARTITIONS):
            self.assertEqual(self.high_watermark(topic, p), next_offset[p])


class DeleteWhileWaitingTest(BrokerCase):
    OVERRIDES = {"auto.create.topics.enable": "false"}

    def create(self, topic):
        res = create_topics_v7(self.broker, [(topic, PARTITIONS, 1, None, None)])
        self.assertEqual(res[0]["error"], E_NONE, res)
        with self.raw() as c:  # Kafka's broker serves it a moment after the answer
            self.assertEqual(c.wait_topic(topic, create=False), PARTITIONS)

    def test_delete_topic_under_acks_all_load(self):
        topic = "flush-delete"
        self.create(topic)
        with self.raw() as c:
            sent = pipeline(c, topic, ROUNDS, PARTITIONS)
            res = delete_topics_v1(self.broker, [topic])
            self.assertEqual(res, [{"name": topic, "error": E_NONE}])
            # Every request is answered, in order: either it was synced
            # before the deletion, or it gets an error (the partition went
            # away while it waited, or it came after the deletion).
            for cid, p, _ in sent:
                resp = decode_produce_response(7, c.recv_frame())
                self.assertEqual(resp["correlation_id"], cid)
                part = resp["topics"][0]["partitions"][0]
                if part["error_code"] != E_NONE:
                    self.assertEqual(part["base_offset"], -1)
        # Still serving, and the name can be used again.
        self.create(topic)
        with self.raw() as c:
            part = c.produce(topic, 0, build_batch([b"again"]))
            self.assertEqual((part["error_code"], part["base_offset"]), (E_NONE, 0))


class StopWhileWaitingTest(unittest.TestCase):
    def test_sigterm_with_acks_all_requests_waiting(self):
        tmp = tempfile.mkdtemp(prefix="gregor-flush-stop-")
        topic = "flush-stop"
        acked = {p: 0 for p in range(PARTITIONS)}
        try:
            b = Broker(data_dir=tmp, overrides={"num.partitions": str(PARTITIONS)})
            b.start()
            try:
                with RawClient(b.host, b.port) as c:
                    self.assertEqual(c.wait_topic(topic), PARTITIONS)  # auto-created
                    sent = pipeline(c, topic, ROUNDS, PARTITIONS)
                    answers = []

                    def read_answers():
                        try:
                            for _ in sent:
                                answers.append(decode_produce_response(7, c.recv_frame()))
                        except (ConnectionError, OSError):
                            pass

                    reader = threading.Thread(target=read_answers)
                    reader.start()
                    wait_until(lambda: answers, 5.0, "the first answer")
                    b.stop()  # exits 0 within the deadline with requests waiting
                    reader.join(10.0)
                    self.assertFalse(reader.is_alive())
                for (cid, p, n), resp in zip(sent, answers):
                    self.assertEqual(resp["correlation_id"], cid)
                    part = resp["topics"][0]["partitions"][0]
                    if part["error_code"] == E_NONE:
                        self.assertEqual(part["base_offset"], acked[p])
                        acked[p] += n
                self.assertGreater(sum(acked.values()), 0)
            finally:
                b.cleanup()
            # Everything acknowledged is there after a restart.
            b = Broker(data_dir=tmp, overrides={"num.partitions": str(PARTITIONS)})
            b.start()
            try:
                for p in range(PARTITIONS):
                    with RawClient(b.host, b.port) as c:
                        hw = c.fetch(topic, p, 0)["high_watermark"]
                    self.assertGreaterEqual(hw, acked[p], "partition %d" % p)
                b.stop()
            finally:
                b.cleanup()
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    unittest.main()
