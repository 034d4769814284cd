"""Topic administration: CreateTopics, DeleteTopics, CreatePartitions and
DescribeConfigs, driven by confluent_kafka's AdminClient (librdkafka),
kafka-python's KafkaAdminClient and, for the flexible versions and the
cases clients refuse to send (duplicate names, ids), raw requests.

Against Kafka (GREGOR_TEST_TARGET=kafka) the checks of Gregor's topic store
(gregor-topics.properties) and log lines are left out, and the partition
directories are waited for: Kafka's broker creates and renames them when it
applies the controller's records, a moment after the answer. Kafka answers
DeleteTopics in shuffled order and CreateTopics with duplicates last, so
results are compared by name."""

import os
import struct
import time
import unittest

from broker import Broker, BrokerTestCase, gregor_only, on_kafka, wait_until
from kwire import Conn, Reader, frame, string, uvarint

NODE_ID = 5

# Kafka error codes.
NONE = 0
UNKNOWN_TOPIC_OR_PARTITION = 3
LEADER_NOT_AVAILABLE = 5
REQUEST_TIMED_OUT = 7
INVALID_TOPIC_EXCEPTION = 17
TOPIC_ALREADY_EXISTS = 36
INVALID_PARTITIONS = 37
INVALID_REPLICATION_FACTOR = 38
INVALID_REPLICA_ASSIGNMENT = 39
INVALID_CONFIG = 40
INVALID_REQUEST = 42
POLICY_VIOLATION = 44
TOPIC_DELETION_DISABLED = 73
UNKNOWN_TOPIC_ID = 100

# Kafka's ConfigSource ids.
DYNAMIC_TOPIC_CONFIG = 1
DYNAMIC_DEFAULT_BROKER_CONFIG = 3
STATIC_BROKER_CONFIG = 4
DEFAULT_CONFIG = 5

# Kafka's ConfigType ids (DescribeConfigs v3+).
CONFIG_TYPE = {"BOOLEAN": 1, "STRING": 2, "INT": 3, "SHORT": 4, "LONG": 5, "DOUBLE": 6, "LIST": 7}

API_CREATE_TOPICS = 19
API_DELETE_TOPICS = 20
API_DESCRIBE_CONFIGS = 32
API_CREATE_PARTITIONS = 37
FLEXIBLE_MIN = {API_CREATE_TOPICS: 5, API_DELETE_TOPICS: 4, API_DESCRIBE_CONFIGS: 4, API_CREATE_PARTITIONS: 2}


# ---- raw requests (flexible versions) -------------------------------------------
# Written from Kafka's message schemas, independently of Gregor's.

def cstr(s):
    if s is None:
        return uvarint(0)
    b = s.encode()
    return uvarint(len(b) + 1) + b


def carray(items, enc):
    if items is None:
        return uvarint(0)
    return uvarint(len(items) + 1) + b"".join(enc(x) for x in items)


TAGS = uvarint(0)


def raw(broker, api, version, body):
    """Send one request; return a Reader positioned after the response header."""
    flex = version >= FLEXIBLE_MIN[api]
    hdr = struct.pack(">hhi", api, version, 77) + string("gregor-it")
    if flex:
        hdr += TAGS
    c = Conn(broker.host, broker.port)
    try:
        c.send(frame(hdr + body))
        r = Reader(c.recv_frame())
    finally:
        c.sock.close()
    assert r.int32() == 77
    if flex:
        r.tagged_fields()
    return r


def create_topics_v7(broker, topics, validate_only=False):
    """topics: [(name, partitions, rf, assignments {index: [ids]}, {key: value})]."""
    def topic(t):
        name, parts, rf, assign, configs = t
        out = cstr(name) + struct.pack(">ih", parts, rf)
        out += carray(sorted((assign or {}).items()),
                      lambda a: struct.pack(">i", a[0]) + carray(a[1], lambda i: struct.pack(">i", i)) + TAGS)
        out += carray(list((configs or {}).items()), lambda kv: cstr(kv[0]) + cstr(kv[1]) + TAGS)
        return out + TAGS

    body = carray(topics, topic) + struct.pack(">i?", 10000, validate_only) + TAGS
    r = raw(broker, API_CREATE_TOPICS, 7, body)
    r.int32()  # throttle

    def config():
        c = {"name": r.string(True), "value": r.string(True), "read_only": r.bool(),
             "source": r.int8(), "sensitive": r.bool()}
        r.tagged_fields()
        return c

    def result():
        t = {"name": r.string(True), "id": r.uuid(), "error": r.int16(), "message": r.string(True),
             "partitions": r.int32(), "rf": r.int16(), "configs": r.array(True, config)}
        t["tags"] = r.tagged_fields()
        return t

    out = r.array(True, result)
    r.tagged_fields()
    r.done()
    return out


def delete_topics_v6(broker, topics):
    """topics: [(name or None, id bytes or None)]."""
    body = carray(topics, lambda t: cstr(t[0]) + (t[1] or bytes(16)) + TAGS) + struct.pack(">i", 10000) + TAGS
    r = raw(broker, API_DELETE_TOPICS, 6, body)
    r.int32()

    def result():
        t = {"name": r.string(True), "id": r.uuid(), "error": r.int16(), "message": r.string(True)}
        r.tagged_fields()
        return t

    out = r.array(True, result)
    r.tagged_fields()
    r.done()
    return out


def delete_topics_v1(broker, names, version=1):
    """v1-v3 (the same non-flexible layout)."""
    body = struct.pack(">i", len(names)) + b"".join(string(n) for n in names) + struct.pack(">i", 10000)
    r = raw(broker, API_DELETE_TOPICS, version, body)
    r.int32()
    out = r.array(False, lambda: {"name": r.string(False), "error": r.int16()})
    r.done()
    return out


def describe_configs_v4(broker, resources, synonyms=True, documentation=True):
    """resources: [(type, name, keys or None)]."""
    body = carray(resources, lambda res: struct.pack(">b", res[0]) + cstr(res[1]) + carray(res[2], cstr) + TAGS)
    body += struct.pack(">??", synonyms, documentation) + TAGS
    r = raw(broker, API_DESCRIBE_CONFIGS, 4, body)
    r.int32()

    def synonym():
        s = (r.string(True), r.string(True), r.int8())
        r.tagged_fields()
        return s

    def config():
        c = {"name": r.string(True), "value": r.string(True), "read_only": r.bool(), "source": r.int8(),
             "sensitive": r.bool(), "synonyms": r.array(True, synonym), "type": r.int8(), "doc": r.string(True)}
        r.tagged_fields()
        return c

    def result():
        res = {"error": r.int16(), "message": r.string(True), "type": r.int8(), "name": r.string(True)}
        res["configs"] = {c["name"]: c for c in r.array(True, config)}
        r.tagged_fields()
        return res

    out = r.array(True, result)
    r.tagged_fields()
    r.done()
    return out


