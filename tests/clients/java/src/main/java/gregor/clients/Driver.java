package gregor.clients;

import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.stream.Collectors;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.Config;
import org.apache.kafka.clients.admin.ConfigEntry;
import org.apache.kafka.clients.admin.ListOffsetsResult.ListOffsetsResultInfo;
import org.apache.kafka.clients.admin.NewPartitions;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.clients.consumer.CloseOptions;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.CooperativeStickyAssignor;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.consumer.RangeAssignor;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.KafkaFuture;
import org.apache.kafka.common.Node;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.errors.UnknownTopicOrPartitionException;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.internals.RecordHeader;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

/**
 * Client-compatibility driver for the Java client (org.apache.kafka:kafka-clients).
 *
 * <pre>
 *   java -jar gregor-java-driver.jar --bootstrap HOST:PORT --client java [--only CAP[,CAP...]]
 * </pre>
 *
 * Prints one JSON line per capability on stdout (see tests/clients/README.md);
 * short progress lines and the client's own logs (level from GREGOR_JAVA_LOG,
 * default "error") go to stderr.
 */
public final class Driver {

    /** Capability names, in the order they run, with their deadlines in seconds. */
    private static final LinkedHashMap<String, Integer> CAPABILITIES = new LinkedHashMap<>();

    static {
        CAPABILITIES.put("metadata", 30);
        for (String codec : new String[] {"none", "gzip", "snappy", "lz4", "zstd"}) {
            CAPABILITIES.put("produce-consume-" + codec, 30);
        }
        CAPABILITIES.put("group-eager", 45);
        CAPABILITIES.put("group-cooperative", 45);
        CAPABILITIES.put("committed-offsets", 40);
        CAPABILITIES.put("idempotence", 30);
        CAPABILITIES.put("admin-topics", 30);
        CAPABILITIES.put("admin-partitions", 30);
        CAPABILITIES.put("admin-describe-configs", 30);
        CAPABILITIES.put("list-offsets-time", 30);
        CAPABILITIES.put("transactions", 45);
        CAPABILITIES.put("txn-abort-visibility", 50);
        CAPABILITIES.put("txn-consume-transform-produce", 55);
        CAPABILITIES.put("txn-fencing", 50);
    }

    /** How long past its deadline a capability may spend closing its clients. */
    private static final long CLOSE_GRACE_MS = 10_000L;

    private static final PrintStream OUT = System.out;
    private static final PrintStream ERR = System.err;

    private Driver() {
    }

    // ------------------------------------------------------------------ main

    public static void main(String[] args) {
        configureLogging();

        String bootstrap = null;
        String client = null;
        String only = null;
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            String v = null;
            int eq = a.indexOf('=');
            if (a.startsWith("--") && eq > 0) {
                v = a.substring(eq + 1);
                a = a.substring(0, eq);
            } else if (i + 1 < args.length && (a.equals("--bootstrap") || a.equals("--client") || a.equals("--only"))) {
                v = args[++i];
            }
            switch (a) {
                case "--bootstrap": bootstrap = v; break;
                case "--client": client = v; break;
                case "--only": only = v; break;
                case "-h":
                case "--help":
                    usage(null);
                    System.exit(0);
                    return;
                default:
                    usage("unknown argument: " + args[i]);
                    System.exit(2);
                    return;
            }
        }
        if (bootstrap == null || bootstrap.isEmpty() || client == null || client.isEmpty()) {
            usage("--bootstrap and --client are required");
            System.exit(2);
            return;
        }
        if (!bootstrap.contains(":")) {
            usage("--bootstrap must be HOST:PORT");
            System.exit(2);
            return;
        }
        List<String> selected = new ArrayList<>();
        if (only == null || only.isBlank()) {
            selected.addAll(CAPABILITIES.keySet());
        } else {
            Set<String> wanted = new HashSet<>();
            for (String s : only.split(",")) {
                s = s.trim();
                if (s.isEmpty()) {
                    continue;
                }
                if (!CAPABILITIES.containsKey(s)) {
                    usage("unknown capability: " + s + " (known: " + String.join(",", CAPABILITIES.keySet()) + ")");
                    System.exit(2);
                    return;
                }
                wanted.add(s);
            }
            for (String cap : CAPABILITIES.keySet()) {
                if (wanted.contains(cap)) {
                    selected.add(cap);
                }
            }
        }

        long runStart = System.nanoTime();
        ExecutorService pool = Executors.newCachedThreadPool(r -> {
            Thread t = new Thread(r, "capability");
            t.setDaemon(true);
            return t;
        });
        int passed = 0;
        int failed = 0;
        int skipped = 0;
        for (String cap : selected) {
            int deadlineSec = CAPABILITIES.get(cap);
            Ctx ctx = new Ctx(bootstrap, client, cap, deadlineSec);
            long t0 = System.nanoTime();
            Future<Result> f = pool.submit(() -> runCapability(ctx));
            Result r;
            try {
                // Some grace over the capability's own deadline: its inner
                // timeouts normally fire first and give a better detail, and
                // its clients are closed (each with a 5 s bound) after that.
                r = f.get(deadlineSec * 1000L + CLOSE_GRACE_MS, TimeUnit.MILLISECONDS);
            } catch (TimeoutException e) {
                f.cancel(true);
                r = ctx.result; // done, but still closing its clients
                if (r == null) {
                    r = Result.fail("timed out after " + deadlineSec + " s (while " + ctx.stage + ")");
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                r = Result.fail("interrupted");
            } catch (ExecutionException e) {
                r = Result.fail(describe(e.getCause()));
            }
            double secs = (System.nanoTime() - t0) / 1e9;
            emit(client, cap, r);
            ERR.printf(Locale.ROOT, "[%s] %s: %s in %.1f s%n", client, cap, r.status, secs);
            switch (r.status) {
                case "pass": passed++; break;
                case "skip": skipped++; break;
                default: failed++; break;
            }
        }
        ERR.printf(Locale.ROOT, "[%s] done: pass %d, fail %d, skip %d, in %.1f s%n", client, passed, failed,
                skipped, (System.nanoTime() - runStart) / 1e9);
        OUT.flush();
        ERR.flush();
        // Leftover client threads of a timed-out capability must not keep us alive.
        System.exit(0);
    }

    private static void usage(String error) {
        if (error != null) {
            ERR.println("error: " + error);
        }
        ERR.println("usage: java -jar gregor-java-driver.jar --bootstrap HOST:PORT --client NAME [--only CAP[,CAP...]]");
        ERR.println("capabilities: " + String.join(",", CAPABILITIES.keySet()));
        ERR.println("env GREGOR_JAVA_LOG=trace|debug|info|warn|error|off sets the client's log level (default error)");
    }

    /** slf4j-simple reads these system properties when the first logger is made. */
    private static void configureLogging() {
        String level = System.getenv("GREGOR_JAVA_LOG");
        if (level == null || level.isBlank()) {
            level = "error";
        }
        level = level.trim().toLowerCase(Locale.ROOT);
        setIfAbsent("org.slf4j.simpleLogger.defaultLogLevel", level);
        setIfAbsent("org.slf4j.simpleLogger.logFile", "System.err");
        setIfAbsent("org.slf4j.simpleLogger.showDateTime", "true");
        setIfAbsent("org.slf4j.simpleLogger.dateTimeFormat", "HH:mm:ss.SSS");
        setIfAbsent("org.slf4j.simpleLogger.showShortLogName", "true");
    }

