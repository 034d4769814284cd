"""AlterConfigs and IncrementalAlterConfigs: topic overrides, dynamic broker
configs (this node and the cluster default), the broker's logger, and what
DescribeConfigs then reports, by raw requests (every field and message) and
confluent_kafka's AdminClient (librdkafka).

Every expected value is one Kafka 4.4 gave. Kafka's broker applies a change
a moment after it answers (the controller's records reach it through the
metadata log), so what DescribeConfigs shows after a change is waited for;
Gregor has applied it before it answers. Where Gregor's reason for a bad
value differs from Kafka's words (its parser's, as at startup), only the
part of the message before the reason is compared."""

import os
import struct
import subprocess
import unittest

from broker import Broker, BrokerTestCase, gregor_only, on_kafka, wait_until
from kwire import Conn
from test_groups import decode_describe_groups_v0, decode_join_group, describe_groups_v0, join_group_v0, \
    wait_group_coordinator
from test_admin import (DEFAULT_CONFIG, DYNAMIC_DEFAULT_BROKER_CONFIG, DYNAMIC_TOPIC_CONFIG, FLEXIBLE_MIN,
                        INVALID_CONFIG, INVALID_REQUEST, INVALID_TOPIC_EXCEPTION, NONE,
                        TAGS, UNKNOWN_TOPIC_OR_PARTITION, carray, confluent_admin, create, create_topics_v7, cstr,
                        describe_configs_v4, raw)

NODE_ID = 5
TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# What test_confluent_kafka_incremental_alter runs: on topic argv[2], SET
# retention.ms and APPEND to cleanup.policy; then an APPEND to a key that is
# not a list. Prints "ok" and the second call's error name.
INCREMENTAL_SCRIPT = """
import sys
from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient, AlterConfigOpType, ConfigEntry, ConfigResource
admin = AdminClient({"bootstrap.servers": sys.argv[1]})
def alter(*entries):
    res = ConfigResource(ConfigResource.Type.TOPIC, sys.argv[2], incremental_configs=list(entries))
    for f in admin.incremental_alter_configs([res], request_timeout=15).values():
        f.result(timeout=15)
alter(ConfigEntry("retention.ms", "4000", incremental_operation=AlterConfigOpType.SET),
      ConfigEntry("cleanup.policy", "compact", incremental_operation=AlterConfigOpType.APPEND))
print("ok")
try:
    alter(ConfigEntry("retention.ms", "5", incremental_operation=AlterConfigOpType.APPEND))
except KafkaException as e:
    print(e.args[0].name())
"""

API_ALTER_CONFIGS = 33
API_INCREMENTAL_ALTER_CONFIGS = 44
FLEXIBLE_MIN[API_ALTER_CONFIGS] = 2
FLEXIBLE_MIN[API_INCREMENTAL_ALTER_CONFIGS] = 1

UNKNOWN_SERVER_ERROR = -1
DYNAMIC_BROKER_CONFIG = 2
DYNAMIC_BROKER_LOGGER_CONFIG = 6
DYNAMIC_GROUP_CONFIG = 8

TOPIC, BROKER, BROKER_LOGGER, GROUP = 2, 4, 8, 32
SET, DELETE, APPEND, SUBTRACT = 0, 1, 2, 3

# What Kafka 4.4 lists for a group: name -> (value, read_only, source, sensitive, synonyms, type).
GROUP_DEFAULTS = {
    'consumer.assignment.interval.ms': ('1000', False, DEFAULT_CONFIG, False,
        [('group.consumer.assignment.interval.ms', '1000', DEFAULT_CONFIG)], 3),
    'consumer.heartbeat.interval.ms': ('5000', False, DEFAULT_CONFIG, False,
        [('group.consumer.heartbeat.interval.ms', '5000', DEFAULT_CONFIG)], 3),
    'consumer.session.timeout.ms': ('45000', False, DEFAULT_CONFIG, False,
        [('group.consumer.session.timeout.ms', '45000', DEFAULT_CONFIG)], 3),
    'errors.deadletterqueue.copy.record.enable': ('false', False, DEFAULT_CONFIG, False,
        [('errors.deadletterqueue.copy.record.enable', 'false', DEFAULT_CONFIG)], 1),
    'errors.deadletterqueue.topic.name': ('', False, DEFAULT_CONFIG, False,
        [('errors.deadletterqueue.topic.name', '', DEFAULT_CONFIG)], 2),
    'share.assignment.interval.ms': ('1000', False, DEFAULT_CONFIG, False,
        [('group.share.assignment.interval.ms', '1000', DEFAULT_CONFIG)], 3),
    'share.auto.offset.reset': ('latest', False, DEFAULT_CONFIG, False,
        [('share.auto.offset.reset', 'latest', DEFAULT_CONFIG)], 2),
    'share.delivery.count.limit': ('5', False, DEFAULT_CONFIG, False,
        [('group.share.delivery.count.limit', '5', DEFAULT_CONFIG)], 3),
    'share.heartbeat.interval.ms': ('5000', False, DEFAULT_CONFIG, False,
        [('group.share.heartbeat.interval.ms', '5000', DEFAULT_CONFIG)], 3),
    'share.isolation.level': ('read_uncommitted', False, DEFAULT_CONFIG, False,
        [('share.isolation.level', 'read_uncommitted', DEFAULT_CONFIG)], 2),
    'share.partition.max.record.locks': ('2000', False, DEFAULT_CONFIG, False,
        [('group.share.partition.max.record.locks', '2000', DEFAULT_CONFIG)], 3),
    'share.record.lock.duration.ms': ('30000', False, DEFAULT_CONFIG, False,
        [('group.share.record.lock.duration.ms', '30000', DEFAULT_CONFIG)], 3),
    'share.renew.acknowledge.enable': ('true', False, DEFAULT_CONFIG, False,
        [('share.renew.acknowledge.enable', 'true', DEFAULT_CONFIG)], 1),
    'share.session.timeout.ms': ('45000', False, DEFAULT_CONFIG, False,
        [('group.share.session.timeout.ms', '45000', DEFAULT_CONFIG)], 3),
    'streams.assignment.interval.ms': ('1000', False, DEFAULT_CONFIG, False,
        [('group.streams.assignment.interval.ms', '1000', DEFAULT_CONFIG)], 3),
    'streams.assignor.name': ('sticky', False, DEFAULT_CONFIG, False,
        [('group.streams.assignors', 'sticky', DEFAULT_CONFIG)], 2),
    'streams.heartbeat.interval.ms': ('5000', False, DEFAULT_CONFIG, False,
        [('group.streams.heartbeat.interval.ms', '5000', DEFAULT_CONFIG)], 3),
    'streams.initial.rebalance.delay.ms': ('3000', False, DEFAULT_CONFIG, False,
        [('group.streams.initial.rebalance.delay.ms', '3000', DEFAULT_CONFIG)], 3),
    'streams.num.standby.replicas': ('0', False, DEFAULT_CONFIG, False,
        [('group.streams.num.standby.replicas', '0', DEFAULT_CONFIG)], 3),
    'streams.rack.aware.assignment.tags': ('', False, DEFAULT_CONFIG, False,
        [('group.streams.rack.aware.assignment.tags', '', DEFAULT_CONFIG)], 7),
    'streams.session.timeout.ms': ('45000', False, DEFAULT_CONFIG, False,
        [('group.streams.session.timeout.ms', '45000', DEFAULT_CONFIG)], 3),
}
GROUP_ISOLATION_DOC = ('Controls how to read records written transactionally. If set to "read_committed", the '
                       'share group will only deliver transactional records which have been committed. If set to '
                       '"read_uncommitted", the share group will return all messages, even transactional messages '
                       'which have been aborted. Non-transactional records will be returned unconditionally in '
                       'either mode.')