def create_partitions_v3(broker, topics, validate_only=False):
    """topics: [(name, count, assignments [[ids]] or None)]."""
    def topic(t):
        name, count, assign = t
        return (cstr(name) + struct.pack(">i", count)
                + carray(assign, lambda ids: carray(ids, lambda i: struct.pack(">i", i)) + TAGS) + TAGS)

    body = carray(topics, topic) + struct.pack(">i?", 10000, validate_only) + TAGS
    r = raw(broker, API_CREATE_PARTITIONS, 3, body)
    r.int32()

    def result():
        t = {"name": r.string(True), "error": r.int16(), "message": r.string(True)}
        r.tagged_fields()
        return t

    out = r.array(True, result)
    r.tagged_fields()
    r.done()
    return out


# ---- helpers ---------------------------------------------------------------------

def confluent_admin(broker):
    from confluent_kafka.admin import AdminClient
    return AdminClient({"bootstrap.servers": broker.bootstrap})


def result_error(future):
    """None on success, else the KafkaError."""
    from confluent_kafka import KafkaException
    try:
        future.result(timeout=20)
        return None
    except KafkaException as e:
        return e.args[0]


def create(admin, topics, **kw):
    """{name: None or KafkaError}."""
    fs = admin.create_topics(topics, operation_timeout=10, request_timeout=15, **kw)
    return {name: result_error(f) for name, f in fs.items()}


def partition_dirs(broker, topic):
    d = os.path.join(broker.data_dir, "data")
    return sorted(n for n in os.listdir(d) if n.rsplit("-", 1)[0] == topic and os.path.isdir(os.path.join(d, n)))


def assert_partition_dirs(test, broker, topic, want, deadline=10.0):
    """The topic's partition directories become `want` (Gregor: already
    when it answered; Kafka: once its broker applied the change)."""
    try:
        wait_until(lambda: partition_dirs(broker, topic) == want, deadline, "partition directories %s" % want)
    except AssertionError:
        test.assertEqual(partition_dirs(broker, topic), want)


def store_text(broker):
    """Gregor's topic store; None against Kafka, which keeps topics in its
    metadata log."""
    if on_kafka():
        return None
    with open(os.path.join(broker.data_dir, "data", "gregor-topics.properties")) as f:
        return f.read()


def by_name(results):
    """{name: result} of answers whose order is not Kafka's to keep."""
    out = {r["name"]: r for r in results}
    assert len(out) == len(results), results
    return out


def topic_partitions(admin, topic):
    md = admin.list_topics(timeout=10)
    t = md.topics.get(topic)
    return None if t is None else len(t.partitions)


def assert_topic_partitions(test, admin, topic, want, deadline=10.0):
    """The topic's partition count in Metadata becomes `want` (None: no
    such topic). Gregor's metadata changes before it answers; Kafka's
    broker applies the controller's records a moment after."""
    try:
        wait_until(lambda: topic_partitions(admin, topic) == want, deadline, "%s partitions of %s" % (want, topic))
    except AssertionError:
        test.assertEqual(topic_partitions(admin, topic), want)


def describe_topic(admin, topic):
    from confluent_kafka.admin import ConfigResource
    fs = admin.describe_configs([ConfigResource(ConfigResource.Type.TOPIC, topic)], request_timeout=15)
    return list(fs.values())[0].result(timeout=20)