    private static void setIfAbsent(String key, String value) {
        if (System.getProperty(key) == null) {
            System.setProperty(key, value);
        }
    }

    private static Result runCapability(Ctx c) {
        Result r = runCapabilityBody(c);
        c.result = r;
        c.stage = "closing clients";
        c.closeAll();
        return r;
    }

    private static Result runCapabilityBody(Ctx c) {
        try {
            switch (c.capability) {
                case "metadata": return metadata(c);
                case "produce-consume-none": return produceConsume(c, "none");
                case "produce-consume-gzip": return produceConsume(c, "gzip");
                case "produce-consume-snappy": return produceConsume(c, "snappy");
                case "produce-consume-lz4": return produceConsume(c, "lz4");
                case "produce-consume-zstd": return produceConsume(c, "zstd");
                case "group-eager": return group(c, false);
                case "group-cooperative": return group(c, true);
                case "committed-offsets": return committedOffsets(c);
                case "idempotence": return idempotence(c);
                case "admin-topics": return adminTopics(c);
                case "admin-partitions": return adminPartitions(c);
                case "admin-describe-configs": return adminDescribeConfigs(c);
                case "list-offsets-time": return listOffsetsTime(c);
                case "transactions": return transactions(c);
                case "txn-abort-visibility": return txnAbortVisibility(c);
                case "txn-consume-transform-produce": return txnConsumeTransformProduce(c);
                case "txn-fencing": return txnFencing(c);
                default: return Result.fail("no such capability");
            }
        } catch (DeadlineException e) {
            return Result.fail("timed out after " + c.deadlineSec + " s (while " + c.stage + ")"
                    + (e.getMessage() == null ? "" : ": " + e.getMessage()));
        } catch (Throwable t) {
            Throwable root = t;
            while ((root instanceof ExecutionException || root instanceof java.util.concurrent.CompletionException
                    || root instanceof org.apache.kafka.common.KafkaException) && root.getCause() != null
                    && !(root instanceof org.apache.kafka.common.errors.TimeoutException)) {
                root = root.getCause();
            }
            if (root instanceof org.apache.kafka.common.errors.TimeoutException || root instanceof TimeoutException) {
                // The client's own timeout (bounded by this capability's deadline).
                return Result.fail("timed out (client timeout) while " + c.stage + ": " + describe(t));
            }
            return Result.fail(c.stage + ": " + describe(t));
        }
    }

    // ---------------------------------------------------------- capabilities

    /** One broker whose host:port is the bootstrap's; a created topic shows its partition count. */
    private static Result metadata(Ctx c) throws Exception {
        Admin admin = c.admin();
        c.stage = "describing the cluster";
        List<Node> nodes = new ArrayList<>(c.get(admin.describeCluster().nodes()));
        if (nodes.size() != 1) {
            return Result.fail("expected 1 broker, got " + nodes.size() + ": " + nodes);
        }
        Node n = nodes.get(0);
        String got = n.host() + ":" + n.port();
        if (!got.equals(c.bootstrap)) {
            return Result.fail("the one broker is " + got + " (id " + n.id() + "), not the bootstrap " + c.bootstrap);
        }
        String topic = c.name();
        c.stage = "creating topic " + topic;
        createTopic(c, admin, topic, 3, Map.of());
        c.stage = "describing topic " + topic;
        TopicDescription d = describeTopic(c, admin, topic, 3);
        if (d.partitions().size() != 3) {
            return Result.fail("topic created with 3 partitions shows " + d.partitions().size());
        }
        for (var p : d.partitions()) {
            if (p.leader() == null || p.leader().id() != n.id()) {
                return Result.fail("partition " + p.partition() + " has leader " + p.leader()
                        + ", expected broker " + n.id());
            }
        }
        return Result.pass("1 broker " + got + " (id " + n.id() + "); topic shows 3 partitions led by it");
    }

    /** 100 records with key, value and a header, one codec, 3 partitions, read back from the earliest offset. */
    private static Result produceConsume(Ctx c, String codec) throws Exception {
        final int total = 100;
        final int parts = 3;
        Admin admin = c.admin();
        String topic = c.name();
        c.stage = "creating topic " + topic;
        createTopic(c, admin, topic, parts, Map.of());

        Properties pp = new Properties();
        pp.put(ProducerConfig.COMPRESSION_TYPE_CONFIG, codec);
        pp.put(ProducerConfig.ACKS_CONFIG, "all");
        pp.put(ProducerConfig.LINGER_MS_CONFIG, "20");
        // Note: since kafka-clients 3.0 the producer is idempotent by default
        // (enable.idempotence=true when acks=all and nothing conflicts). We keep
        // that default here because it is what users of this client get; the
        // `idempotence` capability sets it explicitly.
        KafkaProducer<String, String> producer = c.producer(pp);
        c.stage = "producing " + total + " records with compression.type=" + codec;
        String pad = " " + "gregor-".repeat(20); // compressible payload
        List<Future<RecordMetadata>> futures = new ArrayList<>();
        for (int i = 0; i < total; i++) {
            ProducerRecord<String, String> rec = new ProducerRecord<>(topic, i % parts, "key-" + i, "value-" + i + pad,
                    List.<Header>of(new RecordHeader("seq", Integer.toString(i).getBytes(StandardCharsets.UTF_8))));
            futures.add(producer.send(rec));
        }
        for (int i = 0; i < total; i++) {
            RecordMetadata md = c.get(futures.get(i));
            if (md.partition() != i % parts) {
                return Result.fail("record " + i + " went to partition " + md.partition());
            }
        }

        c.stage = "consuming from the earliest offset";
        List<ConsumerRecord<String, String>> got = consumeAll(c, topic, parts, total, "read_uncommitted");
        return checkRecords(got, total, parts, pad, true, "codec " + codec);
    }

