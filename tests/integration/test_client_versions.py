"""The Java client 4.4 uses the NEWEST versions both sides have: for Produce,
Fetch, ListOffsets, Metadata, OffsetCommit, OffsetFetch, ApiVersions and
DescribeTopicPartitions (the admin client's describeTopics, by name, where
the broker advertises it), the
version of every request kafka-clients 4.4.0 sends (its NetworkClient's DEBUG
line "Sending X request with header RequestHeader(apiKey=X, apiVersion=N,
...)") must be min(the broker's maximum, the client's maximum): the broker's
from its ApiVersions v0 answer (raw socket), the client's from the message
schemas in the kafka-clients jar it runs with (validVersions, less one when
latestVersionUnstable). ApiVersions itself is first sent at the client's
maximum; a broker with a lower one answers with its range (error
UNSUPPORTED_VERSION) and the client asks again at min of the two: the last
ApiVersions sent must be that.

This is what shows that a version Gregor starts to advertise is used by a
real client; it runs against every target (Gregor, Kafka 4.4, Kafka 3.9.1)."""

import json
import os
import re
import subprocess
import zipfile

import kwire
from broker import BrokerTestCase
from test_modern_clients import clients_dir

# api key -> (name in RequestHeader, schema file in the jar)
APIS = {
    0: ("PRODUCE", "ProduceRequest"),
    1: ("FETCH", "FetchRequest"),
    2: ("LIST_OFFSETS", "ListOffsetsRequest"),
    3: ("METADATA", "MetadataRequest"),
    8: ("OFFSET_COMMIT", "OffsetCommitRequest"),
    9: ("OFFSET_FETCH", "OffsetFetchRequest"),
    18: ("API_VERSIONS", "ApiVersionsRequest"),
    75: ("DESCRIBE_TOPIC_PARTITIONS", "DescribeTopicPartitionsRequest"),
}
CAPS = "metadata,produce-consume-none,committed-offsets,list-offsets-time"
# The classic consumer (group.protocol=classic, the driver's) names topics:
# its coordinator builds OffsetCommit and OffsetFetch with forTopicNames,
# capped at v9; v10 names topics by id and comes with the KIP-848 consumer
# (ConsumerGroupHeartbeat), which Gregor does not serve yet.
CLASSIC_CONSUMER_MAX = {8: 9, 9: 9}
HEADER = re.compile(r"RequestHeader\(apiKey=([A-Z_]+), apiVersion=(\d+)")


def client_maximums(jar, apis=None):
    """api key -> the highest version kafka-clients (jar) sends by default."""
    out = {}
    with zipfile.ZipFile(jar) as z:
        for key, (_, schema) in (apis or APIS).items():
            text = z.read("common/message/%s.json" % schema).decode()
            text = "\n".join(l for l in text.splitlines() if not l.strip().startswith("//"))
            spec = json.loads(text)
            hi = int(spec["validVersions"].split("-")[-1])
            if spec.get("latestVersionUnstable"):
                hi -= 1
            out[key] = hi
    return out


def kafka_clients_jar():
    jdir = os.path.join(clients_dir(), "java")
    with open(os.path.join(jdir, "classpath.txt")) as f:
        jars = [j for j in f.read().strip().split(":") if re.search(r"/kafka-clients-[^/]*\.jar$", j)]
    if len(jars) != 1:
        raise AssertionError("no single kafka-clients jar in %s/classpath.txt: %s" % (jdir, jars))
    return jars[0]


def run_java_driver(bootstrap, caps):
    """The Java driver with NetworkClient at DEBUG: (results, {header name: [versions sent]})."""
    env = dict(os.environ)
    env["JAVA_TOOL_OPTIONS"] = "-Dorg.slf4j.simpleLogger.log.org.apache.kafka.clients.NetworkClient=debug"
    p = subprocess.run([os.path.join(clients_dir(), "java-driver"), "--bootstrap", bootstrap,
                        "--client", "java", "--only", caps],
                       stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=300, env=env)
    results = [json.loads(l) for l in p.stdout.splitlines() if l.startswith("{")]
    sent = {}  # header name -> versions in the order sent
    for m in HEADER.finditer(p.stderr):
        sent.setdefault(m.group(1), []).append(int(m.group(2)))
    if p.returncode != 0:
        raise AssertionError("java-driver exited %d: %s" % (p.returncode, p.stderr[-2000:]))
    return results, sent