class AdminTest(BrokerTestCase):
    BROKER_ARGS = dict(node_id=NODE_ID)

    @classmethod
    def after_start(cls):
        cls.admin = confluent_admin(cls.broker)

    @classmethod
    def tearDownClass(cls):
        cls.admin = None  # librdkafka's threads go before the broker does
        super().tearDownClass()

    def kafka_python_admin(self):
        from kafka import KafkaAdminClient
        a = KafkaAdminClient(bootstrap_servers=self.broker.bootstrap, api_version_auto_timeout_ms=10000)
        self.addCleanup(a.close)
        return a

    # ---- CreateTopics ---------------------------------------------------------------

    def test_create_with_partitions_and_configs(self):
        from confluent_kafka.admin import NewTopic
        res = create(self.admin, [NewTopic("ct-conf", 4, 1, config={"retention.ms": "123456", "cleanup.policy": "compact"})])
        self.assertEqual(res, {"ct-conf": None})
        # Gregor answers only once durable: the store already lists it.
        text = store_text(self.broker)
        if text is not None:
            self.assertIn("ct-conf/partitions=4\n", text)
            self.assertIn("ct-conf/config/retention.ms=123456\n", text)
        assert_topic_partitions(self, self.admin, "ct-conf", 4)
        assert_partition_dirs(self, self.broker, "ct-conf", ["ct-conf-%d" % p for p in range(4)])
        cfg = describe_topic(self.admin, "ct-conf")
        self.assertEqual(cfg["retention.ms"].value, "123456")
        self.assertEqual(cfg["cleanup.policy"].value, "compact")
        self.assertEqual(cfg["segment.bytes"].value, "1073741824")

    def test_create_default_partitions(self):
        from confluent_kafka.admin import NewTopic
        self.assertEqual(create(self.admin, [NewTopic("ct-default", -1, -1)]), {"ct-default": None})
        assert_topic_partitions(self, self.admin, "ct-default", 1)  # num.partitions

    def test_create_errors(self):
        from confluent_kafka.admin import NewTopic
        self.assertEqual(create(self.admin, [NewTopic("ct-exists", 1, 1)]), {"ct-exists": None})
        res = create(self.admin, [
            NewTopic("ct-exists", 2, 1),
            NewTopic("ct bad name", 1, 1),
            NewTopic("ct-rf3", 1, 3),
            NewTopic("ct-unknown-key", 1, 1, config={"no.such.key": "1"}),
            NewTopic("ct-bad-value", 1, 1, config={"retention.ms": "soon"}),
            NewTopic("ct-bad-assign", 2, replica_assignment=[[NODE_ID], [NODE_ID + 1]]),
            NewTopic("ct-dup-replica", 1, replica_assignment=[[NODE_ID, NODE_ID]]),
        ])
        codes = {k: (e.code() if e else None) for k, e in res.items()}
        self.assertEqual(codes, {
            "ct-exists": TOPIC_ALREADY_EXISTS,
            "ct bad name": INVALID_TOPIC_EXCEPTION,
            "ct-rf3": INVALID_REPLICATION_FACTOR,
            "ct-unknown-key": INVALID_CONFIG,
            "ct-bad-value": INVALID_CONFIG,
            "ct-bad-assign": INVALID_REPLICA_ASSIGNMENT,
            "ct-dup-replica": INVALID_REPLICA_ASSIGNMENT,
        })
        self.assertIn("already exists", res["ct-exists"].str())
        self.assertIn("only 1 broker(s)", res["ct-rf3"].str())
        self.assertIn("Unknown topic config name: no.such.key", res["ct-unknown-key"].str())
        self.assertIn("retention.ms", res["ct-bad-value"].str())
        self.assertIn("broker %d, but no such broker is registered" % (NODE_ID + 1), res["ct-bad-assign"].str())
        self.assertIn("more than once", res["ct-dup-replica"].str())
        names = set(self.admin.list_topics(timeout=10).topics)
        for t in ("ct bad name", "ct-rf3", "ct-unknown-key", "ct-bad-value", "ct-bad-assign", "ct-dup-replica"):
            self.assertNotIn(t, names)
            self.assertEqual(partition_dirs(self.broker, t), [])

    def test_create_partition_count_errors(self):
        out = create_topics_v7(self.broker, [("ct-zero", 0, 1, None, None), ("ct-neg", -2, 1, None, None),
                                             ("ct-rf0", 1, 0, None, None)])
        self.assertEqual([(t["name"], t["error"]) for t in out],
                         [("ct-zero", INVALID_PARTITIONS), ("ct-neg", INVALID_PARTITIONS),
                          ("ct-rf0", INVALID_REPLICATION_FACTOR)])

    def test_create_manual_assignment(self):
        from confluent_kafka.admin import NewTopic
        res = create(self.admin, [NewTopic("ct-assign", 3, replica_assignment=[[NODE_ID]] * 3)])
        self.assertEqual(res, {"ct-assign": None})
        assert_topic_partitions(self, self.admin, "ct-assign", 3)
        # Partition ids must run 0..n-1; rf and partitions must be -1 with an assignment.
        out = create_topics_v7(self.broker, [
            ("ct-gap", -1, -1, {0: [NODE_ID], 2: [NODE_ID]}, None),
            ("ct-twice", -1, -1, {0: [NODE_ID]}, None),
            ("ct-empty", -1, -1, {0: []}, None),
            ("ct-rf-set", -1, 1, {0: [NODE_ID]}, None),
        ])
        got = {t["name"]: (t["error"], t["message"]) for t in out}
        self.assertEqual(got["ct-gap"], (INVALID_REPLICA_ASSIGNMENT,
                                         "partitions should be a consecutive 0-based integer sequence"))
        self.assertEqual(got["ct-twice"], (NONE, None))
        self.assertEqual(got["ct-empty"][0], INVALID_REPLICA_ASSIGNMENT)
        self.assertEqual(got["ct-rf-set"][0], INVALID_REQUEST)

    def test_create_null_config_value(self):
        out = create_topics_v7(self.broker, [("ct-null", 1, 1, None, {"retention.ms": None})])
        self.assertEqual(out[0]["error"], INVALID_CONFIG)
        self.assertEqual(out[0]["message"], "Null value not supported for topic configs: retention.ms")

    def test_validate_only(self):
        from confluent_kafka.admin import NewTopic
        res = create(self.admin, [NewTopic("ct-validate", 3, 1, config={"segment.bytes": "1048576"})],
                     validate_only=True)
        self.assertEqual(res, {"ct-validate": None})
        assert_topic_partitions(self, self.admin, "ct-validate", None)
        self.assertEqual(partition_dirs(self.broker, "ct-validate"), [])
        res = create(self.admin, [NewTopic("ct-validate", 3, 1, config={"segment.bytes": "1"})], validate_only=True)
        self.assertEqual(res["ct-validate"].code(), INVALID_CONFIG)
        out = create_topics_v7(self.broker, [("ct-validate7", 2, -1, None, {"retention.ms": "5000"})],
                               validate_only=True)
        self.assertEqual((out[0]["error"], out[0]["partitions"], out[0]["rf"]), (NONE, 2, 1))
        # Kafka's controller draws a topic id before it looks at
        # validate_only, and answers with it.
        self.assertNotEqual(out[0]["id"], bytes(16))
        self.assertEqual({c["name"]: c["value"] for c in out[0]["configs"]}["retention.ms"], "5000")
        assert_topic_partitions(self, self.admin, "ct-validate7", None)

    def test_duplicate_names_in_one_request(self):
        out = create_topics_v7(self.broker, [("ct-dup", 1, 1, None, None), ("ct-single", 1, 1, None, None),
                                             ("ct-dup", 2, 1, None, None)])
        self.assertEqual(sorted((t["name"], t["error"], t["message"] or "") for t in out),
                         [("ct-dup", INVALID_REQUEST, "Duplicate topic name."), ("ct-single", NONE, "")])
        self.assertEqual(by_name(out)["ct-single"]["message"], None)
        assert_topic_partitions(self, self.admin, "ct-dup", None)
        assert_topic_partitions(self, self.admin, "ct-single", 1)

    def test_create_topics_v7_response(self):
        out = create_topics_v7(self.broker, [("ct-v7", 3, -1, None, {"retention.ms": "7000"})])
        self.assertEqual(len(out), 1)
        t = out[0]
        self.assertEqual((t["name"], t["error"], t["message"], t["partitions"], t["rf"]),
                         ("ct-v7", NONE, None, 3, 1))
        self.assertNotEqual(t["id"], bytes(16))
        configs = {c["name"]: c for c in t["configs"]}
        self.assertEqual(configs["retention.ms"], {"name": "retention.ms", "value": "7000", "read_only": False,
                                                   "source": DYNAMIC_TOPIC_CONFIG, "sensitive": False})
        self.assertEqual((configs["segment.bytes"]["value"], configs["segment.bytes"]["source"]),
                         ("1073741824", DEFAULT_CONFIG))
        self.assertEqual(configs["cleanup.policy"]["value"], "delete")
        # The id is the one Metadata and DeleteTopics by id know.
        self.assertEqual(delete_topics_v6(self.broker, [(None, t["id"])]),
                         [{"name": "ct-v7", "id": t["id"], "error": NONE, "message": None}])

    def test_too_many_partitions_in_one_request(self):
        out = create_topics_v7(self.broker, [("ct-huge", 20000, 1, None, None), ("ct-small", 1, 1, None, None)])
        self.assertEqual([(t["name"], t["error"]) for t in out],
                         [("ct-huge", POLICY_VIOLATION), ("ct-small", POLICY_VIOLATION)])
        assert_topic_partitions(self, self.admin, "ct-small", None)

    def test_kafka_python_create_and_errors(self):
        from kafka.admin import NewTopic
        from kafka.errors import InvalidReplicationFactorError, TopicAlreadyExistsError
        a = self.kafka_python_admin()
        a.create_topics([NewTopic("kp-topic", 2, 1, topic_configs={"max.message.bytes": "2000000"})])
        assert_topic_partitions(self, self.admin, "kp-topic", 2)
        with self.assertRaises(TopicAlreadyExistsError):
            a.create_topics([NewTopic("kp-topic", 2, 1)])
        with self.assertRaises(InvalidReplicationFactorError):
            a.create_topics([NewTopic("kp-rf2", 2, 2)])

    # ---- CreatePartitions -------------------------------------------------------------

    def test_create_partitions(self):
        from confluent_kafka.admin import NewPartitions, NewTopic
        self.assertEqual(create(self.admin, [NewTopic("cp-grow", 2, 1)]), {"cp-grow": None})
        fs = self.admin.create_partitions([NewPartitions("cp-grow", 5)], operation_timeout=10, request_timeout=15)
        self.assertIsNone(result_error(fs["cp-grow"]))
        text = store_text(self.broker)
        if text is not None:
            self.assertIn("cp-grow/partitions=5\n", text)
        wait_until(lambda: topic_partitions(self.admin, "cp-grow") == 5, 10, "5 partitions in metadata")
        assert_partition_dirs(self, self.broker, "cp-grow", ["cp-grow-%d" % p for p in range(5)])

        fs = self.admin.create_partitions([NewPartitions("cp-grow", 8)], validate_only=True)
        self.assertIsNone(result_error(fs["cp-grow"]))
        assert_topic_partitions(self, self.admin, "cp-grow", 5)

        fs = self.admin.create_partitions([NewPartitions("cp-grow", 5), NewPartitions("cp-nope", 3),
                                           NewPartitions("cp-grow2", 2)])
        errs = {k: result_error(f) for k, f in fs.items()}
        self.assertEqual(errs["cp-grow"].code(), INVALID_PARTITIONS)
        self.assertIn("already has 5 partition(s)", errs["cp-grow"].str())
        self.assertEqual(errs["cp-nope"].code(), UNKNOWN_TOPIC_OR_PARTITION)

        fs = self.admin.create_partitions([NewPartitions("cp-grow", 3)])
        err = result_error(fs["cp-grow"])
        self.assertEqual(err.code(), INVALID_PARTITIONS)
        self.assertIn("would not be an increase", err.str())

        fs = self.admin.create_partitions([NewPartitions("cp-grow", 7, replica_assignment=[[NODE_ID], [NODE_ID + 1]])])
        self.assertEqual(result_error(fs["cp-grow"]).code(), INVALID_REPLICA_ASSIGNMENT)
        fs = self.admin.create_partitions([NewPartitions("cp-grow", 7, replica_assignment=[[NODE_ID], [NODE_ID]])])
        self.assertIsNone(result_error(fs["cp-grow"]))
        wait_until(lambda: topic_partitions(self.admin, "cp-grow") == 7, 10, "7 partitions in metadata")

    def test_create_partitions_raw(self):
        from confluent_kafka.admin import NewTopic
        self.assertEqual(create(self.admin, [NewTopic("cp-raw", 1, 1)]), {"cp-raw": None})
        out = create_partitions_v3(self.broker, [("cp-raw", 3, None), ("cp-raw", 4, None)])
        self.assertEqual(out, [{"name": "cp-raw", "error": INVALID_REQUEST, "message": "Duplicate topic name."}])
        out = create_partitions_v3(self.broker, [("cp-raw", 3, [[NODE_ID]])])
        self.assertEqual(out[0]["error"], INVALID_REPLICA_ASSIGNMENT)
        self.assertIn("Attempted to add 2 additional partition(s), but only 1", out[0]["message"])
        out = create_partitions_v3(self.broker, [("cp-raw", 3, None)])
        self.assertEqual(out, [{"name": "cp-raw", "error": NONE, "message": None}])
        assert_topic_partitions(self, self.admin, "cp-raw", 3)

    def test_kafka_python_create_partitions(self):
        from kafka.admin import NewPartitions, NewTopic
        from kafka.errors import InvalidPartitionsError
        a = self.kafka_python_admin()
        a.create_topics([NewTopic("kp-parts", 1, 1)])
        a.create_partitions({"kp-parts": NewPartitions(4)})
        assert_topic_partitions(self, self.admin, "kp-parts", 4)
        with self.assertRaises(InvalidPartitionsError):
            a.create_partitions({"kp-parts": NewPartitions(2)})

    # ---- DeleteTopics ---------------------------------------------------------------

    def test_delete_topics(self):
        from confluent_kafka.admin import NewTopic
        self.assertEqual(create(self.admin, [NewTopic("dt-gone", 3, 1)]), {"dt-gone": None})
        assert_partition_dirs(self, self.broker, "dt-gone", ["dt-gone-%d" % p for p in range(3)])
        fs = self.admin.delete_topics(["dt-gone", "dt-never"], operation_timeout=10, request_timeout=15)
        self.assertIsNone(result_error(fs["dt-gone"]))
        self.assertEqual(result_error(fs["dt-never"]).code(), UNKNOWN_TOPIC_OR_PARTITION)
        assert_partition_dirs(self, self.broker, "dt-gone", [])
        # Kafka's way: renamed to <topic>-<p>.<32 hex>-delete, then removed
        data = os.path.join(self.broker.data_dir, "data")
        if on_kafka():
            # ... after log.segment.delete.delay.ms (60 s by default).
            renamed = wait_until(lambda: sorted(n for n in os.listdir(data) if n.startswith("dt-gone-")), 10.0,
                                 "the renamed directories")
            self.assertEqual([n.split(".")[0] for n in renamed], ["dt-gone-%d" % p for p in range(3)])
            for n in renamed:
                self.assertRegex(n, r"^dt-gone-\d\.[0-9a-f]{32}-delete$")
        else:
            # Gregor removes them at once (its documented difference,
            # docs/compatibility.md: "The partition directories are
            # removed at once").
            self.assertNotIn("dt-gone/", store_text(self.broker))
            self.assertRegex(self.broker.log(), r"deleted topic dt-gone")
            wait_until(lambda: not [n for n in os.listdir(data) if n.startswith("dt-gone-")], 5.0,
                       "the renamed directories to be removed")
        self.assertNotIn("dt-gone", self.admin.list_topics(timeout=10).topics)
        # The name can be used again.
        self.assertEqual(create(self.admin, [NewTopic("dt-gone", 1, 1)]), {"dt-gone": None})
        assert_topic_partitions(self, self.admin, "dt-gone", 1)

    def test_delete_internal_like_topic(self):
        # Kafka's controller deletes internal topics too (only kafka-topics.sh refuses).
        from confluent_kafka.admin import NewTopic
        self.assertEqual(create(self.admin, [NewTopic("__dt-internal", 1, 1)]), {"__dt-internal": None})
        fs = self.admin.delete_topics(["__dt-internal"], operation_timeout=10)
        self.assertIsNone(result_error(fs["__dt-internal"]))

    def test_delete_topics_v6(self):
        out = create_topics_v7(self.broker, [("dt-v6a", 1, 1, None, None), ("dt-v6b", 2, 1, None, None)])
        ida, idb = out[0]["id"], out[1]["id"]
        unknown = b"\x01" * 16
        res = delete_topics_v6(self.broker, [(None, ida), ("dt-v6b", None), (None, unknown), ("dt-v6b", ida),
                                             (None, None), ("dt-v6-missing", None)])
        # Kafka shuffles the results ("so that users can not use patterns in
        # their positions"), and an unknown topic gets its error's default
        # message.
        want = [
            {"name": "dt-v6a", "id": ida, "error": NONE, "message": None},
            {"name": "dt-v6b", "id": idb, "error": NONE, "message": None},
            {"name": None, "id": unknown, "error": UNKNOWN_TOPIC_ID,
             "message": "This server does not host this topic ID."},
            {"name": "dt-v6b", "id": ida, "error": INVALID_REQUEST,
             "message": "You may not specify both topic name and topic id."},
            {"name": None, "id": bytes(16), "error": INVALID_REQUEST,
             "message": "Neither topic name nor id were specified."},
            {"name": "dt-v6-missing", "id": bytes(16), "error": UNKNOWN_TOPIC_OR_PARTITION,
             "message": "This server does not host this topic-partition."},
        ]
        key = lambda r: (r["name"] or "", r["id"], r["error"])  # noqa: E731
        self.assertEqual(sorted(res, key=key), sorted(want, key=key))
        assert_partition_dirs(self, self.broker, "dt-v6a", [])
        assert_partition_dirs(self, self.broker, "dt-v6b", [])

    def test_delete_duplicates(self):
        out = create_topics_v7(self.broker, [("dt-dup", 1, 1, None, None)])
        tid = out[0]["id"]
        res = delete_topics_v6(self.broker, [("dt-dup", None), ("dt-dup", None), (None, tid), (None, tid)])
        self.assertEqual(sorted(res, key=lambda r: r["message"]), [
            {"name": None, "id": tid, "error": INVALID_REQUEST, "message": "Duplicate topic id."},
            {"name": "dt-dup", "id": bytes(16), "error": INVALID_REQUEST, "message": "Duplicate topic name."},
        ])
        assert_topic_partitions(self, self.admin, "dt-dup", 1)
        # A name and an id of the same topic: neither is acted on, and only
        # the name gets an answer (Kafka's ControllerApis.deleteTopics).
        for topics in ([("dt-dup", None), (None, tid)], [(None, tid), ("dt-dup", None)]):
            res = delete_topics_v6(self.broker, topics)
            self.assertEqual(res, [{"name": "dt-dup", "id": tid, "error": INVALID_REQUEST,
                                    "message": "The provided topic name maps to an ID that was already supplied."}])
        assert_topic_partitions(self, self.admin, "dt-dup", 1)
        self.assertEqual(delete_topics_v1(self.broker, ["dt-dup"]), [{"name": "dt-dup", "error": NONE}])

    def test_kafka_python_delete(self):
        from kafka.admin import NewTopic
        from kafka.errors import UnknownTopicOrPartitionError
        a = self.kafka_python_admin()
        a.create_topics([NewTopic("kp-del", 2, 1)])
        a.delete_topics(["kp-del"])
        assert_topic_partitions(self, self.admin, "kp-del", None)
        with self.assertRaises(UnknownTopicOrPartitionError):
            a.delete_topics(["kp-del"])

    # ---- DescribeConfigs ---------------------------------------------------------------

    def test_describe_topic_sources_and_synonyms(self):
        from confluent_kafka.admin import ConfigSource, NewTopic
        self.assertEqual(create(self.admin, [NewTopic("dc-topic", 1, 1, config={"retention.ms": "99000"})]),
                         {"dc-topic": None})
        cfg = describe_topic(self.admin, "dc-topic")
        ret = cfg["retention.ms"]
        self.assertEqual((ret.value, ret.source, ret.is_default, ret.is_read_only, ret.is_sensitive),
                         ("99000", ConfigSource.DYNAMIC_TOPIC_CONFIG.value, False, False, False))
        seg = cfg["segment.bytes"]
        self.assertEqual((seg.value, seg.source, seg.is_default), ("1073741824", ConfigSource.DEFAULT_CONFIG.value,
                                                                   True))
        # Every topic config Kafka has is listed.
        for key in ("cleanup.policy", "compression.type", "max.message.bytes", "min.insync.replicas",
                    "message.timestamp.type", "segment.ms", "retention.bytes"):
            self.assertIn(key, cfg)

        res = describe_configs_v4(self.broker, [(2, "dc-topic", None)])[0]
        # No message: Kafka leaves the field at its schema default, "".
        self.assertEqual((res["error"], res["message"], res["type"], res["name"]), (NONE, "", 2, "dc-topic"))
        c = res["configs"]
        self.assertEqual(c["retention.ms"]["synonyms"], [("retention.ms", "99000", DYNAMIC_TOPIC_CONFIG)])
        self.assertEqual(c["segment.bytes"]["synonyms"], [("log.segment.bytes", "1073741824", DEFAULT_CONFIG)])
        self.assertEqual(c["cleanup.policy"]["synonyms"], [("log.cleanup.policy", "delete", DEFAULT_CONFIG)])
        self.assertEqual(c["segment.ms"]["synonyms"], [])  # log.roll.ms is unset, as in Kafka
        self.assertEqual((c["retention.ms"]["type"], c["segment.bytes"]["type"], c["cleanup.policy"]["type"],
                          c["preallocate"]["type"], c["compression.type"]["type"],
                          c["min.cleanable.dirty.ratio"]["type"]),
                         (CONFIG_TYPE["LONG"], CONFIG_TYPE["INT"], CONFIG_TYPE["LIST"], CONFIG_TYPE["BOOLEAN"],
                          CONFIG_TYPE["STRING"], CONFIG_TYPE["DOUBLE"]))
        self.assertTrue(c["segment.bytes"]["doc"])
        self.assertFalse(any(x["read_only"] or x["sensitive"] for x in c.values()))

        # Without synonyms and documentation; only the keys asked for.
        res = describe_configs_v4(self.broker, [(2, "dc-topic", ["retention.ms", "no.such.key"])], False, False)[0]
        self.assertEqual(list(res["configs"]), ["retention.ms"])
        self.assertEqual((res["configs"]["retention.ms"]["synonyms"], res["configs"]["retention.ms"]["doc"]),
                         ([], None))

    def test_describe_unknown_and_invalid_topic(self):
        res = describe_configs_v4(self.broker, [(2, "dc-missing", None), (2, "bad name", None)])
        self.assertEqual([(r["error"], r["configs"]) for r in res],
                         [(UNKNOWN_TOPIC_OR_PARTITION, {}), (INVALID_TOPIC_EXCEPTION, {})])
        from confluent_kafka.admin import ConfigResource
        fs = self.admin.describe_configs([ConfigResource(ConfigResource.Type.TOPIC, "dc-missing")])
        self.assertEqual(result_error(list(fs.values())[0]).code(), UNKNOWN_TOPIC_OR_PARTITION)

    def test_describe_broker(self):
        from confluent_kafka.admin import ConfigResource, ConfigSource
        fs = self.admin.describe_configs([ConfigResource(ConfigResource.Type.BROKER, str(NODE_ID))])
        cfg = list(fs.values())[0].result(timeout=20)
        self.assertEqual((cfg["node.id"].value, cfg["node.id"].source), (str(NODE_ID),
                                                                         ConfigSource.STATIC_BROKER_CONFIG.value))
        self.assertEqual((cfg["num.partitions"].value, cfg["num.partitions"].source),
                         ("1", ConfigSource.DEFAULT_CONFIG.value))
        self.assertIsNone(cfg["log.retention.ms"].value)
        self.assertTrue(cfg["node.id"].is_read_only)
        # Kafka's dynamically updatable keys are not read-only
        # (test_alter_configs changes them).
        self.assertFalse(cfg["log.segment.bytes"].is_read_only)
        self.assertTrue(cfg["log.retention.hours"].is_read_only)
        # Gregor lists the keys it accepts but ignores only when asked for
        # by name (documented, docs/compatibility.md); Kafka lists every key.
        self.assertEqual("num.network.threads" in cfg, on_kafka())
        self.assertNotIn("zookeeper.connect", cfg)

        res = describe_configs_v4(self.broker, [
            (4, str(NODE_ID), ["log.retention.hours", "num.network.threads", "zookeeper.connect"]),
            (4, "", None),
            (4, str(NODE_ID + 1), None),
            (4, "x1", None),
            (8, str(NODE_ID), None),
            (16, "metrics", None),
        ])
        own = res[0]["configs"]
        # Kafka 4 has no zookeeper.connect any more; Gregor accepts it (for
        # older server.properties) and describes it when asked by name.
        self.assertEqual(set(own), {"log.retention.hours", "num.network.threads"} |
                         (set() if on_kafka() else {"zookeeper.connect"}))
        self.assertEqual(own["num.network.threads"]["value"], "3")
        self.assertEqual(own["log.retention.hours"]["synonyms"], [("log.retention.hours", "168", DEFAULT_CONFIG)])
        self.assertEqual(own["log.retention.hours"]["type"], CONFIG_TYPE["INT"])
        # The cluster-wide dynamic defaults: none set here (Kafka's storage
        # format writes min.insync.replicas there).
        self.assertEqual(res[1]["error"], NONE)
        self.assertEqual({c["source"] for c in res[1]["configs"].values()} - {DYNAMIC_DEFAULT_BROKER_CONFIG}, set())
        self.assertEqual(set(res[1]["configs"]) - {"min.insync.replicas"}, set())
        self.assertEqual(res[2]["error"], INVALID_REQUEST)
        self.assertIn("Unexpected broker id, expected %d" % NODE_ID, res[2]["message"])
        self.assertEqual(res[3]["error"], INVALID_REQUEST)
        self.assertIn("must be an integer", res[3]["message"])
        # The broker's loggers: Kafka's log4j loggers, Gregor's one, both
        # with a root logger.
        self.assertEqual(res[4]["error"], NONE)
        self.assertIn("root", res[4]["configs"])
        if on_kafka():
            # Kafka's client metrics subscriptions.
            self.assertEqual(res[5]["error"], NONE)
        else:
            # Gregor has none: INVALID_REQUEST (its documented difference,
            # docs/compatibility.md).
            self.assertEqual(res[5]["error"], INVALID_REQUEST)

    def test_kafka_python_describe_configs(self):
        from kafka.admin import ConfigResource, ConfigResourceType, NewTopic
        a = self.kafka_python_admin()
        a.create_topics([NewTopic("kp-conf", 1, 1, topic_configs={"segment.ms": "3600000"})])
        resp = a.describe_configs([ConfigResource(ConfigResourceType.TOPIC, "kp-conf")], include_synonyms=True)
        results = resp[0].resources if isinstance(resp, list) else resp.resources
        err, msg, rtype, rname, entries = results[0]
        self.assertEqual((err, rtype, rname), (NONE, 2, "kp-conf"))
        by_name = {e[0]: e for e in entries}
        # (name, value, read_only, config_source, is_sensitive, synonyms)
        self.assertEqual(by_name["segment.ms"][1:5], ("3600000", False, DYNAMIC_TOPIC_CONFIG, False))
        self.assertEqual(by_name["segment.ms"][5], [("segment.ms", "3600000", DYNAMIC_TOPIC_CONFIG)])


