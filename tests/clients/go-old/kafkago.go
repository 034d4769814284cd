package main

// segmentio/kafka-go 0.2.1 (Debian golang-github-segmentio-kafka-go-dev):
// Conn for administration and offsets, Writer to produce, a Reader per
// partition (no group) to consume, a Reader with a GroupID for committed
// offsets. Its versions are fixed in the code, no ApiVersions: Produce v2
// (message format v1), Fetch v2, Metadata v1, ListOffsets v1, CreateTopics
// v0, DeleteTopics v1, FindCoordinator v0, JoinGroup v1, SyncGroup v0,
// Heartbeat v0, LeaveGroup v0, OffsetCommit v2, OffsetFetch v1.

import (
	"context"
	"fmt"
	"log"
	"os"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/gzip"
	"github.com/segmentio/kafka-go/lz4"
	"github.com/segmentio/kafka-go/snappy"
)

func kafkagoDriver() driver {
	lacks := func(format string, a ...interface{}) func(context.Context, *env) result {
		return func(context.Context, *env) result { return skip(format, a...) }
	}
	d := driver{
		"metadata":               kafkagoMetadata,
		"produce-consume-zstd":   lacks("kafka-go 0.2.1 has no zstd codec (gzip, snappy, lz4) and writes message format v1 (Produce v2), which cannot carry zstd"),
		"group-eager":            lacks("kafka-go 0.2.1's Reader with a GroupID does not tell which partitions it was assigned (no ConsumerGroup/Generation API, no callback)"),
		"group-cooperative":      lacks("kafka-go 0.2.1 has no cooperative-sticky assignor and no incremental rebalancing"),
		"committed-offsets":      kafkagoCommitted,
		"idempotence":            lacks("kafka-go 0.2.1 has no idempotent producer"),
		"admin-topics":           kafkagoAdminTopics,
		"admin-partitions":       lacks("kafka-go 0.2.1 has no CreatePartitions"),
		"admin-describe-configs": lacks("kafka-go 0.2.1 has no DescribeConfigs"),
		"list-offsets-time":      kafkagoListOffsets,
		"transactions":           lacks("kafka-go 0.2.1 has no transactional producer"),
	}
	for _, c := range []string{"txn-abort-visibility", "txn-consume-transform-produce", "txn-fencing"} {
		d[c] = d["transactions"]
	}
	codecs := map[string]kafka.CompressionCodec{
		"none":   nil,
		"gzip":   gzip.NewCompressionCodec(),
		"snappy": snappy.NewCompressionCodec(),
		"lz4":    lz4.NewCompressionCodec(),
	}
	for name, codec := range codecs {
		codec := codec
		d["produce-consume-"+name] = func(ctx context.Context, e *env) result { return kafkagoProduceConsume(ctx, e, codec) }
	}
	return d
}

func kafkagoLogger(e *env) *log.Logger {
	if !e.verbose {
		return nil
	}
	return log.New(os.Stderr, "kafka-go: ", log.Ltime|log.Lmicroseconds)
}

var kafkagoDialer = &kafka.Dialer{Timeout: 10 * time.Second, ClientID: "oldclientcheck"}

func kafkagoConn(ctx context.Context, e *env) (*kafka.Conn, error) {
	c, err := kafkagoDialer.DialContext(ctx, "tcp", e.bootstrap)
	if err == nil {
		c.SetDeadline(time.Now().Add(15 * time.Second))
	}
	return c, err
}

func kafkagoCreateTopic(ctx context.Context, e *env, topic string, partitions int, configs ...kafka.ConfigEntry) error {
	c, err := kafkagoConn(ctx, e)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.CreateTopics(kafka.TopicConfig{Topic: topic, NumPartitions: partitions, ReplicationFactor: 1, ConfigEntries: configs}); err != nil {
		return fmt.Errorf("create topic %s: %w", topic, err)
	}
	return nil
}

// kafkagoPartitions waits until metadata (v1) shows topic with n partitions.
func kafkagoPartitions(ctx context.Context, e *env, topic string, n int) ([]kafka.Partition, error) {
	var ps []kafka.Partition
	var err error
	if werr := waitFor(ctx, func() bool {
		var c *kafka.Conn
		c, err = kafkagoConn(ctx, e)
		if err != nil {
			return false
		}
		defer c.Close()
		ps, err = c.ReadPartitions(topic)
		return err == nil && len(ps) == n
	}); werr != nil {
		return nil, fmt.Errorf("metadata for %s: %d partitions, want %d (err %v)", topic, len(ps), n, err)
	}
	return ps, nil
}