class JavaNewestVersions(BrokerTestCase):
    @classmethod
    def after_start(cls):
        cls.jar = kafka_clients_jar()
        cls.client_max = client_maximums(cls.jar)
        for key, hi in CLASSIC_CONSUMER_MAX.items():
            cls.client_max[key] = min(cls.client_max[key], hi)
        c = kwire.Conn(cls.broker.host, cls.broker.port)
        try:
            c.send(kwire.api_versions_request(0, 1))
            resp = kwire.decode_api_versions_response(0, c.recv_frame())
        finally:
            c.sock.close()
        cls.broker_ranges = resp["api_keys"]
        cls.results, cls.sent = run_java_driver(cls.broker.bootstrap, CAPS)

    def test_capabilities_ran(self):
        bad = [r for r in self.results if r["status"] != "pass"]
        self.assertEqual(len(self.results), len(CAPS.split(",")), self.results)
        self.assertEqual(bad, [], "the capabilities that send the requests must pass")

    def check(self, key):
        name = APIS[key][0]
        self.assertIn(key, self.broker_ranges, "the broker does not advertise %s" % name)
        want = min(self.broker_ranges[key][1], self.client_max[key])
        sent = self.sent.get(name)
        self.assertTrue(sent, "kafka-clients sent no %s request" % name)
        detail = "%s: sent %s; broker max %d, kafka-clients max %d (%s)" % (
            name, sorted(set(sent)), self.broker_ranges[key][1], self.client_max[key],
            os.path.basename(self.jar))
        if key == 18:
            self.assertEqual(sent[-1], want, detail)
            self.assertLessEqual(set(sent), {want, self.client_max[key]}, detail)
        else:
            self.assertEqual(set(sent), {want}, detail)
        print("\n  " + detail, end="")

    def test_produce(self):
        self.check(0)

    def test_fetch(self):
        self.check(1)

    def test_list_offsets(self):
        self.check(2)

    def test_metadata(self):
        self.check(3)

    def test_offset_commit(self):
        self.check(8)

    def test_offset_fetch(self):
        self.check(9)

    def test_api_versions(self):
        self.check(18)

    def test_describe_topic_partitions(self):
        self.check(75)


TXN_APIS = {
    24: ("ADD_PARTITIONS_TO_TXN", "AddPartitionsToTxnRequest"),
    25: ("ADD_OFFSETS_TO_TXN", "AddOffsetsToTxnRequest"),
    26: ("END_TXN", "EndTxnRequest"),
    28: ("TXN_OFFSET_COMMIT", "TxnOffsetCommitRequest"),
}
TXN_CAPS = "transactions,txn-consume-transform-produce"


class JavaTransactionVersion(BrokerTestCase):
    """The Java client 4.4's transactional producer follows the broker's
    finalized transaction.version (ApiVersions v3): at 2 (Gregor's default,
    Kafka 4's) it sends EndTxn v5 and TxnOffsetCommit at the newest version
    both have, and never AddPartitionsToTxn or AddOffsetsToTxn (its writes
    add the partitions: KIP-890 part 2); below 2 (Kafka 3.9) it adds them
    first, as before."""

    @classmethod
    def after_start(cls):
        cls.client_max = client_maximums(kafka_clients_jar(), TXN_APIS)
        with kwire.Conn(cls.broker.host, cls.broker.port) as c:
            resp = c.api_versions(3)
        cls.broker_ranges = resp["api_keys"]
        cls.tv = kwire.finalized_features(resp).get("transaction.version", (0, 0))[1]
        cls.results, cls.sent = run_java_driver(cls.broker.bootstrap, TXN_CAPS)

    def test_transactions_ran(self):
        bad = [r for r in self.results if r["status"] != "pass"]
        self.assertEqual(len(self.results), len(TXN_CAPS.split(",")), self.results)
        self.assertEqual(bad, [], self.results)

    def newest(self, key):
        name = TXN_APIS[key][0]
        want = min(self.broker_ranges[key][1], self.client_max[key])
        self.assertEqual(set(self.sent.get(name, [])), {want},
                         "%s sent %s; broker max %d, client max %d; transaction.version %d" % (
                             name, self.sent.get(name), self.broker_ranges[key][1], self.client_max[key], self.tv))
        print("\n  %s v%d (transaction.version %d)" % (name, want, self.tv), end="")
        return want

    def test_end_txn(self):
        v = self.newest(26)
        if self.tv >= 2:
            self.assertEqual(v, 5, "transaction version 2 is EndTxn v5")

    def test_txn_offset_commit(self):
        self.newest(28)

    def test_partitions_added_by_the_writes(self):
        added = {TXN_APIS[k][0]: self.sent.get(TXN_APIS[k][0]) for k in (24, 25)}
        if self.tv >= 2:
            self.assertEqual(added, {"ADD_PARTITIONS_TO_TXN": None, "ADD_OFFSETS_TO_TXN": None})
        else:
            self.assertTrue(all(added.values()), added)