class AdminStaticConfigTest(unittest.TestCase):
    """Broker keys set at startup show as STATIC_BROKER_CONFIG, on the broker
    and as the topic configs' synonyms; topics and their configs survive a
    restart."""

    OVERRIDES = {"log.segment.bytes": "2097152", "log.retention.ms": "3600000", "num.partitions": "3"}

    def test_static_sources_and_restart(self):
        from confluent_kafka.admin import ConfigSource, NewPartitions, NewTopic
        first = Broker(node_id=NODE_ID, overrides=self.OVERRIDES)
        self.addCleanup(first.cleanup)  # removes the data directory: only at the end
        first.start()
        admin = confluent_admin(first)
        self.assertEqual(create(admin, [NewTopic("st-keep", -1, -1, config={"cleanup.policy": "compact"}),
                                        NewTopic("st-drop", 1, 1)]), {"st-keep": None, "st-drop": None})
        assert_topic_partitions(self, admin, "st-keep", 3)
        fs = admin.create_partitions([NewPartitions("st-keep", 4)])
        self.assertIsNone(result_error(fs["st-keep"]))
        fs = admin.delete_topics(["st-drop"], operation_timeout=10)
        self.assertIsNone(result_error(fs["st-drop"]))
        res = describe_configs_v4(first, [(2, "st-keep", None), (4, str(NODE_ID), ["log.segment.bytes"])])
        c = res[0]["configs"]
        self.assertEqual((c["segment.bytes"]["value"], c["segment.bytes"]["source"]),
                         ("2097152", STATIC_BROKER_CONFIG))
        self.assertEqual(c["segment.bytes"]["synonyms"], [("log.segment.bytes", "2097152", STATIC_BROKER_CONFIG),
                                                          ("log.segment.bytes", "1073741824", DEFAULT_CONFIG)])
        self.assertEqual((c["retention.ms"]["value"], c["retention.ms"]["source"]), ("3600000",
                                                                                     STATIC_BROKER_CONFIG))
        self.assertEqual(c["retention.ms"]["synonyms"], [("log.retention.ms", "3600000", STATIC_BROKER_CONFIG),
                                                         ("log.retention.hours", "168", DEFAULT_CONFIG)])
        self.assertEqual(c["cleanup.policy"]["synonyms"][0], ("cleanup.policy", "compact", DYNAMIC_TOPIC_CONFIG))
        b = res[1]["configs"]["log.segment.bytes"]
        # Kafka and Gregor can update it at run time (test_alter_configs).
        self.assertEqual((b["value"], b["source"], b["read_only"]), ("2097152", STATIC_BROKER_CONFIG, False))
        admin = None
        first.stop()

        # Same data directory, default broker configs this time.
        second = Broker(node_id=NODE_ID, data_dir=first.data_dir)
        self.addCleanup(second.cleanup)
        with second:
            admin = confluent_admin(second)
            md = admin.list_topics(timeout=10)
            self.assertEqual(sorted(md.topics), ["st-keep"])
            self.assertEqual(len(md.topics["st-keep"].partitions), 4)
            cfg = describe_topic(admin, "st-keep")
            self.assertEqual((cfg["cleanup.policy"].value, cfg["cleanup.policy"].source),
                             ("compact", ConfigSource.DYNAMIC_TOPIC_CONFIG.value))
            self.assertEqual((cfg["segment.bytes"].value, cfg["segment.bytes"].source),
                             ("1073741824", ConfigSource.DEFAULT_CONFIG.value))
            self.assertEqual(partition_dirs(second, "st-drop"), [])