func kafkagoMetadata(ctx context.Context, e *env) result {
	topic := e.name()
	if err := kafkagoCreateTopic(ctx, e, topic, 3); err != nil {
		return failErr("setup", err)
	}
	ps, err := kafkagoPartitions(ctx, e, topic, 3)
	if err != nil {
		return failErr("metadata", err)
	}
	// kafka-go 0.2.1 shows brokers only as partition leaders and replicas.
	brokers := map[int]kafka.Broker{}
	for _, p := range ps {
		brokers[p.Leader.ID] = p.Leader
		for _, r := range p.Replicas {
			brokers[r.ID] = r
		}
	}
	if len(brokers) != 1 {
		return fail("%d brokers lead or replicate the partitions, want 1: %v", len(brokers), brokers)
	}
	for _, b := range brokers {
		if !sameHostPort(e.bootstrap, b.Host, b.Port) {
			return fail("broker %d at %s:%d, bootstrap is %s", b.ID, b.Host, b.Port, e.bootstrap)
		}
		return pass("1 broker (node %d at %s:%d, the partitions' leader); topic has 3 partitions", b.ID, b.Host, b.Port)
	}
	return fail("unreachable")
}

func kafkagoLeader(ctx context.Context, e *env, topic string, p int) (*kafka.Conn, error) {
	c, err := kafkagoDialer.DialLeader(ctx, "tcp", e.bootstrap, topic, p)
	if err == nil {
		c.SetDeadline(time.Now().Add(15 * time.Second))
	}
	return c, err
}

