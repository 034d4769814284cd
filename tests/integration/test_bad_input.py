"""Malformed input: each case on its own connection. The broker must close
that connection, log why ("closing connection from <peer>: <reason>"), and
keep serving everyone else: after every case a fresh connection still gets
a valid ApiVersions answer.

Kafka closes the connection in every case too; the logged reasons are
Gregor's, checked only against Gregor."""

import random
import socket
import struct
import time
import unittest

import kwire
from broker import BrokerTestCase, on_kafka

MAX_REQUEST = 1000  # socket.request.max.bytes for this broker


class BadInputTest(BrokerTestCase):
    BROKER_ARGS = dict(overrides={"socket.request.max.bytes": str(MAX_REQUEST)})

    def assert_still_serving(self):
        with self.conn() as c:
            resp = c.api_versions(3, correlation_id=4242)
        self.assertEqual(resp["correlation_id"], 4242)
        self.assertEqual(resp["error_code"], 0)

    def closing_reason(self, port, reason_part):
        """Gregor's logged reason for closing the connection from `port`,
        which must contain `reason_part`; None against Kafka, whose log
        has no such line."""
        if on_kafka():
            return None
        reason = self.broker.closing_reason(port)
        self.assertIn(reason_part, reason)
        return reason

    def send_bad(self, data, reason_part, shut_wr=False):
        """Send `data` on a fresh connection; the broker must close it
        without answering and (Gregor) log a reason containing `reason_part`."""
        with self.conn() as c:
            port = c.local_port
            c.send(data)
            if shut_wr:
                c.sock.shutdown(socket.SHUT_WR)
            got = c.wait_closed()
        self.assertEqual(got, b"", "the broker answered a bad request")
        reason = self.closing_reason(port, reason_part)
        self.assert_still_serving()
        return reason

    def test_random_bytes(self):
        rng = random.Random(20240611)
        data = bytes(rng.randrange(256) for _ in range(300))
        # Half-close after the garbage: whatever the bytes claim, the broker
        # must then close (possibly as "closed in the middle of a request").
        self.send_bad(data, "", shut_wr=True)

    def test_http_request(self):
        # "GET " read as a frame size is ~1.2 GB.
        self.send_bad(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", "exceeds socket.request.max.bytes")

    def test_negative_frame_size(self):
        self.send_bad(struct.pack(">i", -2) + b"\x00" * 16, "invalid frame size -2")

    def test_frame_size_zero(self):
        self.send_bad(struct.pack(">i", 0), "invalid frame size 0")

    def test_frame_size_three(self):
        self.send_bad(struct.pack(">i", 3) + b"\x00\x12\x00", "invalid frame size 3")

    def test_frame_size_over_max(self):
        # Only the size: the broker must not wait for a body it will refuse.
        reason = self.send_bad(struct.pack(">i", MAX_REQUEST + 1), "exceeds socket.request.max.bytes")
        if reason is not None:
            self.assertIn(str(MAX_REQUEST), reason)

    def test_frame_size_at_max_is_read(self):
        # A frame of exactly the maximum is accepted and answered.
        with self.conn() as c:
            c.send(kwire.padded_api_versions_request(77, MAX_REQUEST))
            resp = kwire.decode_api_versions_response(3, c.recv_frame())
        self.assertEqual((resp["correlation_id"], resp["error_code"]), (77, 0))

    def test_truncated_header(self):
        self.send_bad(struct.pack(">i", 6) + b"\x00\x12\x00\x03\x00\x00", "invalid frame size 6")

    def test_truncated_client_id(self):
        # A frame long enough for the fixed header whose client id claims
        # more bytes than the frame has.
        payload = struct.pack(">hhih", 18, 1, 1, 50) + b"abc"
        self.send_bad(kwire.frame(payload), "malformed ApiVersions v1 request header")

    def test_truncated_body(self):
        # Metadata v4 claiming 1000 topics in a 20-byte frame.
        payload = kwire.request_header(3, 4, 9, "") + struct.pack(">i", 1000)
        payload += b"\x00" * (20 - len(payload))
        self.assertEqual(len(payload), 20)
        self.send_bad(kwire.frame(payload), "malformed Metadata v4 request")

    def test_unknown_api_key(self):
        payload = struct.pack(">hhi", 9999, 0, 1) + kwire.string("x")
        self.send_bad(kwire.frame(payload), "unknown API key 9999")

    def test_unknown_metadata_version(self):
        # A version outside the schema for an API other than ApiVersions.
        payload = struct.pack(">hhi", 3, 99, 1) + kwire.string("x")
        self.send_bad(kwire.frame(payload), "Metadata v99")

    def test_client_disconnects_mid_frame(self):
        with self.conn() as c:
            port = c.local_port
            c.send(struct.pack(">i", 100) + b"\x00\x03\x00\x04\x00\x00\x00\x01")
        self.closing_reason(port, "in the middle of a request")
        self.assert_still_serving()

    def test_slow_client(self):
        # A valid request one byte per write; the pause between bytes is the
        # stimulus (each byte its own segment), not a wait for the broker.
        req = kwire.api_versions_request(3, 31337)
        with self.conn() as c:
            for i in range(len(req)):
                c.send(req[i:i + 1])
                time.sleep(0.002)
            resp = kwire.decode_api_versions_response(3, c.recv_frame())
        self.assertEqual((resp["correlation_id"], resp["error_code"]), (31337, 0))

    def test_garbage_interleaved_with_valid_traffic(self):
        # Connection A dribbles a frame that will turn out to be garbage,
        # connection C sends outright garbage mid-way, while B keeps sending
        # valid requests; every request on B is answered, A and C are closed.
        bad_payload = struct.pack(">hhi", 9999, 0, 1) + b"\xAB" * 92
        bad = kwire.frame(bad_payload)
        with self.conn() as a, self.conn() as b:
            a_port = a.local_port
            corr = 0
            for i in range(0, len(bad), 10):
                a.send(bad[i:i + 10])
                if i == 50:
                    with self.conn() as c:
                        c_port = c.local_port
                        c.send(struct.pack(">i", -7) + b"junk")
                        self.assertEqual(c.wait_closed(), b"")
                for v in (0, 3):
                    corr += 1
                    resp = b.api_versions(v, correlation_id=corr)
                    self.assertEqual((resp["correlation_id"], resp["error_code"]), (corr, 0))
                corr += 1
                resp = b.metadata(9, correlation_id=corr)
                self.assertEqual(resp["correlation_id"], corr)
                self.assertEqual(len(resp["brokers"]), 1)
            self.assertEqual(a.wait_closed(), b"")
            self.closing_reason(a_port, "unknown API key 9999")
            self.closing_reason(c_port, "invalid frame size -7")
            # B is still fine after both were closed.
            resp = b.api_versions(4, correlation_id=999)
            self.assertEqual((resp["correlation_id"], resp["error_code"]), (999, 0))


if __name__ == "__main__":
    unittest.main()