@gregor_only("Gregor's topic store (gregor-topics.properties) and its log line; Kafka keeps topics in its "
             "metadata log")
class DeleteCrashTest(unittest.TestCase):
    def two_topics(self, gone, keep):
        """A stopped broker whose data directory holds topic `gone` (2
        partitions) and `keep` (1); returns it and its log directory."""
        import shutil
        import tempfile
        from confluent_kafka.admin import NewTopic
        tmp = tempfile.mkdtemp(prefix="gregor-dc-")
        self.addCleanup(shutil.rmtree, tmp, True)
        b = Broker(node_id=NODE_ID, data_dir=tmp)
        self.addCleanup(b.cleanup)
        with b:
            admin = confluent_admin(b)
            self.assertEqual(create(admin, [NewTopic(gone, 2, 1), NewTopic(keep, 1, 1)]), {gone: None, keep: None})
            admin = None
        return b, os.path.join(b.data_dir, "data")

    def assert_deletion_finished(self, b, data, gone, keep, also=()):
        """A restart on b's data directory finishes the deletion of `gone`;
        `also`: directories (of a topic auto-created since) that stay."""
        b2 = Broker(node_id=NODE_ID, data_dir=b.data_dir)
        self.addCleanup(b2.cleanup)
        with b2:
            b2.wait_for_log(r"finishing the deletion of topic %s" % gone)
            admin = confluent_admin(b2)
            self.assertEqual(sorted(admin.list_topics(timeout=10).topics), sorted([keep] + ([gone] if also else [])))
            prefix = gone.split("-")[0] + "-"
            want = sorted([keep + "-0"] + list(also))
            wait_until(lambda: sorted(n for n in os.listdir(data) if n.startswith(prefix)) == want, 10.0,
                       "partition directories %s" % want)
            self.assertEqual(gone + "/" in store_text(b2), bool(also))
            admin = None
        return b2

    def test_deletion_interrupted_before_the_store_was_rewritten(self):
        """A crash after the directories were renamed for deletion but before
        the store dropped the topic: the restart finishes the deletion (the
        -delete directory names the topic by its id in partition.metadata)."""
        b, data = self.two_topics("dc-half", "dc-keep")
        # partition 0 renamed, partition 1 not yet: the crash came in between
        os.rename(os.path.join(data, "dc-half-0"), os.path.join(data, "dc-half-0.%s-delete" % ("ab" * 16)))
        self.assert_deletion_finished(b, data, "dc-half", "dc-keep")

    def test_deletion_whose_store_write_failed(self):
        """DeleteTopics while the topic store cannot be written (a full disk;
        here the test-only fault point GREGOR_TEST_FAULT=topic-store), then
        kill -9. The deleted topic's files go at once, to give the space back,
        but each renamed directory keeps its partition.metadata until a store
        write succeeds: the restart finishes the deletion. (Before, the
        directories went whole and the restart brought the topic back from
        the store, empty.)"""
        b, data = self.two_topics("ds-gone", "ds-keep")
        b2 = Broker(node_id=NODE_ID, data_dir=b.data_dir, env={"GREGOR_TEST_FAULT": "topic-store"})
        self.addCleanup(b2.cleanup)
        b2.start()
        self.assertEqual(delete_topics_v1(b2, ["ds-gone"]), [{"name": "ds-gone", "error": 0}])
        b2.wait_for_log(r"cannot write .*gregor-topics\.properties")

        def marks_only():
            dirs = [n for n in os.listdir(data) if n.startswith("ds-gone-") and n.endswith("-delete")]
            return len(dirs) == 2 and all(os.listdir(os.path.join(data, n)) == ["partition.metadata"] for n in dirs)
        wait_until(marks_only, 10.0, "the deleted partitions' files removed but partition.metadata")
        self.assertIn("ds-gone/", store_text(b2))
        # A produce auto-creates a topic of the same name meanwhile (another
        # id, 1 partition), acknowledged with acks=all.
        from test_data import RawClient, build_batch, parse_records
        c = RawClient(b2.host, b2.port)
        self.addCleanup(c.sock.close)
        self.assertEqual(c.produce("ds-gone", 0, build_batch([b"new"]))["error_code"], 0)
        b2.kill()
        # A restart while the store still cannot be written finishes the
        # deletion in memory and keeps the marks; the new topic's directory
        # is adopted, not removed with the old topic's name.
        b3 = Broker(node_id=NODE_ID, data_dir=b.data_dir, env={"GREGOR_TEST_FAULT": "topic-store"})
        self.addCleanup(b3.cleanup)
        b3.start()
        b3.wait_for_log(r"finishing the deletion of topic ds-gone")
        b3.wait_for_log(r"cannot write .*gregor-topics\.properties")
        self.assertTrue(marks_only(), (os.listdir(data), b3.log()))
        b3.kill()
        b4 = self.assert_deletion_finished(b, data, "ds-gone", "ds-keep", also=["ds-gone-0"])
        with b4:
            c = RawClient(b4.host, b4.port)
            self.addCleanup(c.sock.close)
            got = c.fetch("ds-gone", 0, 0)
            self.assertEqual([v for (_, _, v) in parse_records(got["records"])], [b"new"])