    /** Two group members with an eager (range) or the cooperative-sticky assignor split 4 partitions. */
    private static Result group(Ctx c, boolean cooperative) throws Exception {
        final int parts = 4;
        Admin admin = c.admin();
        String topic = c.name();
        String groupId = c.name();
        c.stage = "creating topic " + topic;
        createTopic(c, admin, topic, parts, Map.of());

        Properties cp = new Properties();
        cp.put(ConsumerConfig.GROUP_ID_CONFIG, groupId);
        cp.put(ConsumerConfig.GROUP_PROTOCOL_CONFIG, "classic");
        cp.put(ConsumerConfig.PARTITION_ASSIGNMENT_STRATEGY_CONFIG,
                (cooperative ? CooperativeStickyAssignor.class : RangeAssignor.class).getName());
        cp.put(ConsumerConfig.SESSION_TIMEOUT_MS_CONFIG, "6000");
        cp.put(ConsumerConfig.HEARTBEAT_INTERVAL_MS_CONFIG, "500");
        cp.put(ConsumerConfig.MAX_POLL_INTERVAL_MS_CONFIG, "20000");
        cp.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        cp.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");

        Listener l1 = new Listener();
        Listener l2 = new Listener();
        KafkaConsumer<String, String> c1 = c.consumer(cp, "1");
        KafkaConsumer<String, String> c2 = c.consumer(cp, "2");

        c.stage = "waiting for the first member to get all " + parts + " partitions";
        c1.subscribe(List.of(topic), l1);
        while (c1.assignment().size() != parts) {
            c.check();
            c1.poll(Duration.ofMillis(100));
        }
        Set<Integer> first = partitions(c1.assignment());

        c.stage = "waiting for the two members to split the partitions";
        l1.revoked.clear();
        c2.subscribe(List.of(topic), l2);
        Set<Integer> a1 = first;
        Set<Integer> a2 = Set.of();
        while (true) {
            c.check(" (member 1 has " + a1 + ", member 2 has " + a2 + ")");
            c1.poll(Duration.ofMillis(50));
            c2.poll(Duration.ofMillis(50));
            a1 = partitions(c1.assignment());
            a2 = partitions(c2.assignment());
            Set<Integer> union = new TreeSet<>(a1);
            union.addAll(a2);
            if (!a1.isEmpty() && !a2.isEmpty() && Collections.disjoint(a1, a2) && union.size() == parts) {
                break;
            }
            if (!Collections.disjoint(a1, a2)) {
                return Result.fail("overlapping assignments: member 1 " + a1 + ", member 2 " + a2);
            }
        }
        // Poll both a little more: the split must be stable (no second overlapping round).
        long settle = System.nanoTime() + 1_000_000_000L;
        while (System.nanoTime() < settle) {
            c.check();
            c1.poll(Duration.ofMillis(50));
            c2.poll(Duration.ofMillis(50));
            if (!Collections.disjoint(partitions(c1.assignment()), partitions(c2.assignment()))) {
                return Result.fail("overlapping assignments after the split: member 1 "
                        + partitions(c1.assignment()) + ", member 2 " + partitions(c2.assignment()));
            }
        }
        a1 = partitions(c1.assignment());
        a2 = partitions(c2.assignment());
        List<Set<Integer>> revokedWhileJoining = new ArrayList<>(l1.revoked);
        String rebalanceNote;
        if (cooperative) {
            for (Set<Integer> r : revokedWhileJoining) {
                if (r.size() == parts) {
                    return Result.fail("cooperative rebalance revoked all " + parts
                            + " partitions of member 1 (eager behaviour): revocations " + revokedWhileJoining);
                }
            }
            Set<Integer> kept = new TreeSet<>(first);
            for (Set<Integer> r : revokedWhileJoining) {
                kept.removeAll(r);
            }
            if (!kept.equals(a1)) {
                return Result.fail("member 1 did not keep its remaining partitions: had " + first + ", revoked "
                        + revokedWhileJoining + ", now " + a1);
            }
            rebalanceNote = "member 1 gave up only " + revokedWhileJoining;
        } else {
            rebalanceNote = "member 1 revoked " + revokedWhileJoining;
        }

        c.stage = "closing member 2 and waiting for member 1 to get all " + parts + " partitions";
        c.closeNow(c2);
        while (c1.assignment().size() != parts) {
            c.check(" (member 1 has " + partitions(c1.assignment()) + ")");
            c1.poll(Duration.ofMillis(100));
        }
        return Result.pass("split " + a1 + " / " + a2 + " (" + rebalanceNote + "); after member 2 closed member 1 has "
                + partitions(c1.assignment()));
    }

    /** Read 10 of 20, commit; a new member of the group starts at 10; the committed offset reads back 10. */
    private static Result committedOffsets(Ctx c) throws Exception {
        Admin admin = c.admin();
        String topic = c.name();
        String groupId = c.name();
        TopicPartition tp = new TopicPartition(topic, 0);
        c.stage = "creating topic " + topic;
        createTopic(c, admin, topic, 1, Map.of());

        c.stage = "producing 20 records";
        KafkaProducer<String, String> producer = c.producer(new Properties());
        List<Future<RecordMetadata>> fs = new ArrayList<>();
        for (int i = 0; i < 20; i++) {
            fs.add(producer.send(new ProducerRecord<>(topic, 0, "key-" + i, "value-" + i)));
        }
        for (Future<RecordMetadata> f : fs) {
            c.get(f);
        }

        Properties cp = new Properties();
        cp.put(ConsumerConfig.GROUP_ID_CONFIG, groupId);
        cp.put(ConsumerConfig.GROUP_PROTOCOL_CONFIG, "classic");
        cp.put(ConsumerConfig.SESSION_TIMEOUT_MS_CONFIG, "6000");
        cp.put(ConsumerConfig.HEARTBEAT_INTERVAL_MS_CONFIG, "500");
        cp.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        cp.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        cp.put(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, "5");

        c.stage = "first member reading 10 records";
        KafkaConsumer<String, String> first = c.consumer(cp, "1");
        first.subscribe(List.of(topic));
        int read = 0;
        long nextOffset = -1;
        while (read < 10) {
            c.check();
            for (ConsumerRecord<String, String> r : first.poll(Duration.ofMillis(100))) {
                if (read >= 10) {
                    break;
                }
                if (r.offset() != read) {
                    return Result.fail("first member read offset " + r.offset() + " as record #" + read);
                }
                read++;
                nextOffset = r.offset() + 1;
            }
        }
        c.stage = "committing offset " + nextOffset;
        first.commitSync(Map.of(tp, new OffsetAndMetadata(nextOffset)), c.remaining());
        c.stage = "closing the first member";
        c.closeNow(first);

        c.stage = "second member reading";
        KafkaConsumer<String, String> second = c.consumer(cp, "2");
        second.subscribe(List.of(topic));
        long firstOffset = -1;
        while (firstOffset < 0) {
            c.check();
            ConsumerRecords<String, String> rs = second.poll(Duration.ofMillis(100));
            if (!rs.isEmpty()) {
                firstOffset = rs.iterator().next().offset();
            }
        }
        if (firstOffset != 10) {
            return Result.fail("second member of the group started at offset " + firstOffset + ", expected 10");
        }
        c.stage = "reading the committed offset with the consumer";
        OffsetAndMetadata viaConsumer = second.committed(Set.of(tp), c.remaining()).get(tp);
        c.stage = "reading the committed offset with the admin client";
        Map<TopicPartition, OffsetAndMetadata> viaAdmin = c.get(
                admin.listConsumerGroupOffsets(groupId).partitionsToOffsetAndMetadata());
        OffsetAndMetadata a = viaAdmin.get(tp);
        if (viaConsumer == null || viaConsumer.offset() != 10) {
            return Result.fail("consumer.committed() answers " + viaConsumer + ", expected offset 10");
        }
        if (a == null || a.offset() != 10) {
            return Result.fail("admin listConsumerGroupOffsets answers " + viaAdmin + ", expected offset 10");
        }
        return Result.pass("committed 10 after reading 10 of 20; new member started at 10; committed offset 10 "
                + "(consumer.committed and admin listConsumerGroupOffsets)");
    }

