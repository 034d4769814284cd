"""Several listeners: each binds its own port, and Metadata answers a client
with the advertised address of the listener it connected to. Listener names
go through listener.security.protocol.map; controller listeners are skipped;
an SSL listener is refused at startup (PLAINTEXT only so far)."""

import subprocess
import unittest

import broker as broker_mod
from broker import Broker, clean_env, free_port, gregor_bin, gregor_only
from kwire import Conn


class ListenersTest(unittest.TestCase):
    @gregor_only("sets listeners, which scripts/kafka-ref picks for the Kafka node, and reads Gregor's log line")
    def test_two_listeners_advertise_their_own_address(self):
        p1, p2 = free_port(), free_port()
        b = Broker(overrides={
            "listeners": "PLAINTEXT://127.0.0.1:%d,INTERNAL://127.0.0.1:%d,CONTROLLER://127.0.0.1:%d"
                         % (p1, p2, free_port()),
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,INTERNAL:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "controller.listener.names": "CONTROLLER",
            "advertised.listeners": "PLAINTEXT://public.example:19092,INTERNAL://internal.example:29092",
        })
        real_free_port = broker_mod.free_port
        broker_mod.free_port = lambda: p1  # the harness waits on the first listener
        try:
            b.start()
            broker_mod.free_port = real_free_port
            for port, host, adv in ((p1, "public.example", 19092), (p2, "internal.example", 29092)):
                with Conn("127.0.0.1", port) as c:
                    md = c.metadata(9, topics=[])
                    self.assertEqual([(x["host"], x["port"]) for x in md["brokers"]], [(host, adv)])
            self.assertIn("ignoring controller listener CONTROLLER", b.log())
        finally:
            broker_mod.free_port = real_free_port
            b.stop()
            b.cleanup()

    @gregor_only("runs the gregor binary: Gregor refuses SSL listeners, which Kafka supports")
    def test_ssl_listener_refused(self):
        r = subprocess.run([gregor_bin(), "--override", "listeners=SSL://127.0.0.1:%d" % free_port(),
                            "--override", "log.dirs=/tmp/gregor-it-ssl-refused"],
                           env=clean_env(), capture_output=True, text=True, timeout=10)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("SSL", r.stderr)
        self.assertIn("not support", r.stderr)


if __name__ == "__main__":
    unittest.main()