@gregor_only("uses Gregor's test-only fault point GREGOR_TEST_FAULT=topic-store-slow")
class CreateVisibilityTest(unittest.TestCase):
    def test_created_partitions_hidden_until_stored(self):
        """CreateTopics and CreatePartitions are answered once the topic store
        is durable; until then clients do not see what they made (Metadata:
        LEADER_NOT_AVAILABLE and no partitions, or the old count; Produce:
        UNKNOWN_TOPIC_OR_PARTITION), so no record can be acknowledged into
        partitions that a failed store write then undoes. The fault point
        makes each store write a second slower to open the window. (Before,
        the topic was in Metadata and took produces at once.)"""
        import threading
        from kwire import decode_metadata_response, metadata_request
        from test_data import RawClient, build_batch
        b = Broker(node_id=NODE_ID, env={"GREGOR_TEST_FAULT": "topic-store-slow"})
        self.addCleanup(b.cleanup)
        b.start()

        def metadata(topics):
            c = Conn(b.host, b.port)
            try:
                c.send(metadata_request(9, 5, topics))
                return decode_metadata_response(9, c.recv_frame())["topics"]
            finally:
                c.sock.close()

        def in_background(fn, *args):
            out = {}
            th = threading.Thread(target=lambda: out.setdefault("r", fn(*args)))
            th.start()
            return th, out

        th, out = in_background(create_topics_v7, b, [("cv-new", 2, 1, None, None)])
        wait_until(lambda: any(t["name"] == "cv-new" and t["error_code"] == LEADER_NOT_AVAILABLE
                               for t in metadata(["cv-new"])), 5.0, "cv-new being created")
        self.assertEqual([(t["name"], len(t["partitions"])) for t in metadata(["cv-new"])], [("cv-new", 0)])
        self.assertNotIn("cv-new", [t["name"] for t in metadata(None)])
        c = RawClient(b.host, b.port)
        self.addCleanup(c.sock.close)
        self.assertEqual(c.produce("cv-new", 0, build_batch([b"early"]), create=False)["error_code"],
                         UNKNOWN_TOPIC_OR_PARTITION)
        # Admin requests do not see it either.
        self.assertEqual([r["error"] for r in create_partitions_v3(b, [("cv-new", 4, None)])],
                         [UNKNOWN_TOPIC_OR_PARTITION])
        self.assertEqual(delete_topics_v1(b, ["cv-new"]), [{"name": "cv-new", "error": UNKNOWN_TOPIC_OR_PARTITION}])
        th.join(10)
        self.assertEqual([(t["name"], t["error"]) for t in out["r"]], [("cv-new", 0)])
        self.assertEqual([(t["error_code"], len(t["partitions"])) for t in metadata(["cv-new"])], [(0, 2)])
        self.assertEqual(c.produce("cv-new", 1, build_batch([b"after"]), create=False)["error_code"], 0)

        th, out = in_background(create_partitions_v3, b, [("cv-new", 3, None)])
        time.sleep(0.3)  # the store write takes a second
        self.assertTrue(th.is_alive(), "CreatePartitions answered before its store write")
        self.assertEqual([(t["error_code"], len(t["partitions"])) for t in metadata(["cv-new"])], [(0, 2)])
        self.assertEqual(c.produce("cv-new", 2, build_batch([b"early"]), create=False)["error_code"],
                         UNKNOWN_TOPIC_OR_PARTITION)
        # A second CreatePartitions would build on partitions that may yet be
        # undone: refused, retriably.
        self.assertEqual([r["error"] for r in create_partitions_v3(b, [("cv-new", 4, None)])], [REQUEST_TIMED_OUT])
        th.join(10)
        self.assertEqual([(t["name"], t["error"]) for t in out["r"]], [("cv-new", 0)])
        self.assertEqual([(t["error_code"], len(t["partitions"])) for t in metadata(["cv-new"])], [(0, 3)])
        self.assertEqual(c.produce("cv-new", 2, build_batch([b"after"]), create=False)["error_code"], 0)