    /** An explicitly idempotent producer's 100 records arrive exactly once, in order. */
    private static Result idempotence(Ctx c) throws Exception {
        final int total = 100;
        Admin admin = c.admin();
        String topic = c.name();
        c.stage = "creating topic " + topic;
        createTopic(c, admin, topic, 1, Map.of());

        Properties pp = new Properties();
        pp.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "true");
        pp.put(ProducerConfig.ACKS_CONFIG, "all");
        pp.put(ProducerConfig.MAX_IN_FLIGHT_REQUESTS_PER_CONNECTION, "5");
        pp.put(ProducerConfig.LINGER_MS_CONFIG, "0");
        pp.put(ProducerConfig.BATCH_SIZE_CONFIG, "2048"); // several batches in flight
        KafkaProducer<String, String> producer = c.producer(pp);
        c.stage = "producing " + total + " records with enable.idempotence=true";
        String pad = " " + "x".repeat(100);
        List<Future<RecordMetadata>> futures = new ArrayList<>();
        for (int i = 0; i < total; i++) {
            futures.add(producer.send(new ProducerRecord<>(topic, 0, "key-" + i, "value-" + i + pad,
                    List.<Header>of(new RecordHeader("seq", Integer.toString(i).getBytes(StandardCharsets.UTF_8))))));
        }
        for (int i = 0; i < total; i++) {
            RecordMetadata md = c.get(futures.get(i));
            if (md.offset() != i) {
                return Result.fail("record " + i + " was acknowledged at offset " + md.offset());
            }
        }
        c.stage = "consuming";
        List<ConsumerRecord<String, String>> got = consumeAll(c, topic, 1, total, "read_uncommitted");
        Result r = checkRecords(got, total, 1, pad, true, "idempotent producer");
        if (!r.status.equals("pass")) {
            return r;
        }
        for (int i = 0; i < got.size(); i++) {
            if (got.get(i).offset() != i) {
                return Result.fail("record " + i + " is at offset " + got.get(i).offset() + " (not exactly once)");
            }
        }
        return Result.pass("100 records exactly once at offsets 0..99, in order");
    }

    /** Create (2 partitions, retention.ms=123456), list, delete, gone. */
    private static Result adminTopics(Ctx c) throws Exception {
        Admin admin = c.admin();
        String topic = c.name();
        c.stage = "creating topic " + topic;
        createTopic(c, admin, topic, 2, Map.of("retention.ms", "123456"));
        c.stage = "listing topics";
        while (!c.get(admin.listTopics().names()).contains(topic)) {
            c.check();
            Thread.sleep(100);
        }
        c.stage = "describing topic " + topic;
        TopicDescription d = describeTopic(c, admin, topic, 2);
        if (d.partitions().size() != 2) {
            return Result.fail("topic created with 2 partitions shows " + d.partitions().size());
        }
        c.stage = "deleting topic " + topic;
        c.get(admin.deleteTopics(List.of(topic)).all());
        c.stage = "waiting for topic " + topic + " to be gone from the list";
        while (c.get(admin.listTopics().names()).contains(topic)) {
            c.check();
            Thread.sleep(100);
        }
        return Result.pass("created with 2 partitions, listed, deleted, gone");
    }

    /** Grow a topic from 1 to 3 partitions. */
    private static Result adminPartitions(Ctx c) throws Exception {
        Admin admin = c.admin();
        String topic = c.name();
        c.stage = "creating topic " + topic;
        createTopic(c, admin, topic, 1, Map.of());
        describeTopic(c, admin, topic, 1);
        c.stage = "growing topic " + topic + " to 3 partitions";
        c.get(admin.createPartitions(Map.of(topic, NewPartitions.increaseTo(3))).all());
        c.stage = "waiting for metadata to show 3 partitions";
        TopicDescription d = describeTopic(c, admin, topic, 3);
        return Result.pass("grew 1 -> 3 partitions; metadata shows " + d.partitions().size());
    }

    /** retention.ms set at creation reads back; cleanup.policy reads its default "delete". */
    private static Result adminDescribeConfigs(Ctx c) throws Exception {
        Admin admin = c.admin();
        String topic = c.name();
        c.stage = "creating topic " + topic;
        createTopic(c, admin, topic, 1, Map.of("retention.ms", "123456"));
        // A Kafka node answers CreateTopics before its own metadata shows the
        // topic; DescribeConfigs in that window gets UNKNOWN_TOPIC_OR_PARTITION.
        describeTopic(c, admin, topic, 1);
        c.stage = "describing the configs of " + topic;
        ConfigResource res = new ConfigResource(ConfigResource.Type.TOPIC, topic);
        Config cfg = c.get(admin.describeConfigs(List.of(res)).all()).get(res);
        if (cfg == null) {
            return Result.fail("no configs answered for " + topic);
        }
        ConfigEntry retention = cfg.get("retention.ms");
        ConfigEntry cleanup = cfg.get("cleanup.policy");
        if (retention == null || !"123456".equals(retention.value())) {
            return Result.fail("retention.ms is " + (retention == null ? "missing" : "\"" + retention.value() + "\"")
                    + ", expected 123456");
        }
        if (cleanup == null || !"delete".equals(cleanup.value())) {
            return Result.fail("cleanup.policy is " + (cleanup == null ? "missing" : "\"" + cleanup.value() + "\"")
                    + ", expected delete");
        }
        return Result.pass("retention.ms=123456 (" + retention.source() + "), cleanup.policy=delete ("
                + cleanup.source() + "), " + cfg.entries().size() + " entries");
    }

    /** Offsets by timestamp, earliest and latest via AdminClient.listOffsets. */
    private static Result listOffsetsTime(Ctx c) throws Exception {
        Admin admin = c.admin();
        String topic = c.name();
        TopicPartition tp = new TopicPartition(topic, 0);
        c.stage = "creating topic " + topic;
        createTopic(c, admin, topic, 1, Map.of());

        long t = (System.currentTimeMillis() / 1000L) * 1000L - 60_000L;
        KafkaProducer<String, String> producer = c.producer(new Properties());
        c.stage = "producing 3 records with timestamps T, T+1000, T+2000";
        for (int i = 0; i < 3; i++) {
            RecordMetadata md = c.get(producer.send(new ProducerRecord<>(topic, 0, t + i * 1000L, "key-" + i,
                    "value-" + i)));
            if (md.offset() != i) {
                return Result.fail("record with timestamp T+" + (i * 1000) + " is at offset " + md.offset());
            }
        }
        c.stage = "listing offsets";
        ListOffsetsResultInfo at500 = listOffset(c, admin, tp, OffsetSpec.forTimestamp(t + 500));
        ListOffsetsResultInfo at5000 = listOffset(c, admin, tp, OffsetSpec.forTimestamp(t + 5000));
        ListOffsetsResultInfo earliest = listOffset(c, admin, tp, OffsetSpec.earliest());
        ListOffsetsResultInfo latest = listOffset(c, admin, tp, OffsetSpec.latest());
        List<String> errors = new ArrayList<>();
        if (at500.offset() != 1) {
            errors.add("T+500 -> " + at500.offset() + " (expected 1)");
        } else if (at500.timestamp() != t + 1000) {
            errors.add("T+500 -> offset 1 with timestamp T" + fmtDelta(at500.timestamp() - t) + " (expected T+1000)");
        }
        if (at5000.offset() != -1) {
            errors.add("T+5000 -> " + at5000.offset() + " (expected -1: none)");
        }
        if (earliest.offset() != 0) {
            errors.add("earliest -> " + earliest.offset() + " (expected 0)");
        }
        if (latest.offset() != 3) {
            errors.add("latest -> " + latest.offset() + " (expected 3)");
        }
        if (!errors.isEmpty()) {
            return Result.fail(String.join("; ", errors));
        }
        return Result.pass("T+500 -> 1, T+5000 -> -1 (none), earliest 0, latest 3");
    }

    /** Commit 10, abort 10; a read_committed consumer sees the 10 committed only. */
    private static Result transactions(Ctx c) throws Exception {
        Admin admin = c.admin();
        String topic = c.name();
        String txnId = c.name();
        TopicPartition tp = new TopicPartition(topic, 0);
        c.stage = "creating topic " + topic;
        createTopic(c, admin, topic, 1, Map.of());

        Properties pp = new Properties();
        pp.put(ProducerConfig.TRANSACTIONAL_ID_CONFIG, txnId);
        pp.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "true");
        pp.put(ProducerConfig.ACKS_CONFIG, "all");
        pp.put(ProducerConfig.TRANSACTION_TIMEOUT_CONFIG, "30000");
        KafkaProducer<String, String> producer = c.producer(pp);

        c.stage = "initTransactions";
        producer.initTransactions();

        c.stage = "producing 10 records in a transaction";
        producer.beginTransaction();
        List<Future<RecordMetadata>> fs = new ArrayList<>();
        for (int i = 0; i < 10; i++) {
            fs.add(producer.send(new ProducerRecord<>(topic, 0, "key-" + i, "committed-" + i)));
        }
        for (Future<RecordMetadata> f : fs) {
            c.get(f);
        }
        c.stage = "commitTransaction";
        producer.commitTransaction();

        c.stage = "producing 10 records in a second transaction";
        producer.beginTransaction();
        fs.clear();
        for (int i = 0; i < 10; i++) {
            fs.add(producer.send(new ProducerRecord<>(topic, 0, "key-" + i, "aborted-" + i)));
        }
        for (Future<RecordMetadata> f : fs) {
            c.get(f); // make sure the aborted records really are in the log
        }
        c.stage = "abortTransaction";
        producer.abortTransaction();

        c.stage = "consuming with isolation.level=read_committed";
        List<ConsumerRecord<String, String>> committed = consumeToEnd(c, tp, "read_committed");
        c.stage = "consuming with isolation.level=read_uncommitted";
        List<ConsumerRecord<String, String>> uncommitted = consumeToEnd(c, tp, "read_uncommitted");

        List<String> values = committed.stream().map(ConsumerRecord::value).collect(Collectors.toList());
        List<String> expected = new ArrayList<>();
        for (int i = 0; i < 10; i++) {
            expected.add("committed-" + i);
        }
        if (!values.equals(expected)) {
            return Result.fail("read_committed consumer saw " + values.size() + " records: " + abbreviate(values));
        }
        return Result.pass("read_committed sees the 10 committed only (read_uncommitted sees " + uncommitted.size()
                + ")");
    }

    /**
     * txn-abort-visibility: who writes what, in this order, to one partition (each record acknowledged
     * before the next step). A and B are transactional producers, P a plain one; A commits, B aborts.
     */
    private static final String[][] INTERLEAVE = {
        {"P", "plain-0"}, {"A", "a-0"}, {"A", "a-1"}, {"P", "plain-1"},
        {"B", "b-0"}, {"B", "b-1"}, {"P", "plain-2"}, {"A", "a-2"}, {"B", "b-2"},
        {"A", "commit"}, {"P", "plain-3"}, {"B", "abort"}, {"P", "plain-4"},
    };

    private static KafkaProducer<String, String> txnProducer(Ctx c, String txnId, String tag) {
        Properties pp = new Properties();
        pp.put(ProducerConfig.TRANSACTIONAL_ID_CONFIG, txnId);
        pp.put(ProducerConfig.ACKS_CONFIG, "all");
        pp.put(ProducerConfig.LINGER_MS_CONFIG, "0");
        pp.put(ProducerConfig.TRANSACTION_TIMEOUT_CONFIG, "30000");
        pp.put(ProducerConfig.CLIENT_ID_CONFIG, "mc-" + c.client + "-" + c.capability + "-" + tag);
        KafkaProducer<String, String> p = c.producer(pp);
        c.stage = "initTransactions (" + tag + ")";
        p.initTransactions();
        return p;
    }

    private static List<String> offsetOrderedValues(Ctx c, List<ConsumerRecord<String, String>> recs, String label) {
        List<String> out = new ArrayList<>();
        long last = -1;
        for (ConsumerRecord<String, String> r : recs) {
            if (r.offset() <= last) {
                throw new IllegalStateException(label + ": offsets not increasing at " + r.offset());
            }
            last = r.offset();
            out.add(r.value());
        }
        return out;
    }

    /** Two transactional producers and a plain one interleave on one partition; A commits, B aborts. */
    private static Result txnAbortVisibility(Ctx c) throws Exception {
        Admin admin = c.admin();
        String topic = c.name();
        TopicPartition tp = new TopicPartition(topic, 0);
        c.stage = "creating topic " + topic;
        createTopic(c, admin, topic, 1, Map.of());
        Properties plain = new Properties();
        plain.put(ProducerConfig.ACKS_CONFIG, "all");
        plain.put(ProducerConfig.LINGER_MS_CONFIG, "0");
        Map<String, KafkaProducer<String, String>> prods = new HashMap<>();
        prods.put("P", c.producer(plain));
        prods.put("A", txnProducer(c, c.name(), "A"));
        prods.put("B", txnProducer(c, c.name(), "B"));
        prods.get("A").beginTransaction();
        prods.get("B").beginTransaction();
        List<String> all = new ArrayList<>();
        List<String> committed = new ArrayList<>();
        for (String[] step : INTERLEAVE) {
            KafkaProducer<String, String> p = prods.get(step[0]);
            if (step[1].equals("commit")) {
                c.stage = "commitTransaction (A)";
                p.commitTransaction();
            } else if (step[1].equals("abort")) {
                c.stage = "abortTransaction (B)";
                p.abortTransaction();
            } else {
                c.stage = step[0] + " producing " + step[1];
                c.get(p.send(new ProducerRecord<>(topic, 0, null, step[1])));
                all.add(step[1]);
                if (!step[1].startsWith("b-")) {
                    committed.add(step[1]);
                }
            }
        }
        c.stage = "consuming with isolation.level=read_committed";
        List<String> rc = offsetOrderedValues(c, consumeToEnd(c, tp, "read_committed"), "read_committed");
        c.stage = "consuming with isolation.level=read_uncommitted";
        List<String> ru = offsetOrderedValues(c, consumeToEnd(c, tp, "read_uncommitted"), "read_uncommitted");
        if (!rc.equals(committed)) {
            return Result.fail("read_committed saw " + rc + ", want " + committed);
        }
        if (!ru.equals(all)) {
            return Result.fail("read_uncommitted saw " + ru + ", want " + all);
        }
        return Result.pass("read_committed saw the " + committed.size() + " committed+plain records in offset order, "
                + "none of B's aborted 3; read_uncommitted saw all " + all.size());
    }

    /** Group consumer reads 20, transactional producer writes 20 transformed with sendOffsetsToTransaction, commits;
     *  then a round of 10 that aborts. */
    private static Result txnConsumeTransformProduce(Ctx c) throws Exception {
        Admin admin = c.admin();
        String src = c.name();
        String dst = c.name();
        String groupId = c.name();
        TopicPartition in = new TopicPartition(src, 0);
        TopicPartition out = new TopicPartition(dst, 0);
        c.stage = "creating topics";
        createTopic(c, admin, src, 1, Map.of());
        createTopic(c, admin, dst, 1, Map.of());
        c.stage = "producing 30 input records";
        KafkaProducer<String, String> plain = c.producer(new Properties());
        List<Future<RecordMetadata>> fs = new ArrayList<>();
        for (int i = 0; i < 30; i++) {
            fs.add(plain.send(new ProducerRecord<>(src, 0, null, "in-" + i)));
        }
        for (Future<RecordMetadata> f : fs) {
            c.get(f);
        }
        Properties cp = new Properties();
        cp.put(ConsumerConfig.GROUP_ID_CONFIG, groupId);
        cp.put(ConsumerConfig.GROUP_PROTOCOL_CONFIG, "classic");
        cp.put(ConsumerConfig.SESSION_TIMEOUT_MS_CONFIG, "6000");
        cp.put(ConsumerConfig.HEARTBEAT_INTERVAL_MS_CONFIG, "500");
        cp.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        cp.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        cp.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        cp.put(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, "10");
        KafkaConsumer<String, String> consumer = c.consumer(cp, "group");
        consumer.subscribe(List.of(src));
        KafkaProducer<String, String> producer = txnProducer(c, c.name(), "ctp");
        List<String> want = new ArrayList<>();
        for (int i = 0; i < 20; i++) {
            want.add("OUT-in-" + i);
        }
        java.util.ArrayDeque<ConsumerRecord<String, String>> pending = new java.util.ArrayDeque<>();
        int[][] rounds = {{20, 20}, {10, 30}};
        for (int rnd = 0; rnd < 2; rnd++) {
            int n = rounds[rnd][0];
            int endOff = rounds[rnd][1];
            boolean commit = rnd == 0;
            String label = "round " + (rnd + 1) + (commit ? " (commit)" : " (abort)");
            c.stage = label + ": consuming " + n;
            List<ConsumerRecord<String, String>> got = new ArrayList<>();
            while (got.size() < n) {
                if (pending.isEmpty()) {
                    c.check(" (" + got.size() + " of " + n + " input records)");
                    consumer.poll(Duration.ofMillis(200)).forEach(pending::add);
                } else {
                    got.add(pending.poll());
                }
            }
            for (int i = 0; i < n; i++) {
                if (got.get(i).offset() != endOff - n + i) {
                    return Result.fail(label + ": consumer read offset " + got.get(i).offset() + " as record #" + i);
                }
            }
            c.stage = label + ": transaction";
            producer.beginTransaction();
            fs.clear();
            for (ConsumerRecord<String, String> r : got) {
                fs.add(producer.send(new ProducerRecord<>(dst, 0, null, "OUT-" + r.value())));
            }
            c.stage = label + ": sendOffsetsToTransaction";
            producer.sendOffsetsToTransaction(Map.of(in, new OffsetAndMetadata(endOff)), consumer.groupMetadata());
            if (commit) {
                c.stage = label + ": commitTransaction";
                producer.commitTransaction();
            } else {
                for (Future<RecordMetadata> f : fs) {
                    c.get(f);
                }
                c.stage = label + ": abortTransaction";
                producer.abortTransaction();
            }
            c.stage = label + ": reading the output read_committed";
            List<String> vals = consumeToEnd(c, out, "read_committed").stream().map(ConsumerRecord::value)
                    .collect(Collectors.toList());
            if (!vals.equals(want)) {
                return Result.fail(label + ": read_committed output has " + vals.size() + " records: "
                        + abbreviate(vals) + ", want OUT-in-0..19");
            }
            c.stage = label + ": reading the group's committed offset";
            long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (true) {
                OffsetAndMetadata om = c.get(admin.listConsumerGroupOffsets(groupId).partitionsToOffsetAndMetadata())
                        .get(in);
                if (om != null && om.offset() == 20) {
                    break;
                }
                if (System.nanoTime() > until) {
                    return Result.fail(label + ": the group's committed offset on the input is " + om + ", want 20");
                }
                Thread.sleep(100);
            }
        }
        c.stage = "reading the output read_uncommitted";
        int ru = consumeToEnd(c, out, "read_uncommitted").size();
        if (ru != 30) {
            return Result.fail("read_uncommitted output has " + ru + " records, want 30 (20 committed, 10 aborted)");
        }
        return Result.pass("round 1 committed 20 transformed records with the group's offset 20; round 2 aborted 10: "
                + "read_committed output still 20, committed offset still 20");
    }

    private static boolean isFenced(Throwable t) {
        for (Throwable e = t; e != null; e = e.getCause()) {
            if (e instanceof org.apache.kafka.common.errors.ProducerFencedException
                    || e instanceof org.apache.kafka.common.errors.InvalidProducerEpochException) {
                return true;
            }
        }
        return false;
    }

    /** Producer 2 with producer 1's transactional id inits: producer 1 is fenced, its open transaction aborted. */
    private static Result txnFencing(Ctx c) throws Exception {
        Admin admin = c.admin();
        String topic = c.name();
        String txnId = c.name();
        TopicPartition tp = new TopicPartition(topic, 0);
        c.stage = "creating topic " + topic;
        createTopic(c, admin, topic, 1, Map.of());
        KafkaProducer<String, String> p1 = txnProducer(c, txnId, "p1");
        c.stage = "p1 producing 5";
        p1.beginTransaction();
        for (int i = 0; i < 5; i++) {
            c.get(p1.send(new ProducerRecord<>(topic, 0, null, "p1-" + i)));
        }
        KafkaProducer<String, String> p2 = txnProducer(c, txnId, "p2");
        c.stage = "p1 producing after p2's init";
        String fenced = null;
        try {
            c.get(p1.send(new ProducerRecord<>(topic, 0, null, "p1-late")));
        } catch (Exception e) {
            fenced = "send: " + describe(e);
            if (!isFenced(e)) {
                return Result.fail("p1's send failed, but not as fenced: " + describe(e));
            }
        }
        c.stage = "p1 committing after p2's init";
        try {
            p1.commitTransaction();
            return Result.fail("p1's commit succeeded after p2 took its transactional id (" + fenced + ")");
        } catch (Exception e) {
            // Once the send failed as fenced, the commit only has to fail; otherwise it must fail as fenced.
            if (fenced == null && !isFenced(e)) {
                return Result.fail("p1's commit failed, but not as fenced: " + describe(e));
            }
            fenced = (fenced == null ? "" : fenced + "; ") + "commit: " + e.getClass().getSimpleName();
        }
        c.stage = "p2 producing 5 and committing";
        p2.beginTransaction();
        for (int i = 0; i < 5; i++) {
            c.get(p2.send(new ProducerRecord<>(topic, 0, null, "p2-" + i)));
        }
        p2.commitTransaction();
        c.stage = "consuming with isolation.level=read_committed";
        List<String> rc = consumeToEnd(c, tp, "read_committed").stream().map(ConsumerRecord::value)
                .collect(Collectors.toList());
        List<String> want = List.of("p2-0", "p2-1", "p2-2", "p2-3", "p2-4");
        if (!rc.equals(want)) {
            return Result.fail("read_committed saw " + rc + ", want " + want + " only");
        }
        return Result.pass("p1 fenced (" + fenced + "); p2 committed; read_committed sees p2's 5 only");
    }

    // --------------------------------------------------------------- helpers

    private static void createTopic(Ctx c, Admin admin, String topic, int partitions, Map<String, String> configs)
            throws Exception {
        NewTopic nt = new NewTopic(topic, partitions, (short) 1);
        if (!configs.isEmpty()) {
            nt.configs(configs);
        }
        c.get(admin.createTopics(List.of(nt)).all());
    }

    /** Describes a topic, retrying until it exists with the wanted partition count (or the deadline). */
    private static TopicDescription describeTopic(Ctx c, Admin admin, String topic, int wantPartitions)
            throws Exception {
        TopicDescription last = null;
        long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (true) {
            c.check();
            try {
                last = c.get(admin.describeTopics(List.of(topic)).allTopicNames()).get(topic);
                if (last != null && last.partitions().size() == wantPartitions) {
                    return last;
                }
            } catch (ExecutionException e) {
                if (!(e.getCause() instanceof UnknownTopicOrPartitionException)) {
                    throw e;
                }
            }
            if (System.nanoTime() > until) {
                return last == null ? fail("topic " + topic + " is not in the metadata") : last;
            }
            Thread.sleep(100);
        }
    }

    private static <T> T fail(String msg) {
        throw new IllegalStateException(msg);
    }

    private static ListOffsetsResultInfo listOffset(Ctx c, Admin admin, TopicPartition tp, OffsetSpec spec)
            throws Exception {
        return c.get(admin.listOffsets(Map.of(tp, spec)).partitionResult(tp));
    }

    /** Reads `total` records from all partitions, from the earliest offset, with no group; then checks no more come. */
    private static List<ConsumerRecord<String, String>> consumeAll(Ctx c, String topic, int parts, int total,
            String isolation) throws Exception {
        Properties cp = new Properties();
        cp.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, isolation);
        cp.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        cp.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        KafkaConsumer<String, String> consumer = c.consumer(cp, "reader");
        List<TopicPartition> tps = new ArrayList<>();
        for (int p = 0; p < parts; p++) {
            tps.add(new TopicPartition(topic, p));
        }
        consumer.assign(tps);
        consumer.seekToBeginning(tps);
        List<ConsumerRecord<String, String>> got = new ArrayList<>();
        while (got.size() < total) {
            c.check(" (" + got.size() + " of " + total + " records read)");
            for (ConsumerRecord<String, String> r : consumer.poll(Duration.ofMillis(200))) {
                got.add(r);
            }
        }
        // A short extra poll to catch duplicates beyond the expected count.
        for (ConsumerRecord<String, String> r : consumer.poll(Duration.ofMillis(300))) {
            got.add(r);
        }
        c.closeNow(consumer);
        return got;
    }

    /** Reads one partition from the beginning up to its end offset for that isolation level. */
    private static List<ConsumerRecord<String, String>> consumeToEnd(Ctx c, TopicPartition tp, String isolation)
            throws Exception {
        Properties cp = new Properties();
        cp.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, isolation);
        cp.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        cp.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        KafkaConsumer<String, String> consumer = c.consumer(cp, isolation);
        consumer.assign(List.of(tp));
        consumer.seekToBeginning(List.of(tp));
        long end = consumer.endOffsets(List.of(tp), c.remaining()).get(tp);
        if (isolation.equals("read_committed")) {
            // commitTransaction and abortTransaction return once the coordinator has the outcome; the markers
            // reach the partition after that, in Kafka as in Gregor. The callers have ended every transaction,
            // so wait (up to 10 s) for the last stable offset to reach the high watermark.
            Properties hp = new Properties();
            hp.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_uncommitted");
            KafkaConsumer<String, String> hwc = c.consumer(hp, "high-watermark");
            long hw = hwc.endOffsets(List.of(tp), c.remaining()).get(tp);
            c.closeNow(hwc);
            long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (end < hw && System.nanoTime() < until) {
                Thread.sleep(50);
                end = consumer.endOffsets(List.of(tp), c.remaining()).get(tp);
            }
        }
        List<ConsumerRecord<String, String>> got = new ArrayList<>();
        long pos;
        while ((pos = consumer.position(tp, c.remaining())) < end) {
            c.check(" (position " + pos + " of end offset " + end + ")");
            for (ConsumerRecord<String, String> r : consumer.poll(Duration.ofMillis(200))) {
                got.add(r);
            }
        }
        c.closeNow(consumer);
        return got;
    }

    /** Checks key, value, header, completeness and per-partition order of records i = 0..total-1 sent to i % parts. */
    private static Result checkRecords(List<ConsumerRecord<String, String>> got, int total, int parts, String pad,
            boolean headers, String what) {
        if (got.size() != total) {
            return Result.fail("read " + got.size() + " records, expected " + total);
        }
        Map<Integer, List<ConsumerRecord<String, String>>> byPartition = new HashMap<>();
        for (ConsumerRecord<String, String> r : got) {
            byPartition.computeIfAbsent(r.partition(), k -> new ArrayList<>()).add(r);
        }
        for (int p = 0; p < parts; p++) {
            List<ConsumerRecord<String, String>> rs = byPartition.getOrDefault(p, List.of());
            int expectedSeq = p;
            long lastOffset = -1;
            for (ConsumerRecord<String, String> r : rs) {
                if (expectedSeq >= total) {
                    return Result.fail("partition " + p + " has extra record at offset " + r.offset());
                }
                String wantKey = "key-" + expectedSeq;
                String wantValue = "value-" + expectedSeq + pad;
                if (!wantKey.equals(r.key()) || !wantValue.equals(r.value())) {
                    return Result.fail("partition " + p + " offset " + r.offset() + ": got key " + r.key()
                            + ", expected " + wantKey + (wantValue.equals(r.value()) ? "" : " (value differs)"));
                }
                if (r.offset() <= lastOffset) {
                    return Result.fail("partition " + p + ": offset " + r.offset() + " after " + lastOffset);
                }
                lastOffset = r.offset();
                if (headers) {
                    Header[] hs = r.headers().toArray();
                    if (hs.length != 1 || !"seq".equals(hs[0].key()) || hs[0].value() == null
                            || !Integer.toString(expectedSeq).equals(new String(hs[0].value(), StandardCharsets.UTF_8))) {
                        return Result.fail("partition " + p + " offset " + r.offset() + ": headers "
                                + Arrays.toString(hs) + ", expected [seq=" + expectedSeq + "]");
                    }
                }
                expectedSeq += parts;
            }
            if (expectedSeq < total) {
                return Result.fail("partition " + p + " is missing records from #" + expectedSeq);
            }
        }
        return Result.pass(total + " records in order (" + what + ", " + parts + " partition"
                + (parts == 1 ? "" : "s") + (headers ? ", key/value/header checked" : "") + ")");
    }

    private static Set<Integer> partitions(Set<TopicPartition> tps) {
        Set<Integer> s = new TreeSet<>();
        for (TopicPartition tp : tps) {
            s.add(tp.partition());
        }
        return s;
    }

    private static String fmtDelta(long d) {
        return d >= 0 ? "+" + d : Long.toString(d);
    }

    private static String abbreviate(List<String> values) {
        if (values.size() <= 12) {
            return values.toString();
        }
        return values.subList(0, 6) + " ... " + values.subList(values.size() - 3, values.size());
    }

    /** Error class and message, with the cause chain (ExecutionException and wrappers unwrapped). */
    static String describe(Throwable t) {
        while ((t instanceof ExecutionException || t instanceof java.util.concurrent.CompletionException)
                && t.getCause() != null) {
            t = t.getCause();
        }
        StringBuilder sb = new StringBuilder();
        Set<Throwable> seen = new HashSet<>();
        while (t != null && seen.add(t) && seen.size() <= 3) {
            if (sb.length() > 0) {
                sb.append(" <- caused by ");
            }
            sb.append(t.getClass().getSimpleName());
            if (t.getMessage() != null) {
                sb.append(": ").append(t.getMessage());
            }
            t = t.getCause();
        }
        String s = sb.toString();
        return s.length() > 600 ? s.substring(0, 600) + "..." : s;
    }

    private static void emit(String client, String capability, Result r) {
        String line = "{\"client\": " + json(client) + ", \"capability\": " + json(capability) + ", \"status\": "
                + json(r.status) + ", \"detail\": " + json(r.detail) + "}";
        synchronized (OUT) {
            OUT.println(line);
            OUT.flush();
        }
    }

    static String json(String s) {
        if (s == null) {
            return "null";
        }
        StringBuilder sb = new StringBuilder(s.length() + 2).append('"');
        for (int i = 0; i < s.length(); i++) {
            char ch = s.charAt(i);
            switch (ch) {
                case '"': sb.append("\\\""); break;
                case '\\': sb.append("\\\\"); break;
                case '\n': sb.append("\\n"); break;
                case '\r': sb.append("\\r"); break;
                case '\t': sb.append("\\t"); break;
                default:
                    if (ch < 0x20 || ch == 0x2028 || ch == 0x2029) {
                        sb.append(String.format(Locale.ROOT, "\\u%04x", (int) ch));
                    } else {
                        sb.append(ch);
                    }
            }
        }
        return sb.append('"').toString();
    }

    // ----------------------------------------------------------------- types

    static final class Result {
        final String status;
        final String detail;

        private Result(String status, String detail) {
            this.status = status;
            this.detail = detail;
        }

        static Result pass(String detail) {
            return new Result("pass", detail);
        }

        static Result fail(String detail) {
            return new Result("fail", detail);
        }

        static Result skip(String detail) {
            return new Result("skip", detail);
        }
    }

    /** Thrown when a capability passes its own deadline. */
    static final class DeadlineException extends RuntimeException {
        private static final long serialVersionUID = 1L;

        DeadlineException(String msg) {
            super(msg);
        }
    }

    /** Records non-empty revocations (eager revokes all, cooperative only what moves). */
    static final class Listener implements ConsumerRebalanceListener {
        final List<Set<Integer>> revoked = Collections.synchronizedList(new ArrayList<>());

        @Override
        public void onPartitionsRevoked(java.util.Collection<TopicPartition> partitions) {
            if (!partitions.isEmpty()) {
                revoked.add(partitions(new HashSet<>(partitions)));
            }
        }

        @Override
        public void onPartitionsAssigned(java.util.Collection<TopicPartition> partitions) {
        }
    }

    /** Per-capability context: names, deadline, the clients to close. */
    static final class Ctx {
        final String bootstrap;
        final String client;
        final String capability;
        final int deadlineSec;
        final long deadlineNanos;
        volatile String stage = "starting";
        volatile Result result;
        private final List<AutoCloseable> open = new ArrayList<>();

        Ctx(String bootstrap, String client, String capability, int deadlineSec) {
            this.bootstrap = bootstrap;
            this.client = client;
            this.capability = capability;
            this.deadlineSec = deadlineSec;
            this.deadlineNanos = System.nanoTime() + TimeUnit.SECONDS.toNanos(deadlineSec);
        }

        /** mc-CLIENT-CAPABILITY-RANDOM, a new random part for each name. */
        String name() {
            return "mc-" + client + "-" + capability + "-"
                    + Long.toHexString(ThreadLocalRandom.current().nextLong() & 0xffffffffffL);
        }

        long remainingMs() {
            return Math.max(0L, TimeUnit.NANOSECONDS.toMillis(deadlineNanos - System.nanoTime()));
        }

        Duration remaining() {
            return Duration.ofMillis(Math.max(1L, remainingMs()));
        }

        void check() {
            check("");
        }

        void check(String more) {
            if (Thread.currentThread().isInterrupted()) {
                throw new DeadlineException("interrupted" + more);
            }
            if (System.nanoTime() >= deadlineNanos) {
                throw new DeadlineException(more.isEmpty() ? null : more.trim());
            }
        }

        <T> T get(Future<T> f) throws Exception {
            try {
                return f.get(Math.max(1L, remainingMs()), TimeUnit.MILLISECONDS);
            } catch (TimeoutException e) {
                f.cancel(true);
                throw new DeadlineException(null);
            }
        }

        <T> T get(KafkaFuture<T> f) throws Exception {
            try {
                return f.get(Math.max(1L, remainingMs()), TimeUnit.MILLISECONDS);
            } catch (TimeoutException e) {
                throw new DeadlineException(null);
            }
        }

        /** Client-side timeouts bounded by what is left of the capability's deadline. */
        private int clientTimeoutMs(int cap) {
            return (int) Math.max(1000L, Math.min(cap, remainingMs()));
        }

        Admin admin() {
            Properties p = new Properties();
            p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
            p.put(AdminClientConfig.CLIENT_ID_CONFIG, "mc-" + client + "-" + capability + "-admin");
            int t = clientTimeoutMs(15000);
            p.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, Integer.toString(Math.min(t, 10000)));
            p.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, Integer.toString(t));
            Admin a = Admin.create(p);
            open.add(() -> a.close(Duration.ofSeconds(5)));
            return a;
        }

        KafkaProducer<String, String> producer(Properties extra) {
            Properties p = new Properties();
            p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
            p.put(ProducerConfig.CLIENT_ID_CONFIG, "mc-" + client + "-" + capability + "-producer");
            int t = clientTimeoutMs(20000);
            p.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, Integer.toString(t));
            p.put(ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, "10000");
            p.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, "20000");
            p.put(ProducerConfig.LINGER_MS_CONFIG, "5");
            p.putAll(extra);
            KafkaProducer<String, String> prod = new KafkaProducer<>(p, new StringSerializer(), new StringSerializer());
            open.add(() -> prod.close(Duration.ofSeconds(5)));
            return prod;
        }

        KafkaConsumer<String, String> consumer(Properties extra, String tag) {
            Properties p = new Properties();
            p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
            p.put(ConsumerConfig.CLIENT_ID_CONFIG, "mc-" + client + "-" + capability + "-consumer-" + tag);
            p.put(ConsumerConfig.REQUEST_TIMEOUT_MS_CONFIG, "10000");
            p.put(ConsumerConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, Integer.toString(clientTimeoutMs(15000)));
            p.put(ConsumerConfig.FETCH_MAX_WAIT_MS_CONFIG, "100");
            p.putAll(extra);
            KafkaConsumer<String, String> cons = new KafkaConsumer<>(p, new StringDeserializer(),
                    new StringDeserializer());
            open.add(new ConsumerCloser(cons));
            return cons;
        }

        /** Closes one client now (bounded), and not again at the end. */
        void closeNow(Object client) {
            for (int i = 0; i < open.size(); i++) {
                AutoCloseable a = open.get(i);
                if (a instanceof ConsumerCloser && ((ConsumerCloser) a).consumer == client) {
                    open.remove(i);
                    ((ConsumerCloser) a).close();
                    return;
                }
            }
            throw new IllegalArgumentException("not an open client");
        }

        void closeAll() {
            boolean interrupted = Thread.interrupted(); // close even after a cancel
            for (int i = open.size() - 1; i >= 0; i--) {
                try {
                    open.get(i).close();
                } catch (Throwable t) {
                    ERR.println("[" + client + "] " + capability + ": closing a client: " + describe(t));
                }
            }
            open.clear();
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
    }

    static final class ConsumerCloser implements AutoCloseable {
        final KafkaConsumer<String, String> consumer;

        ConsumerCloser(KafkaConsumer<String, String> consumer) {
            this.consumer = consumer;
        }

        @Override
        public void close() {
            consumer.close(CloseOptions.timeout(Duration.ofSeconds(5)));
        }
    }
}