func kafkagoProduceConsume(ctx context.Context, e *env, codec kafka.CompressionCodec) result {
	topic := e.name()
	if err := kafkagoCreateTopic(ctx, e, topic, 3); err != nil {
		return failErr("setup", err)
	}
	if _, err := kafkagoPartitions(ctx, e, topic, 3); err != nil {
		return failErr("setup", err)
	}
	w := kafka.NewWriter(kafka.WriterConfig{
		Brokers:          []string{e.bootstrap},
		Topic:            topic,
		Dialer:           kafkagoDialer,
		Balancer:         &kafka.Hash{},
		BatchSize:        numRecords,
		BatchTimeout:     50 * time.Millisecond,
		RequiredAcks:     -1,
		CompressionCodec: codec,
		Logger:           kafkagoLogger(e),
	})
	var msgs []kafka.Message
	for i := 0; i < numRecords; i++ {
		msgs = append(msgs, kafka.Message{Key: []byte(recKey(i)), Value: []byte(recValue(i))})
	}
	err := w.WriteMessages(ctx, msgs...)
	w.Close()
	if err != nil {
		return failErr("produce", err)
	}
	ends := map[int32]int64{}
	for p := 0; p < 3; p++ {
		c, err := kafkagoLeader(ctx, e, topic, p)
		if err != nil {
			return failErr("leader", err)
		}
		last, err := c.ReadLastOffset()
		c.Close()
		if err != nil {
			return failErr("end offset", err)
		}
		ends[int32(p)] = last
	}
	if sumEnds(ends) != numRecords {
		return fail("end offsets %v sum to %d after producing %d", ends, sumEnds(ends), numRecords)
	}
	var mu sync.Mutex
	var all []rec
	var firstErr error
	var wg sync.WaitGroup
	for p, end := range ends {
		if end == 0 {
			continue
		}
		p, end := p, end
		wg.Add(1)
		go func() {
			defer wg.Done()
			rd := kafka.NewReader(kafka.ReaderConfig{
				Brokers: []string{e.bootstrap}, Topic: topic, Partition: int(p), Dialer: kafkagoDialer,
				MinBytes: 1, MaxBytes: 1 << 20, MaxWait: 200 * time.Millisecond, Logger: kafkagoLogger(e),
			})
			defer rd.Close()
			var rs []rec
			var err error
			for int64(len(rs)) < end {
				var m kafka.Message
				m, err = rd.FetchMessage(ctx)
				if err != nil {
					err = fmt.Errorf("partition %d after %d records: %w", p, len(rs), err)
					break
				}
				rs = append(rs, rec{int32(m.Partition), m.Offset, string(m.Key), string(m.Value)})
			}
			mu.Lock()
			all = append(all, rs...)
			if err != nil && firstErr == nil {
				firstErr = err
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return failErr("consume", firstErr)
	}
	return checkRecords(all, numRecords)
}

func kafkagoCommitted(ctx context.Context, e *env) result {
	topic := e.name()
	if err := kafkagoCreateTopic(ctx, e, topic, 1); err != nil {
		return failErr("setup", err)
	}
	if _, err := kafkagoPartitions(ctx, e, topic, 1); err != nil {
		return failErr("setup", err)
	}
	c, err := kafkagoLeader(ctx, e, topic, 0)
	if err != nil {
		return failErr("leader", err)
	}
	var msgs []kafka.Message
	for i := 0; i < 20; i++ {
		msgs = append(msgs, kafka.Message{Key: []byte(recKey(i)), Value: []byte(recValue(i))})
	}
	_, err = c.WriteMessages(msgs...)
	c.Close()
	if err != nil {
		return failErr("produce", err)
	}
	group := e.name("g")
	reader := func() *kafka.Reader {
		return kafka.NewReader(kafka.ReaderConfig{
			Brokers: []string{e.bootstrap}, GroupID: group, Topic: topic, Dialer: kafkagoDialer,
			MinBytes: 1, MaxBytes: 1 << 20, MaxWait: 200 * time.Millisecond,
			SessionTimeout: 6 * time.Second, HeartbeatInterval: 500 * time.Millisecond,
			RebalanceTimeout: 10 * time.Second, CommitInterval: 0, // synchronous commits
			Logger: kafkagoLogger(e),
		})
	}
	r1 := reader()
	var last kafka.Message
	for i := 0; i < 10; i++ {
		m, err := r1.FetchMessage(ctx)
		if err != nil {
			r1.Close()
			return failErr(fmt.Sprintf("first consumer, record %d", i), err)
		}
		if i == 0 && m.Offset != 0 {
			r1.Close()
			return fail("first consumer of a new group started at offset %d, want 0", m.Offset)
		}
		last = m
	}
	if err := r1.CommitMessages(ctx, last); err != nil {
		r1.Close()
		return failErr("commit", err)
	}
	r1.Close()
	r2 := reader()
	defer r2.Close()
	m, err := r2.FetchMessage(ctx)
	if err != nil {
		return failErr("second consumer", err)
	}
	if m.Offset != 10 {
		return fail("second consumer of the group started at offset %d, want 10", m.Offset)
	}
	return pass("read 10 of 20 and committed 10 (OffsetCommit v2); a new consumer of the group starts at 10 (its OffsetFetch v1: kafka-go 0.2.1 has no other API to read the committed offset back)")
}

func kafkagoAdminTopics(ctx context.Context, e *env) result {
	topic := e.name()
	if err := kafkagoCreateTopic(ctx, e, topic, 2, kafka.ConfigEntry{ConfigName: "retention.ms", ConfigValue: "123456"}); err != nil {
		return failErr("create", err)
	}
	// kafka-go 0.2.1's ReadPartitions() without topics sends Metadata v1
	// with an empty topic list, which is "no topics" at v1 (null is "all"):
	// it cannot list every topic. The topic is looked up by name instead;
	// gone is checked with ListOffsets (v1), as Metadata v1 for a missing
	// topic would create it again where auto-creation is on.
	if _, err := kafkagoPartitions(ctx, e, topic, 2); err != nil {
		return failErr("created topic not in metadata", err)
	}
	c, err := kafkagoConn(ctx, e)
	if err != nil {
		return failErr("connect", err)
	}
	err = c.DeleteTopics(topic)
	c.Close()
	if err != nil {
		return failErr("delete", err)
	}
	var last error
	gone := func() bool {
		nc, err := kafkagoDialer.DialContext(ctx, "tcp", e.bootstrap)
		if err != nil {
			last = err
			return false
		}
		defer nc.Close()
		tc := kafka.NewConnWith(nc, kafka.ConnConfig{ClientID: "oldclientcheck", Topic: topic, Partition: 0})
		tc.SetDeadline(time.Now().Add(5 * time.Second))
		_, last = tc.ReadLastOffset()
		return last == kafka.UnknownTopicOrPartition
	}
	if werr := waitFor(ctx, gone); werr != nil {
		return fail("deleted %s: ListOffsets still answers %v, want UNKNOWN_TOPIC_OR_PARTITION", topic, last)
	}
	return pass("created %s with 2 partitions and retention.ms (CreateTopics v0), in metadata by name (Metadata v1), deleted (DeleteTopics v1), gone (ListOffsets v1: UNKNOWN_TOPIC_OR_PARTITION)", topic)
}

func kafkagoListOffsets(ctx context.Context, e *env) result {
	topic := e.name()
	if err := kafkagoCreateTopic(ctx, e, topic, 1); err != nil {
		return failErr("setup", err)
	}
	if _, err := kafkagoPartitions(ctx, e, topic, 1); err != nil {
		return failErr("setup", err)
	}
	c, err := kafkagoLeader(ctx, e, topic, 0)
	if err != nil {
		return failErr("leader", err)
	}
	defer c.Close()
	t := listOffsetsBase()
	for i := 0; i < 3; i++ {
		if _, err := c.WriteMessages(kafka.Message{Value: []byte(recValue(i)), Time: time.UnixMilli(t + int64(i)*1000)}); err != nil {
			return failErr("produce", err)
		}
	}
	at500, err1 := c.ReadOffset(time.UnixMilli(t + 500))
	at5000, err2 := c.ReadOffset(time.UnixMilli(t + 5000))
	first, last, err3 := c.ReadOffsets()
	for _, err := range []error{err1, err2, err3} {
		if err != nil {
			return failErr("list offsets", err)
		}
	}
	return checkListOffsets(at500, at5000, first, last)
}