# (key, value, Kafka 4.4's INVALID_CONFIG message)
GROUP_BAD_VALUES = [
    ('consumer.assignment.interval.ms', '-1',
     'Invalid value -1 for configuration consumer.assignment.interval.ms: Value must be at least 0'),
    ('consumer.assignment.interval.ms', '2147483647',
     'consumer.assignment.interval.ms must be in the range 0 to 15000 inclusive.'),
    ('consumer.assignment.interval.ms', 'abc',
     'Invalid value abc for configuration consumer.assignment.interval.ms: Not a number of type INT'),
    ('consumer.heartbeat.interval.ms', '-1',
     'Invalid value -1 for configuration consumer.heartbeat.interval.ms: Value must be at least 1'),
    ('consumer.heartbeat.interval.ms', '2147483647',
     'consumer.heartbeat.interval.ms must be in the range 5000 to 15000 inclusive.'),
    ('consumer.heartbeat.interval.ms', 'abc',
     'Invalid value abc for configuration consumer.heartbeat.interval.ms: Not a number of type INT'),
    ('consumer.session.timeout.ms', '-1',
     'Invalid value -1 for configuration consumer.session.timeout.ms: Value must be at least 1'),
    ('consumer.session.timeout.ms', '2147483647',
     'consumer.session.timeout.ms must be in the range 45000 to 60000 inclusive.'),
    ('consumer.session.timeout.ms', 'abc',
     'Invalid value abc for configuration consumer.session.timeout.ms: Not a number of type INT'),
    ('errors.deadletterqueue.copy.record.enable', '-1',
     'Invalid value -1 for configuration errors.deadletterqueue.copy.record.enable: Expected value to be either true or false'),
    ('errors.deadletterqueue.copy.record.enable', '2147483647',
     'Invalid value 2147483647 for configuration errors.deadletterqueue.copy.record.enable: Expected value to be either true or false'),
    ('errors.deadletterqueue.copy.record.enable', 'abc',
     'Invalid value abc for configuration errors.deadletterqueue.copy.record.enable: Expected value to be either true or false'),
    ('share.assignment.interval.ms', '-1',
     'Invalid value -1 for configuration share.assignment.interval.ms: Value must be at least 0'),
    ('share.assignment.interval.ms', '2147483647',
     'share.assignment.interval.ms must be in the range 0 to 15000 inclusive.'),
    ('share.assignment.interval.ms', 'abc',
     'Invalid value abc for configuration share.assignment.interval.ms: Not a number of type INT'),
    ('share.auto.offset.reset', '-1',
     "Invalid value -1 for configuration share.auto.offset.reset: Invalid value `-1` for configuration share.auto.offset.reset. The value must be either 'earliest', 'latest' or of the format 'by_duration:<PnDTnHnMn.nS>'."),
    ('share.auto.offset.reset', '2147483647',
     "Invalid value 2147483647 for configuration share.auto.offset.reset: Invalid value `2147483647` for configuration share.auto.offset.reset. The value must be either 'earliest', 'latest' or of the format 'by_duration:<PnDTnHnMn.nS>'."),
    ('share.auto.offset.reset', 'abc',
     "Invalid value abc for configuration share.auto.offset.reset: Invalid value `abc` for configuration share.auto.offset.reset. The value must be either 'earliest', 'latest' or of the format 'by_duration:<PnDTnHnMn.nS>'."),
    ('share.delivery.count.limit', '-1',
     'Invalid value -1 for configuration share.delivery.count.limit: Value must be at least 2'),
    ('share.delivery.count.limit', '2147483647',
     'share.delivery.count.limit must be in the range 2 to 10 inclusive.'),
    ('share.delivery.count.limit', 'abc',
     'Invalid value abc for configuration share.delivery.count.limit: Not a number of type INT'),
    ('share.heartbeat.interval.ms', '-1',
     'Invalid value -1 for configuration share.heartbeat.interval.ms: Value must be at least 1'),
    ('share.heartbeat.interval.ms', '2147483647',
     'share.heartbeat.interval.ms must be in the range 5000 to 15000 inclusive.'),
    ('share.heartbeat.interval.ms', 'abc',
     'Invalid value abc for configuration share.heartbeat.interval.ms: Not a number of type INT'),
    ('share.isolation.level', '-1',
     'Invalid value -1 for configuration share.isolation.level: String must be one of: read_committed, read_uncommitted'),
    ('share.isolation.level', '2147483647',
     'Invalid value 2147483647 for configuration share.isolation.level: String must be one of: read_committed, read_uncommitted'),
    ('share.isolation.level', 'abc',
     'Invalid value abc for configuration share.isolation.level: String must be one of: read_committed, read_uncommitted'),
    ('share.partition.max.record.locks', '-1',
     'Invalid value -1 for configuration share.partition.max.record.locks: Value must be at least 100'),
    ('share.partition.max.record.locks', '2147483647',
     'share.partition.max.record.locks must be in the range 100 to 4000 inclusive.'),
    ('share.partition.max.record.locks', 'abc',
     'Invalid value abc for configuration share.partition.max.record.locks: Not a number of type INT'),
    ('share.record.lock.duration.ms', '-1',
     'Invalid value -1 for configuration share.record.lock.duration.ms: Value must be at least 1000'),
    ('share.record.lock.duration.ms', '2147483647',
     'share.record.lock.duration.ms must be in the range 15000 to 60000 inclusive.'),
    ('share.record.lock.duration.ms', 'abc',
     'Invalid value abc for configuration share.record.lock.duration.ms: Not a number of type INT'),
    ('share.renew.acknowledge.enable', '-1',
     'Invalid value -1 for configuration share.renew.acknowledge.enable: Expected value to be either true or false'),
    ('share.renew.acknowledge.enable', '2147483647',
     'Invalid value 2147483647 for configuration share.renew.acknowledge.enable: Expected value to be either true or false'),
    ('share.renew.acknowledge.enable', 'abc',
     'Invalid value abc for configuration share.renew.acknowledge.enable: Expected value to be either true or false'),
    ('share.session.timeout.ms', '-1',
     'Invalid value -1 for configuration share.session.timeout.ms: Value must be at least 1'),
    ('share.session.timeout.ms', '2147483647',
     'share.session.timeout.ms must be in the range 45000 to 60000 inclusive.'),
    ('share.session.timeout.ms', 'abc',
     'Invalid value abc for configuration share.session.timeout.ms: Not a number of type INT'),
    ('streams.assignment.interval.ms', '-1',
     'Invalid value -1 for configuration streams.assignment.interval.ms: Value must be at least 0'),
    ('streams.assignment.interval.ms', '2147483647',
     'streams.assignment.interval.ms must be in the range 0 to 15000 inclusive.'),
    ('streams.assignment.interval.ms', 'abc',
     'Invalid value abc for configuration streams.assignment.interval.ms: Not a number of type INT'),
    ('streams.assignor.name', '-1',
     "streams.assignor.name '-1' is not a registered task assignor. Registered assignors are: [sticky]."),
    ('streams.assignor.name', '2147483647',
     "streams.assignor.name '2147483647' is not a registered task assignor. Registered assignors are: [sticky]."),
    ('streams.assignor.name', 'abc',
     "streams.assignor.name 'abc' is not a registered task assignor. Registered assignors are: [sticky]."),
    ('streams.heartbeat.interval.ms', '-1',
     'Invalid value -1 for configuration streams.heartbeat.interval.ms: Value must be at least 1'),
    ('streams.heartbeat.interval.ms', '2147483647',
     'streams.heartbeat.interval.ms must be in the range 5000 to 15000 inclusive.'),
    ('streams.heartbeat.interval.ms', 'abc',
     'Invalid value abc for configuration streams.heartbeat.interval.ms: Not a number of type INT'),
    ('streams.initial.rebalance.delay.ms', '-1',
     'Invalid value -1 for configuration streams.initial.rebalance.delay.ms: Value must be at least 0'),
    ('streams.initial.rebalance.delay.ms', 'abc',
     'Invalid value abc for configuration streams.initial.rebalance.delay.ms: Not a number of type INT'),
    ('streams.num.standby.replicas', '-1',
     'Invalid value -1 for configuration streams.num.standby.replicas: Value must be at least 0'),
    ('streams.num.standby.replicas', '2147483647',
     'streams.num.standby.replicas must be less than or equal to 2'),
    ('streams.num.standby.replicas', 'abc',
     'Invalid value abc for configuration streams.num.standby.replicas: Not a number of type INT'),
    ('streams.session.timeout.ms', '-1',
     'Invalid value -1 for configuration streams.session.timeout.ms: Value must be at least 1'),
    ('streams.session.timeout.ms', '2147483647',
     'streams.session.timeout.ms must be in the range 45000 to 60000 inclusive.'),
    ('streams.session.timeout.ms', 'abc',
     'Invalid value abc for configuration streams.session.timeout.ms: Not a number of type INT'),
    ('share.auto.offset.reset', 'by_duration:-PT1H',
     "Invalid value by_duration:-PT1H for configuration share.auto.offset.reset: Invalid value `by_duration:-PT1H` for configuration share.auto.offset.reset. The value must be either 'earliest', 'latest' or of the format 'by_duration:<PnDTnHnMn.nS>'."),
    ('streams.rack.aware.assignment.tags', 'a,,b',
     "Configuration 'streams.rack.aware.assignment.tags' values must not be empty."),
]