class DeleteDisabledTest(unittest.TestCase):
    def test_delete_topic_enable_false(self):
        from confluent_kafka.admin import NewTopic
        b = Broker(node_id=NODE_ID, overrides={"delete.topic.enable": "false"})
        self.addCleanup(b.cleanup)
        with b:
            admin = confluent_admin(b)
            self.assertEqual(create(admin, [NewTopic("dd-keep", 1, 1)]), {"dd-keep": None})
            # librdkafka 1.7 sends DeleteTopics v1: before v3 Kafka has no
            # TOPIC_DELETION_DISABLED and answers INVALID_REQUEST.
            fs = admin.delete_topics(["dd-keep"], operation_timeout=10)
            self.assertEqual(result_error(fs["dd-keep"]).code(), INVALID_REQUEST)
            self.assertEqual(delete_topics_v1(b, ["dd-keep"]), [{"name": "dd-keep", "error": INVALID_REQUEST}])
            res = delete_topics_v6(b, [("dd-keep", None)])
            # No message: Kafka answers with the exception's error code alone.
            self.assertEqual([(r["error"], r["message"]) for r in res], [(TOPIC_DELETION_DISABLED, None)])
            self.assertEqual(delete_topics_v1(b, ["dd-keep"], version=3),
                             [{"name": "dd-keep", "error": TOPIC_DELETION_DISABLED}])
            assert_topic_partitions(self, admin, "dd-keep", 1)
            assert_partition_dirs(self, b, "dd-keep", ["dd-keep-0"])


if __name__ == "__main__":
    unittest.main()