# ---- raw requests (the newest, flexible versions; written from Kafka's schemas) ----

def _results(r):
    def res():
        x = (r.int16(), r.string(True), r.int8(), r.string(True))
        r.tagged_fields()
        return x
    out = r.array(True, res)
    r.tagged_fields()
    r.done()
    return out


def alter_v2(broker, resources, validate_only=False):
    """AlterConfigs v2. resources: [(type, name, [(key, value)])];
    returns [(error, message, type, name)]."""
    body = carray(resources, lambda res: struct.pack(">b", res[0]) + cstr(res[1])
                  + carray(res[2], lambda kv: cstr(kv[0]) + cstr(kv[1]) + TAGS) + TAGS)
    r = raw(broker, API_ALTER_CONFIGS, 2, body + struct.pack(">?", validate_only) + TAGS)
    r.int32()
    return _results(r)


def incremental_v1(broker, resources, validate_only=False):
    """IncrementalAlterConfigs v1. resources: [(type, name, [(key, op, value)])]."""
    body = carray(resources, lambda res: struct.pack(">b", res[0]) + cstr(res[1])
                  + carray(res[2], lambda c: cstr(c[0]) + struct.pack(">b", c[1]) + cstr(c[2]) + TAGS) + TAGS)
    r = raw(broker, API_INCREMENTAL_ALTER_CONFIGS, 1, body + struct.pack(">?", validate_only) + TAGS)
    r.int32()
    return _results(r)


def incremental_v0(broker, resources, validate_only=False):
    """IncrementalAlterConfigs v0 (not flexible)."""
    from kwire import Conn, Reader, frame, string
    def s(x):
        return struct.pack(">h", -1) if x is None else string(x)
    def arr(items, enc):
        return struct.pack(">i", len(items)) + b"".join(enc(x) for x in items)
    body = arr(resources, lambda res: struct.pack(">b", res[0]) + s(res[1])
               + arr(res[2], lambda c: s(c[0]) + struct.pack(">b", c[1]) + s(c[2])))
    body += struct.pack(">?", validate_only)
    c = Conn(broker.host, broker.port)
    try:
        c.send(frame(struct.pack(">hhi", API_INCREMENTAL_ALTER_CONFIGS, 0, 9) + string("gregor-it") + body))
        r = Reader(c.recv_frame())
    finally:
        c.close()
    r.int32()
    r.int32()
    out = r.array(False, lambda: (r.int16(), r.string(False), r.int8(), r.string(False)))
    r.done()
    return out


def describe(broker, rtype, name, keys=None):
    res = describe_configs_v4(broker, [(rtype, name, keys)], documentation=False)[0]
    assert res["error"] == NONE, res
    return res["configs"]


def entry(broker, rtype, name, key):
    """(value, source, synonyms) of one config; None when not listed."""
    c = describe(broker, rtype, name, [key]).get(key)
    return None if c is None else (c["value"], c["source"], c["synonyms"])


def eventually(test, get, want, deadline=15.0):
    """get() becomes want: at once on Gregor, once Kafka's broker applied
    the change on Kafka."""
    try:
        wait_until(lambda: get() == want, deadline, "%r" % (want,))
    except AssertionError:
        test.assertEqual(get(), want)


class AlterConfigsTest(BrokerTestCase):
    BROKER_ARGS = dict(node_id=NODE_ID)

    @classmethod
    def after_start(cls):
        cls.admin = confluent_admin(cls.broker)

    @classmethod
    def tearDownClass(cls):
        cls.admin = None
        super().tearDownClass()

    def topic(self, name, configs=None):
        res = create_topics_v7(self.broker, [(name, 1, 1, None, configs)])
        self.assertEqual(res[0]["error"], NONE, res)

    # ---- TOPIC ----------------------------------------------------------------------

    def test_incremental_set_delete_append_subtract(self):
        self.topic("ac-inc", {"retention.ms": "1000", "cleanup.policy": "compact"})
        self.assertEqual(incremental_v1(self.broker, [(TOPIC, "ac-inc", [("retention.ms", SET, "2000"),
                                                                          ("segment.ms", SET, "100000")])]),
                         [(NONE, None, TOPIC, "ac-inc")])
        eventually(self, lambda: entry(self.broker, TOPIC, "ac-inc", "retention.ms"),
                   ("2000", DYNAMIC_TOPIC_CONFIG, [("retention.ms", "2000", DYNAMIC_TOPIC_CONFIG)]))
        # The other overrides stay.
        self.assertEqual(entry(self.broker, TOPIC, "ac-inc", "cleanup.policy")[:2], ("compact", DYNAMIC_TOPIC_CONFIG))

        self.assertEqual(incremental_v1(self.broker, [(TOPIC, "ac-inc", [("cleanup.policy", APPEND, "delete")])]),
                         [(NONE, None, TOPIC, "ac-inc")])
        eventually(self, lambda: entry(self.broker, TOPIC, "ac-inc", "cleanup.policy"),
                   ("compact,delete", DYNAMIC_TOPIC_CONFIG, [("cleanup.policy", "compact,delete", DYNAMIC_TOPIC_CONFIG),
                                                             ("log.cleanup.policy", "delete", DEFAULT_CONFIG)]))
        # Appending what is there already changes nothing.
        incremental_v1(self.broker, [(TOPIC, "ac-inc", [("cleanup.policy", APPEND, "compact,delete")])])
        self.assertEqual(entry(self.broker, TOPIC, "ac-inc", "cleanup.policy")[0], "compact,delete")

        self.assertEqual(incremental_v1(self.broker, [(TOPIC, "ac-inc", [("cleanup.policy", SUBTRACT, "compact")])]),
                         [(NONE, None, TOPIC, "ac-inc")])
        eventually(self, lambda: entry(self.broker, TOPIC, "ac-inc", "cleanup.policy")[0], "delete")
        # Subtracting every item leaves an empty list, still an override.
        incremental_v1(self.broker, [(TOPIC, "ac-inc", [("cleanup.policy", SUBTRACT, "delete")])])
        eventually(self, lambda: entry(self.broker, TOPIC, "ac-inc", "cleanup.policy")[:2], ("", DYNAMIC_TOPIC_CONFIG))

        # DELETE goes back to the default; deleting an unknown key is no error.
        self.assertEqual(incremental_v1(self.broker, [(TOPIC, "ac-inc", [("retention.ms", DELETE, None),
                                                                          ("foo.bar", DELETE, None)])]),
                         [(NONE, None, TOPIC, "ac-inc")])
        eventually(self, lambda: entry(self.broker, TOPIC, "ac-inc", "retention.ms"), ("604800000", DEFAULT_CONFIG, []))
        self.assertEqual(entry(self.broker, TOPIC, "ac-inc", "segment.ms")[:2], ("100000", DYNAMIC_TOPIC_CONFIG))

    def test_append_to_unset_list_starts_from_the_default(self):
        self.topic("ac-app")
        incremental_v1(self.broker, [(TOPIC, "ac-app", [("cleanup.policy", APPEND, "compact")])])
        eventually(self, lambda: entry(self.broker, TOPIC, "ac-app", "cleanup.policy")[:2],
                   ("delete,compact", DYNAMIC_TOPIC_CONFIG))

    def test_alter_configs_replaces_the_whole_set(self):
        self.topic("ac-rep", {"retention.ms": "1000", "cleanup.policy": "compact"})
        self.assertEqual(alter_v2(self.broker, [(TOPIC, "ac-rep", [("segment.ms", "100000")])]),
                         [(NONE, None, TOPIC, "ac-rep")])
        eventually(self, lambda: entry(self.broker, TOPIC, "ac-rep", "segment.ms")[:2], ("100000", DYNAMIC_TOPIC_CONFIG))
        self.assertEqual(entry(self.broker, TOPIC, "ac-rep", "retention.ms"), ("604800000", DEFAULT_CONFIG, []))
        self.assertEqual(entry(self.broker, TOPIC, "ac-rep", "cleanup.policy"),
                         ("delete", DEFAULT_CONFIG, [("log.cleanup.policy", "delete", DEFAULT_CONFIG)]))

    def test_validate_only_changes_nothing(self):
        self.topic("ac-val", {"retention.ms": "1000"})
        self.assertEqual(alter_v2(self.broker, [(TOPIC, "ac-val", [("segment.ms", "100000")])], validate_only=True),
                         [(NONE, None, TOPIC, "ac-val")])
        self.assertEqual(incremental_v1(self.broker, [(TOPIC, "ac-val", [("retention.ms", SET, "5")])],
                                        validate_only=True), [(NONE, None, TOPIC, "ac-val")])
        # A failing one still fails.
        self.assertEqual(incremental_v1(self.broker, [(TOPIC, "ac-val", [("foo.bar", SET, "1")])],
                                        validate_only=True),
                         [(INVALID_CONFIG, "Unknown topic config name: foo.bar", TOPIC, "ac-val")])
        self.assertEqual(entry(self.broker, TOPIC, "ac-val", "retention.ms")[:2], ("1000", DYNAMIC_TOPIC_CONFIG))
        self.assertEqual(entry(self.broker, TOPIC, "ac-val", "segment.ms")[:2], ("604800000", DEFAULT_CONFIG))

    def test_topic_errors(self):
        self.topic("ac-err", {"retention.ms": "1000"})
        b = self.broker

        def one(key, op, value):
            return incremental_v1(b, [(TOPIC, "ac-err", [(key, op, value)])])[0][:2]

        self.assertEqual(incremental_v1(b, [(TOPIC, "ac-none", [("retention.ms", SET, "1")])]),
                         [(UNKNOWN_TOPIC_OR_PARTITION, "The topic 'ac-none' does not exist.", TOPIC, "ac-none")])
        self.assertEqual(alter_v2(b, [(TOPIC, "ac-none", [("retention.ms", "1")])]),
                         [(UNKNOWN_TOPIC_OR_PARTITION, "The topic 'ac-none' does not exist.", TOPIC, "ac-none")])
        self.assertEqual(one("foo.bar", SET, "1"), (INVALID_CONFIG, "Unknown topic config name: foo.bar"))
        self.assertEqual(alter_v2(b, [(TOPIC, "ac-err", [("foo.bar", "5")])])[0][:2],
                         (INVALID_CONFIG, "Unknown topic config name: foo.bar"))
        err, msg = one("retention.ms", SET, "abc")
        self.assertEqual(err, INVALID_CONFIG)
        self.assertTrue(msg.startswith("Invalid value abc for configuration retention.ms: "), msg)
        err, msg = one("cleanup.policy", APPEND, "foo")
        self.assertEqual(err, INVALID_CONFIG)
        self.assertTrue(msg.startswith("Invalid value foo for configuration cleanup.policy: "), msg)
        self.assertEqual(one("retention.ms", APPEND, "5"),
                         (INVALID_CONFIG, "Can't APPEND to key retention.ms because its type is not LIST."))
        self.assertEqual(one("retention.ms", SUBTRACT, "5"),
                         (INVALID_CONFIG, "Can't SUBTRACT to key retention.ms because its type is not LIST."))
        self.assertEqual(one("retention.ms", SET, None),
                         (INVALID_REQUEST, "Null value not supported for : retention.ms"))
        self.assertEqual(alter_v2(b, [(TOPIC, "ac-err", [("retention.ms", None)])])[0][:2],
                         (INVALID_REQUEST, "Null value not supported for : retention.ms"))
        self.assertEqual(one("retention.ms", 7, "1"), (UNKNOWN_SERVER_ERROR, None))
        self.assertEqual(incremental_v1(b, [(TOPIC, "ac-err", [("retention.ms", SET, "1"),
                                                                ("retention.ms", SET, "2")])])[0][:2],
                         (INVALID_REQUEST, "Error due to duplicate config keys"))
        self.assertEqual(alter_v2(b, [(TOPIC, "ac-err", [("retention.ms", "1"), ("retention.ms", "2")])])[0][:2],
                         (INVALID_REQUEST, "Error due to duplicate config keys"))
        self.assertEqual(incremental_v1(b, [(TOPIC, "ac-err", [("min.compaction.lag.ms", SET, "10"),
                                                                ("max.compaction.lag.ms", SET, "5")])])[0][:2],
                         (INVALID_CONFIG,
                          "conflict topic config setting min.compaction.lag.ms (10) > max.compaction.lag.ms (5)"))
        twice = incremental_v1(b, [(TOPIC, "ac-err", [("retention.ms", SET, "1")]),
                                   (TOPIC, "ac-err", [("retention.ms", SET, "2")])])
        self.assertEqual(twice, [(INVALID_REQUEST, "Each resource must appear at most once.", TOPIC, "ac-err")] * 2)
        self.assertEqual(incremental_v1(b, [(TOPIC, "", [("retention.ms", SET, "1")])]),
                         [(INVALID_REQUEST, "Default topic resources are not allowed.", TOPIC, "")])
        self.assertEqual(incremental_v1(b, [(TOPIC, "a/b", [("retention.ms", SET, "1")])])[0][0],
                         INVALID_TOPIC_EXCEPTION)
        self.assertEqual(incremental_v1(b, [(1, "x", [("retention.ms", SET, "1")])]),
                         [(INVALID_REQUEST, "Unknown resource type 1", 1, "x")])
        self.assertEqual(alter_v2(b, []), [])
        self.assertEqual(incremental_v1(b, [(TOPIC, "ac-err", [])]), [(NONE, None, TOPIC, "ac-err")])
        # Nothing of the above changed the topic.
        self.assertEqual(entry(b, TOPIC, "ac-err", "retention.ms")[:2], ("1000", DYNAMIC_TOPIC_CONFIG))

    def test_incremental_v0(self):
        self.topic("ac-v0")
        self.assertEqual(incremental_v0(self.broker, [(TOPIC, "ac-v0", [("retention.ms", SET, "3000")])]),
                         [(NONE, None, TOPIC, "ac-v0")])
        eventually(self, lambda: entry(self.broker, TOPIC, "ac-v0", "retention.ms")[:2], ("3000", DYNAMIC_TOPIC_CONFIG))

    def test_confluent_kafka_alter_configs(self):
        """Debian's confluent-kafka 1.7: alter_configs (AlterConfigs v0)."""
        from confluent_kafka.admin import ConfigResource, NewTopic
        self.assertEqual(create(self.admin, [NewTopic("ac-ck1", 1, 1, config={"retention.ms": "1000"})]),
                         {"ac-ck1": None})
        res = ConfigResource(ConfigResource.Type.TOPIC, "ac-ck1", set_config={"segment.ms": "3600000"})
        for f in self.admin.alter_configs([res], request_timeout=15).values():
            f.result(timeout=20)
        eventually(self, lambda: entry(self.broker, TOPIC, "ac-ck1", "segment.ms")[:2],
                   ("3600000", DYNAMIC_TOPIC_CONFIG))
        self.assertEqual(entry(self.broker, TOPIC, "ac-ck1", "retention.ms")[:2], ("604800000", DEFAULT_CONFIG))

    def test_confluent_kafka_incremental_alter(self):
        """confluent-kafka 2.16's incremental_alter_configs (Debian's 1.7 has
        none), run under the clients' virtualenv (scripts/install-clients)."""
        py = os.path.join(os.environ.get("GREGOR_CLIENTS") or os.path.join(TOP, "build", "clients"), "python")
        if not os.access(py, os.X_OK):
            raise AssertionError("no %s: run scripts/install-clients (scripts/test does)" % py)
        self.topic("ac-ck")
        p = subprocess.run([py, "-c", INCREMENTAL_SCRIPT, self.broker.bootstrap, "ac-ck"], stdin=subprocess.DEVNULL,
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout.split(), ["ok", "INVALID_CONFIG"])
        eventually(self, lambda: entry(self.broker, TOPIC, "ac-ck", "retention.ms")[:2], ("4000", DYNAMIC_TOPIC_CONFIG))
        eventually(self, lambda: entry(self.broker, TOPIC, "ac-ck", "cleanup.policy")[0], "delete,compact")

    # ---- BROKER ---------------------------------------------------------------------

    def test_broker_levels_and_topic_defaults(self):
        """The cluster default and this node's value, each with its source,
        and topics without an override following them."""
        b, me = self.broker, str(NODE_ID)
        self.topic("ac-bd")
        self.topic("ac-bd-own", {"retention.ms": "1000"})
        self.addCleanup(incremental_v1, b, [(BROKER, "", [("log.retention.ms", DELETE, None),
                                                          ("log.segment.bytes", DELETE, None)]),
                                            (BROKER, me, [("log.segment.bytes", DELETE, None),
                                                          ("log.cleanup.policy", DELETE, None)])])
        self.assertEqual(incremental_v1(b, [(BROKER, "", [("log.retention.ms", SET, "3600000"),
                                                          ("log.segment.bytes", SET, "4194304")])]),
                         [(NONE, None, BROKER, "")])
        self.assertEqual(incremental_v1(b, [(BROKER, me, [("log.segment.bytes", SET, "2097152"),
                                                          ("log.cleanup.policy", APPEND, "compact")])]),
                         [(NONE, None, BROKER, me)])
        eventually(self, lambda: entry(b, BROKER, me, "log.segment.bytes"),
                   ("2097152", DYNAMIC_BROKER_CONFIG, [("log.segment.bytes", "2097152", DYNAMIC_BROKER_CONFIG),
                                                       ("log.segment.bytes", "4194304", DYNAMIC_DEFAULT_BROKER_CONFIG),
                                                       ("log.segment.bytes", "1073741824", DEFAULT_CONFIG)]))
        eventually(self, lambda: entry(b, BROKER, me, "log.retention.ms"),
                   ("3600000", DYNAMIC_DEFAULT_BROKER_CONFIG,
                    [("log.retention.ms", "3600000", DYNAMIC_DEFAULT_BROKER_CONFIG),
                     ("log.retention.hours", "168", DEFAULT_CONFIG)]))
        self.assertEqual(entry(b, BROKER, me, "log.cleanup.policy"),
                         ("delete,compact", DYNAMIC_BROKER_CONFIG,
                          [("log.cleanup.policy", "delete,compact", DYNAMIC_BROKER_CONFIG),
                           ("log.cleanup.policy", "delete", DEFAULT_CONFIG)]))
        c = describe(b, BROKER, me, ["log.segment.bytes", "log.retention.hours"])
        self.assertEqual((c["log.segment.bytes"]["read_only"], c["log.retention.hours"]["read_only"]), (False, True))
        # The cluster defaults list what was set there, each its own synonym.
        d = describe(b, BROKER, "")
        self.assertEqual({k: (v["value"], v["source"], v["synonyms"]) for k, v in d.items()
                          if k != "min.insync.replicas"},
                         {"log.retention.ms": ("3600000", DYNAMIC_DEFAULT_BROKER_CONFIG,
                                               [("log.retention.ms", "3600000", DYNAMIC_DEFAULT_BROKER_CONFIG)]),
                          "log.segment.bytes": ("4194304", DYNAMIC_DEFAULT_BROKER_CONFIG,
                                                [("log.segment.bytes", "4194304", DYNAMIC_DEFAULT_BROKER_CONFIG)])})
        # The topics: the new defaults, under their own overrides.
        self.assertEqual(entry(b, TOPIC, "ac-bd", "segment.bytes"),
                         ("2097152", DYNAMIC_BROKER_CONFIG,
                          [("log.segment.bytes", "2097152", DYNAMIC_BROKER_CONFIG),
                           ("log.segment.bytes", "4194304", DYNAMIC_DEFAULT_BROKER_CONFIG),
                           ("log.segment.bytes", "1073741824", DEFAULT_CONFIG)]))
        self.assertEqual(entry(b, TOPIC, "ac-bd", "retention.ms")[:2], ("3600000", DYNAMIC_DEFAULT_BROKER_CONFIG))
        self.assertEqual(entry(b, TOPIC, "ac-bd-own", "retention.ms"),
                         ("1000", DYNAMIC_TOPIC_CONFIG, [("retention.ms", "1000", DYNAMIC_TOPIC_CONFIG),
                                                         ("log.retention.ms", "3600000",
                                                          DYNAMIC_DEFAULT_BROKER_CONFIG),
                                                         ("log.retention.hours", "168", DEFAULT_CONFIG)]))
        # DELETE of this node's value falls back to the cluster default.
        incremental_v1(b, [(BROKER, me, [("log.segment.bytes", DELETE, None)])])
        eventually(self, lambda: entry(b, TOPIC, "ac-bd", "segment.bytes")[:2],
                   ("4194304", DYNAMIC_DEFAULT_BROKER_CONFIG))

    def test_new_segment_size_applies_to_existing_partitions(self):
        """A smaller log.segment.bytes for the cluster makes an existing
        partition without an override roll at the new size."""
        from confluent_kafka import Producer
        b = self.broker
        self.topic("ac-roll")
        self.addCleanup(incremental_v1, b, [(BROKER, "", [("log.segment.bytes", DELETE, None)])])
        self.assertEqual(incremental_v1(b, [(BROKER, "", [("log.segment.bytes", SET, "1048576")])]),
                         [(NONE, None, BROKER, "")])
        eventually(self, lambda: entry(b, TOPIC, "ac-roll", "segment.bytes")[:2],
                   ("1048576", DYNAMIC_DEFAULT_BROKER_CONFIG))
        p = Producer({"bootstrap.servers": b.bootstrap, "linger.ms": 0, "compression.type": "none"})
        for _ in range(4):
            p.produce("ac-roll", os.urandom(400 * 1024))
            p.flush(20)
        d = os.path.join(b.data_dir, "data", "ac-roll-0")
        self.assertGreaterEqual(len([n for n in os.listdir(d) if n.endswith(".log")]), 2)

    def test_broker_alter_configs_replaces_this_level(self):
        b, me = self.broker, str(NODE_ID)
        self.addCleanup(alter_v2, b, [(BROKER, me, [])])
        incremental_v1(b, [(BROKER, me, [("log.cleaner.threads", SET, "2"),
                                         ("log.segment.delete.delay.ms", SET, "1000")])])
        eventually(self, lambda: entry(b, BROKER, me, "log.segment.delete.delay.ms")[:2],
                   ("1000", DYNAMIC_BROKER_CONFIG))
        self.assertEqual(alter_v2(b, [(BROKER, me, [("log.cleaner.threads", "2")])]), [(NONE, None, BROKER, me)])
        eventually(self, lambda: entry(b, BROKER, me, "log.segment.delete.delay.ms")[:2], ("60000", DEFAULT_CONFIG))

    def test_broker_validate_only(self):
        b, me = self.broker, str(NODE_ID)
        self.assertEqual(incremental_v1(b, [(BROKER, me, [("message.max.bytes", SET, "2000000")])],
                                        validate_only=True), [(NONE, None, BROKER, me)])
        self.assertEqual(entry(b, BROKER, me, "message.max.bytes")[:2], ("1048588", DEFAULT_CONFIG))

    def test_broker_errors(self):
        b, me = self.broker, str(NODE_ID)
        self.assertEqual(incremental_v1(b, [(BROKER, me, [("node.id", SET, "4"), ("log.dirs", SET, "/x")])]),
                         [(INVALID_REQUEST, "Cannot update these configs dynamically: [node.id, log.dirs]",
                           BROKER, me)])
        self.assertEqual(alter_v2(b, [(BROKER, "", [("log.retention.hours", "2")])]),
                         [(INVALID_REQUEST, "Cannot update these configs dynamically: [log.retention.hours]",
                           BROKER, "")])
        self.assertEqual(incremental_v1(b, [(BROKER, "7", [("log.retention.ms", SET, "1000")])]),
                         [(INVALID_REQUEST, "Unexpected broker id, expected %d, but received 7" % NODE_ID,
                           BROKER, "7")])
        self.assertEqual(alter_v2(b, [(BROKER, "xx", [("log.retention.ms", "1000")])]),
                         [(INVALID_REQUEST, "Node id must be an integer, but it is: xx", BROKER, "xx")])
        self.assertEqual(incremental_v1(b, [(BROKER, me, [("log.retention.ms", APPEND, "1000")])])[0][:2],
                         (INVALID_CONFIG, "Config value append is not allowed for config key: log.retention.ms"))
        self.assertEqual(incremental_v1(b, [(BROKER, me, [("log.retention.ms", SUBTRACT, "1000")])])[0][:2],
                         (INVALID_CONFIG, "Config value subtract is not allowed for config key: log.retention.ms"))
        self.assertEqual(incremental_v1(b, [(BROKER, me, [("log.segment.bytes", SET, None)])])[0][:2],
                         (INVALID_REQUEST, "Null value not supported for : log.segment.bytes"))
        err, msg, _, _ = incremental_v1(b, [(BROKER, me, [("log.retention.ms", SET, "abc")])])[0]
        self.assertEqual(err, INVALID_REQUEST)
        self.assertTrue(msg.startswith("Invalid value abc for configuration log.retention.ms: "), msg)
        # Keys Kafka does not know are accepted (and mean nothing).
        self.assertEqual(incremental_v1(b, [(BROKER, me, [("ac.no.such.key", DELETE, None)])]),
                         [(NONE, None, BROKER, me)])
        self.assertEqual(entry(b, BROKER, me, "log.retention.ms")[:2], (None, DEFAULT_CONFIG))

    # ---- BROKER_LOGGER ----------------------------------------------------------------

    def test_broker_logger(self):
        b, me = self.broker, str(NODE_ID)
        root = describe(b, BROKER_LOGGER, me)["root"]
        self.assertEqual(root, {"name": "root", "value": "INFO", "read_only": False,
                                "source": DYNAMIC_BROKER_LOGGER_CONFIG, "sensitive": False, "synonyms": [],
                                "type": 0, "doc": ""})
        self.addCleanup(incremental_v1, b, [(BROKER_LOGGER, me, [("root", SET, "INFO")])])
        self.assertEqual(incremental_v1(b, [(BROKER_LOGGER, me, [("root", SET, "WARN")])]),
                         [(NONE, None, BROKER_LOGGER, me)])
        self.assertEqual(describe(b, BROKER_LOGGER, me, ["root"])["root"]["value"], "WARN")
        self.assertEqual(incremental_v1(b, [(BROKER_LOGGER, me, [("root", SET, "ERROR")])], validate_only=True),
                         [(NONE, None, BROKER_LOGGER, me)])
        self.assertEqual(describe(b, BROKER_LOGGER, me, ["root"])["root"]["value"], "WARN")

        def one(key, op, value, name=me):
            return incremental_v1(b, [(BROKER_LOGGER, name, [(key, op, value)])])[0][:2]

        self.assertEqual(one("root", SET, "LOUD"),
                         (INVALID_CONFIG, "Cannot set the log level of root to LOUD as it is not a supported log "
                                          "level. Valid log levels are DEBUG, ERROR, FATAL, INFO, TRACE, WARN"))
        self.assertEqual(one("root", SET, "debug")[0], INVALID_CONFIG)
        self.assertEqual(one("ac.no.such.logger", SET, "DEBUG"),
                         (INVALID_CONFIG, "Logger ac.no.such.logger does not exist!"))
        self.assertEqual(one("root", DELETE, None),
                         (INVALID_REQUEST, "Removing the log level of the root logger is not allowed"))
        self.assertEqual(one("root", APPEND, "DEBUG"),
                         (INVALID_REQUEST, "APPEND operation is not allowed for the BROKER_LOGGER resource"))
        self.assertEqual(one("root", SUBTRACT, "DEBUG"),
                         (INVALID_REQUEST, "SUBTRACT operation is not allowed for the BROKER_LOGGER resource"))
        self.assertEqual(one("root", SET, None), (INVALID_REQUEST, "Null value not supported for : root"))
        self.assertEqual(one("root", SET, "DEBUG", name=""),
                         (INVALID_REQUEST, "Node id must be an integer, but it is: "))
        self.assertEqual(one("root", SET, "DEBUG", name="7"),
                         (INVALID_REQUEST, "Unexpected node id. Expected %d, but received 7" % NODE_ID))
        # All or nothing: the valid change beside a failing one is not made.
        self.assertEqual(incremental_v1(b, [(BROKER_LOGGER, me, [("root", SET, "ERROR"),
                                                                 ("ac.no.such", SET, "WARN")])])[0][:2],
                         (INVALID_CONFIG, "Logger ac.no.such does not exist!"))
        self.assertEqual(describe(b, BROKER_LOGGER, me, ["root"])["root"]["value"], "WARN")
        # AlterConfigs does not know the resource type.
        self.assertEqual(alter_v2(b, [(BROKER_LOGGER, me, [("root", "DEBUG")])]),
                         [(INVALID_REQUEST, "Unknown resource type 8", BROKER_LOGGER, me)])
        res = describe_configs_v4(b, [(BROKER_LOGGER, "7", None), (BROKER_LOGGER, "x", None)])
        self.assertEqual([(r["error"], r["message"]) for r in res],
                         [(INVALID_REQUEST, "Unexpected broker id, expected %d but received 7" % NODE_ID),
                          (INVALID_REQUEST, "Broker id must be an integer, but it is: x")])

    @gregor_only("the level's effect on Gregor's own log lines")
    def test_broker_logger_level_takes_effect(self):
        b, me = self.broker, str(NODE_ID)
        self.addCleanup(incremental_v1, b, [(BROKER_LOGGER, me, [("root", SET, "INFO")])])
        incremental_v1(b, [(BROKER_LOGGER, me, [("root", SET, "DEBUG")])])
        describe(b, BROKER_LOGGER, me)  # a new connection: a DEBUG line
        b.wait_for_log(r"DEBUG connection from")
        b.wait_for_log(r"INFO  log level INFO -> DEBUG")

    # ---- GROUP --------------------------------------------------------------------------

    def test_group_describe_defaults(self):
        """Every group config Kafka 4.4 lists for a group that does not exist,
        with its default, source, synonyms, type and documentation."""
        res = describe_configs_v4(self.broker, [(GROUP, "gc-none", None)])[0]
        self.assertEqual((res["error"], res["message"]), (NONE, ""))
        got = {k: (c["value"], c["read_only"], c["source"], c["sensitive"], c["synonyms"], c["type"])
               for k, c in res["configs"].items()}
        self.assertEqual(got, GROUP_DEFAULTS)
        self.assertEqual(res["configs"]["consumer.session.timeout.ms"]["doc"],
                         "The timeout to detect client failures when using the consumer group protocol.")
        self.assertEqual(res["configs"]["share.isolation.level"]["doc"], GROUP_ISOLATION_DOC)
        res = describe_configs_v4(self.broker, [(GROUP, "", None)], documentation=False)[0]
        self.assertEqual((res["error"], res["message"], res["configs"]),
                         (INVALID_REQUEST, "Group name must not be empty", {}))

    def test_group_set_delete_alter(self):
        g = "gc-set"
        self.assertEqual(incremental_v1(self.broker, [(GROUP, g, [("consumer.session.timeout.ms", SET, "50000"),
                                                                  ("share.auto.offset.reset", SET, "earliest"),
                                                                  ("share.renew.acknowledge.enable", SET, "TRUE"),
                                                                  ("streams.rack.aware.assignment.tags", SET,
                                                                   " a, b")])]),
                         [(NONE, None, GROUP, g)])
        eventually(self, lambda: entry(self.broker, GROUP, g, "consumer.session.timeout.ms"),
                   ("50000", DYNAMIC_GROUP_CONFIG, [("consumer.session.timeout.ms", "50000", DYNAMIC_GROUP_CONFIG),
                                                    ("group.consumer.session.timeout.ms", "45000", DEFAULT_CONFIG)]))
        self.assertEqual(entry(self.broker, GROUP, g, "share.auto.offset.reset"),
                         ("earliest", DYNAMIC_GROUP_CONFIG, [("share.auto.offset.reset", "earliest",
                                                              DYNAMIC_GROUP_CONFIG),
                                                             ("share.auto.offset.reset", "latest", DEFAULT_CONFIG)]))
        # Kafka keeps and describes the parsed value
        self.assertEqual(entry(self.broker, GROUP, g, "share.renew.acknowledge.enable")[:2],
                         ("true", DYNAMIC_GROUP_CONFIG))
        self.assertEqual(entry(self.broker, GROUP, g, "streams.rack.aware.assignment.tags")[:2],
                         ("a,b", DYNAMIC_GROUP_CONFIG))
        # DELETE: back to the default; a key not set, or unknown, is no error
        self.assertEqual(incremental_v1(self.broker, [(GROUP, g, [("consumer.session.timeout.ms", DELETE, None),
                                                                  ("nokey", DELETE, None)])]),
                         [(NONE, None, GROUP, g)])
        eventually(self, lambda: entry(self.broker, GROUP, g, "consumer.session.timeout.ms"),
                   ("45000", DEFAULT_CONFIG, [("group.consumer.session.timeout.ms", "45000", DEFAULT_CONFIG)]))
        self.assertEqual(entry(self.broker, GROUP, g, "share.auto.offset.reset")[:2], ("earliest", DYNAMIC_GROUP_CONFIG))
        # AlterConfigs replaces the whole set
        self.assertEqual(alter_v2(self.broker, [(GROUP, g, [("consumer.heartbeat.interval.ms", "6000")])]),
                         [(NONE, None, GROUP, g)])
        eventually(self, lambda: entry(self.broker, GROUP, g, "consumer.heartbeat.interval.ms")[:2],
                   ("6000", DYNAMIC_GROUP_CONFIG))
        self.assertEqual(entry(self.broker, GROUP, g, "share.auto.offset.reset")[:2], ("latest", DEFAULT_CONFIG))
        self.assertEqual(incremental_v0(self.broker, [(GROUP, g, [("share.isolation.level", SET, "read_committed")])]),
                         [(NONE, None, GROUP, g)])
        eventually(self, lambda: entry(self.broker, GROUP, g, "share.isolation.level")[:2],
                   ("read_committed", DYNAMIC_GROUP_CONFIG))

    def test_group_validate_only(self):
        g = "gc-vo"
        self.assertEqual(incremental_v1(self.broker, [(GROUP, g, [("consumer.session.timeout.ms", SET, "50000")])],
                                        validate_only=True), [(NONE, None, GROUP, g)])
        self.assertEqual(alter_v2(self.broker, [(GROUP, g, [("consumer.session.timeout.ms", "50000")])],
                                  validate_only=True), [(NONE, None, GROUP, g)])
        self.assertEqual(incremental_v1(self.broker, [(GROUP, g, [("consumer.session.timeout.ms", SET, "1")])],
                                        validate_only=True),
                         [(INVALID_CONFIG, "consumer.session.timeout.ms must be in the range 45000 to 60000 inclusive.",
                           GROUP, g)])
        # something else set since, so that the answer above had time to show on Kafka
        incremental_v1(self.broker, [(GROUP, g, [("share.delivery.count.limit", SET, "3")])])
        eventually(self, lambda: entry(self.broker, GROUP, g, "share.delivery.count.limit")[:2],
                   ("3", DYNAMIC_GROUP_CONFIG))
        self.assertEqual(entry(self.broker, GROUP, g, "consumer.session.timeout.ms")[:2], ("45000", DEFAULT_CONFIG))

    def test_group_errors(self):
        g = "gc-err"

        def one(key, op, value):
            return incremental_v1(self.broker, [(GROUP, g, [(key, op, value)])])[0][:2]

        for key, value, want in GROUP_BAD_VALUES:
            self.assertEqual(one(key, SET, value), (INVALID_CONFIG, want), (key, value))
            self.assertEqual(alter_v2(self.broker, [(GROUP, g, [(key, value)])])[0][:2], (INVALID_CONFIG, want))
        self.assertEqual(one("nokey", SET, "1"), (INVALID_CONFIG, "Unknown group config name: nokey"))
        for op, name in ((APPEND, "APPEND"), (SUBTRACT, "SUBTRACT")):
            for key in ("consumer.session.timeout.ms", "streams.rack.aware.assignment.tags", "nokey"):
                self.assertEqual(one(key, op, "a"),
                                 (INVALID_CONFIG, "Can't %s to key %s because its type is not LIST." % (name, key)))
        self.assertEqual(one("consumer.session.timeout.ms", SET, None),
                         (INVALID_REQUEST, "Null value not supported for : consumer.session.timeout.ms"))
        self.assertEqual(incremental_v1(self.broker, [(GROUP, "", [("consumer.session.timeout.ms", SET, "50000")])]),
                         [(INVALID_REQUEST, "Default group resources are not allowed.", GROUP, "")])
        self.assertEqual(alter_v2(self.broker, [(GROUP, "", [])]),
                         [(INVALID_REQUEST, "Default group resources are not allowed.", GROUP, "")])
        # an unknown key wins over a bad value; every value's type before any bound, bounds in Kafka's order
        self.assertEqual(incremental_v1(self.broker, [(GROUP, g, [("consumer.session.timeout.ms", SET, "1"),
                                                                  ("nokey", SET, "x")])])[0][:2],
                         (INVALID_CONFIG, "Unknown group config name: nokey"))
        self.assertEqual(incremental_v1(self.broker, [(GROUP, g, [("consumer.session.timeout.ms", SET, "1"),
                                                                  ("consumer.heartbeat.interval.ms", SET, "x")])])[0][:2],
                         (INVALID_CONFIG, "Invalid value x for configuration consumer.heartbeat.interval.ms: Not a "
                                          "number of type INT"))
        self.assertEqual(incremental_v1(self.broker, [(GROUP, g, [("consumer.session.timeout.ms", SET, "1"),
                                                                  ("consumer.heartbeat.interval.ms", SET, "1")])])[0][:2],
                         (INVALID_CONFIG, "consumer.heartbeat.interval.ms must be in the range 5000 to 15000 "
                                          "inclusive."))
        for value in ("by_duration:PT1H", "by_duration:P1DT2H3M4.5S", "latest"):
            self.assertEqual(incremental_v1(self.broker, [(GROUP, g, [("share.auto.offset.reset", SET, value)])],
                                            validate_only=True), [(NONE, None, GROUP, g)])
        # nothing of the above was kept
        self.assertEqual(entry(self.broker, GROUP, g, "consumer.session.timeout.ms")[:2], ("45000", DEFAULT_CONFIG))

    def test_group_existing_classic_group(self):
        """A classic group's configs are set and described as any group's;
        the group goes on as it was (its session timeout is JoinGroup's)."""
        g = "gc-classic"
        wait_group_coordinator(self.broker.host, self.broker.port, g)
        with Conn(self.broker.host, self.broker.port) as c:
            c.send(join_group_v0(g, "", session_ms=10000))
            self.assertEqual(decode_join_group(0, c.recv_frame())["error_code"], NONE)
            self.assertEqual(incremental_v1(self.broker, [(GROUP, g, [("consumer.session.timeout.ms", SET,
                                                                       "50000")])]),
                             [(NONE, None, GROUP, g)])
            eventually(self, lambda: entry(self.broker, GROUP, g, "consumer.session.timeout.ms")[:2],
                       ("50000", DYNAMIC_GROUP_CONFIG))
            c.send(describe_groups_v0([g]))
            groups = decode_describe_groups_v0(c.recv_frame())
            self.assertEqual(groups[0]["error_code"], NONE)
            self.assertEqual(len(groups[0]["members"]), 1)


class AlterConfigsRestartTest(unittest.TestCase):
    """Topic overrides and dynamic broker configs survive a restart."""

    def test_persisted_across_restart(self):
        me = str(NODE_ID)
        first = Broker(node_id=NODE_ID)
        self.addCleanup(first.cleanup)
        first.start()
        self.assertEqual(create_topics_v7(first, [("ac-keep", 1, 1, None, {"cleanup.policy": "compact"})])[0]["error"],
                         NONE)
        self.assertEqual(incremental_v1(first, [(TOPIC, "ac-keep", [("retention.ms", SET, "5000"),
                                                                     ("cleanup.policy", DELETE, None)]),
                                                (BROKER, "", [("log.retention.bytes", SET, "123456789")]),
                                                (BROKER, me, [("message.max.bytes", SET, "2000000")]),
                                                (GROUP, "ac/keep =g", [("consumer.session.timeout.ms", SET, "50000"),
                                                                       ("share.auto.offset.reset", SET, "earliest")]),
                                                (GROUP, "ac-gone", [("share.delivery.count.limit", SET, "3")])]),
                         [(NONE, None, TOPIC, "ac-keep"), (NONE, None, BROKER, ""), (NONE, None, BROKER, me),
                          (NONE, None, GROUP, "ac/keep =g"), (NONE, None, GROUP, "ac-gone")])
        self.assertEqual(incremental_v1(first, [(GROUP, "ac-gone", [("share.delivery.count.limit", DELETE, None)])]),
                         [(NONE, None, GROUP, "ac-gone")])
        eventually(self, lambda: entry(first, GROUP, "ac/keep =g", "share.auto.offset.reset")[:2],
                   ("earliest", DYNAMIC_GROUP_CONFIG))
        eventually(self, lambda: entry(first, GROUP, "ac-gone", "share.delivery.count.limit")[:2],
                   ("5", DEFAULT_CONFIG))
        eventually(self, lambda: entry(first, BROKER, me, "message.max.bytes")[:2], ("2000000", DYNAMIC_BROKER_CONFIG))
        eventually(self, lambda: entry(first, TOPIC, "ac-keep", "retention.ms")[:2], ("5000", DYNAMIC_TOPIC_CONFIG))
        eventually(self, lambda: entry(first, TOPIC, "ac-keep", "retention.bytes")[:2],
                   ("123456789", DYNAMIC_DEFAULT_BROKER_CONFIG))
        first.stop()

        second = Broker(node_id=NODE_ID, data_dir=first.data_dir)
        self.addCleanup(second.cleanup)
        with second:
            eventually(self, lambda: entry(second, TOPIC, "ac-keep", "retention.ms")[:2],
                       ("5000", DYNAMIC_TOPIC_CONFIG))
            self.assertEqual(entry(second, TOPIC, "ac-keep", "cleanup.policy")[:2], ("delete", DEFAULT_CONFIG))
            eventually(self, lambda: entry(second, TOPIC, "ac-keep", "retention.bytes"),
                       ("123456789", DYNAMIC_DEFAULT_BROKER_CONFIG,
                        [("log.retention.bytes", "123456789", DYNAMIC_DEFAULT_BROKER_CONFIG),
                         ("log.retention.bytes", "-1", DEFAULT_CONFIG)]))
            self.assertEqual(entry(second, BROKER, me, "message.max.bytes"),
                             ("2000000", DYNAMIC_BROKER_CONFIG,
                              [("message.max.bytes", "2000000", DYNAMIC_BROKER_CONFIG),
                               ("message.max.bytes", "1048588", DEFAULT_CONFIG)]))
            self.assertEqual(entry(second, TOPIC, "ac-keep", "max.message.bytes")[:2],
                             ("2000000", DYNAMIC_BROKER_CONFIG))
            self.assertEqual(entry(second, GROUP, "ac/keep =g", "consumer.session.timeout.ms"),
                             ("50000", DYNAMIC_GROUP_CONFIG,
                              [("consumer.session.timeout.ms", "50000", DYNAMIC_GROUP_CONFIG),
                               ("group.consumer.session.timeout.ms", "45000", DEFAULT_CONFIG)]))
            self.assertEqual(entry(second, GROUP, "ac/keep =g", "share.auto.offset.reset")[:2],
                             ("earliest", DYNAMIC_GROUP_CONFIG))
            self.assertEqual(entry(second, GROUP, "ac-gone", "share.delivery.count.limit")[:2], ("5", DEFAULT_CONFIG))
            if not on_kafka():
                with open(os.path.join(second.data_dir, "data", "gregor-broker-configs.properties")) as f:
                    text = f.read()
                self.assertIn("default/log.retention.bytes=123456789\n", text)
                self.assertIn("%s/message.max.bytes=2000000\n" % me, text)
                with open(os.path.join(second.data_dir, "data", "gregor-group-configs.properties")) as f:
                    text = f.read()
                self.assertIn("ac%2Fkeep%20%3Dg/consumer.session.timeout.ms=50000\n", text)
                self.assertNotIn("ac-gone", text)
