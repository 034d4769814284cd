package main

// segmentio kafka-go: kafka.Client for administration and offsets, Writer to
// produce, Reader (one per partition, no group) to consume, ConsumerGroup
// and Reader with a GroupID for groups. kafka-go negotiates the versions of
// Client requests from ApiVersions; Conn (under Reader) picks among the
// fixed versions it knows (Fetch v2/v5/v10, ListOffsets v1, group APIs
// v0-v2), so nothing is set here.

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"
)

func kafkagoDriver() driver {
	d := driver{
		"metadata":    kafkagoMetadata,
		"group-eager": kafkagoGroupEager,
		"group-cooperative": func(context.Context, *env) result {
			return skip("kafka-go has no cooperative-sticky assignor and no incremental rebalancing: its GroupBalancers (range, round-robin, rack-affinity) are eager")
		},
		"committed-offsets": kafkagoCommitted,
		"idempotence": func(context.Context, *env) result {
			return skip("kafka-go has no idempotent producer: its Writer writes every batch with producer id -1")
		},
		"admin-topics":           kafkagoAdminTopics,
		"admin-partitions":       kafkagoAdminPartitions,
		"admin-describe-configs": kafkagoDescribeConfigs,
		"list-offsets-time":      kafkagoListOffsets,
		"transactions": func(context.Context, *env) result {
			return skip("kafka-go has no transactional producer: its Writer cannot begin, commit or abort transactions (only the raw InitProducerID/AddPartitionsToTxn/EndTxn requests exist)")
		},
	}
	for _, c := range []string{"txn-abort-visibility", "txn-consume-transform-produce", "txn-fencing"} {
		d[c] = d["transactions"]
	}
	codecs := map[string]kafka.Compression{
		"none":   0,
		"gzip":   kafka.Gzip,
		"snappy": kafka.Snappy,
		"lz4":    kafka.Lz4,
		"zstd":   kafka.Zstd,
	}
	for name, codec := range codecs {
		d["produce-consume-"+name] = func(ctx context.Context, e *env) result { return kafkagoProduceConsume(ctx, e, codec) }
	}
	return d
}

func kafkagoLogger(e *env) kafka.Logger {
	if !e.verbose {
		return nil
	}
	return log.New(os.Stderr, "kafka-go: ", log.Ltime|log.Lmicroseconds)
}

// kafkagoClient: the Client answers Metadata requests from its transport's
// cache (refreshed every MetadataTTL, default 6 s, and after CreateTopics);
// the admin checks want fresh answers.
func kafkagoClient(e *env) *kafka.Client {
	return &kafka.Client{
		Addr:      kafka.TCP(e.bootstrap),
		Timeout:   10 * time.Second,
		Transport: &kafka.Transport{MetadataTTL: 200 * time.Millisecond, ClientID: "clientcheck"},
	}
}

func kafkagoCreateTopic(ctx context.Context, cl *kafka.Client, topic string, partitions int, configs map[string]string) error {
	tc := kafka.TopicConfig{Topic: topic, NumPartitions: partitions, ReplicationFactor: 1}
	for k, v := range configs {
		tc.ConfigEntries = append(tc.ConfigEntries, kafka.ConfigEntry{ConfigName: k, ConfigValue: v})
	}
	resp, err := cl.CreateTopics(ctx, &kafka.CreateTopicsRequest{Topics: []kafka.TopicConfig{tc}})
	if err == nil {
		err = resp.Errors[topic]
	}
	if err != nil {
		return fmt.Errorf("create topic %s: %w", topic, err)
	}
	return nil
}

// kafkagoSetup returns a client and a topic it created.
func kafkagoSetup(ctx context.Context, e *env, partitions int, configs map[string]string) (*kafka.Client, string, error) {
	cl := kafkagoClient(e)
	topic := e.name()
	return cl, topic, kafkagoCreateTopic(ctx, cl, topic, partitions, configs)
}

func kafkagoClose(cl *kafka.Client) {
	if t, ok := cl.Transport.(*kafka.Transport); ok {
		t.CloseIdleConnections()
	}
}

func kafkagoTopic(ctx context.Context, cl *kafka.Client, topic string) (kafka.Topic, []kafka.Broker, error) {
	md, err := cl.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{topic}})
	if err != nil {
		return kafka.Topic{}, nil, err
	}
	for _, t := range md.Topics {
		if t.Name == topic {
			return t, md.Brokers, t.Error
		}
	}
	return kafka.Topic{}, md.Brokers, fmt.Errorf("topic %s not in metadata", topic)
}

func kafkagoMetadata(ctx context.Context, e *env) result {
	cl, topic, err := kafkagoSetup(ctx, e, 3, nil)
	if err != nil {
		return failErr("admin", err)
	}
	defer kafkagoClose(cl)
	var t kafka.Topic
	var bs []kafka.Broker
	if err := waitFor(ctx, func() bool {
		t, bs, err = kafkagoTopic(ctx, cl, topic)
		return err == nil && len(t.Partitions) == 3
	}); err != nil {
		return fail("metadata for %s: %d partitions (err %v)", topic, len(t.Partitions), err)
	}
	if len(bs) != 1 {
		return fail("%d brokers in metadata, want 1: %v", len(bs), bs)
	}
	if !sameHostPort(e.bootstrap, bs[0].Host, bs[0].Port) {
		return fail("broker %d at %s:%d, bootstrap is %s", bs[0].ID, bs[0].Host, bs[0].Port, e.bootstrap)
	}
	return pass("1 broker (node %d at %s:%d); topic has 3 partitions", bs[0].ID, bs[0].Host, bs[0].Port)
}

// kafkagoOffset lists one offset of topic[p]: kafka.FirstOffset,
// kafka.LastOffset or a millisecond timestamp.
func kafkagoOffset(ctx context.Context, cl *kafka.Client, topic string, p int, ts int64) (int64, error) {
	resp, err := cl.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{topic: {{Partition: p, Timestamp: ts}}}})
	if err != nil {
		return 0, err
	}
	for _, po := range resp.Topics[topic] {
		if po.Partition != p {
			continue
		}
		if po.Error != nil {
			return 0, po.Error
		}
		switch ts {
		case kafka.FirstOffset:
			return po.FirstOffset, nil
		case kafka.LastOffset:
			return po.LastOffset, nil
		}
		for o := range po.Offsets {
			return o, nil
		}
	}
	return 0, fmt.Errorf("no answer for %s[%d]", topic, p)
}

func kafkagoEnds(ctx context.Context, cl *kafka.Client, topic string) (map[int32]int64, error) {
	t, _, err := kafkagoTopic(ctx, cl, topic)
	if err != nil {
		return nil, err
	}
	ends := map[int32]int64{}
	for _, p := range t.Partitions {
		o, err := kafkagoOffset(ctx, cl, topic, p.ID, kafka.LastOffset)
		if err != nil {
			return nil, fmt.Errorf("end offset of %s[%d]: %w", topic, p.ID, err)
		}
		ends[int32(p.ID)] = o
	}
	return ends, nil
}

// kafkagoConsumeAll reads each partition from the earliest offset with a
// Reader per partition (no group) until its end offset.
func kafkagoConsumeAll(ctx context.Context, e *env, topic string, ends map[int32]int64) ([]rec, error) {
	type part struct {
		recs []rec
		err  error
	}
	parts := map[int32]*part{}
	var wg sync.WaitGroup
	for p, end := range ends {
		if end == 0 {
			continue
		}
		r := &part{}
		parts[p] = r
		wg.Add(1)
		go func() {
			defer wg.Done()
			rd := kafka.NewReader(kafka.ReaderConfig{
				Brokers: []string{e.bootstrap}, Topic: topic, Partition: int(p),
				MinBytes: 1, MaxBytes: 1 << 20, MaxWait: 500 * time.Millisecond,
				StartOffset: kafka.FirstOffset, Logger: kafkagoLogger(e), ErrorLogger: kafkagoLogger(e),
			})
			defer rd.Close()
			for {
				m, err := rd.ReadMessage(ctx)
				if err != nil {
					r.err = fmt.Errorf("partition %d after %d records: %w", p, len(r.recs), err)
					return
				}
				h := map[string]string{}
				for _, x := range m.Headers {
					h[x.Key] = string(x.Value)
				}
				r.recs = append(r.recs, rec{int32(m.Partition), m.Offset, string(m.Key), string(m.Value), h, m.Time})
				if m.Offset >= end-1 {
					return
				}
			}
		}()
	}
	wg.Wait()
	var recs []rec
	for _, p := range sortedKeys(parts) {
		if parts[p].err != nil {
			return recs, parts[p].err
		}
		recs = append(recs, parts[p].recs...)
	}
	return recs, nil
}

// kafkagoWriter shares cl's transport, whose metadata cache knows the
// topics cl created (the default transport's would not for up to 6 s).
func kafkagoWriter(e *env, cl *kafka.Client, topic string, codec kafka.Compression) *kafka.Writer {
	return &kafka.Writer{
		Addr: kafka.TCP(e.bootstrap), Topic: topic, Balancer: &kafka.Hash{}, Transport: cl.Transport,
		RequiredAcks: kafka.RequireAll, Compression: codec,
		BatchSize: numRecords, BatchTimeout: 10 * time.Millisecond, MaxAttempts: 3,
		Logger: kafkagoLogger(e), ErrorLogger: kafkagoLogger(e),
	}
}

func kafkagoProduceConsume(ctx context.Context, e *env, codec kafka.Compression) result {
	cl, topic, err := kafkagoSetup(ctx, e, 3, nil)
	if err != nil {
		return failErr("admin", err)
	}
	defer kafkagoClose(cl)
	w := kafkagoWriter(e, cl, topic, codec)
	defer w.Close()
	var msgs []kafka.Message
	for i := 0; i < numRecords; i++ {
		msgs = append(msgs, kafka.Message{
			Key: []byte(recKey(i)), Value: []byte(recValue(i)),
			Headers: []kafka.Header{{Key: headerKey, Value: []byte(recHeader(i))}},
		})
	}
	if err := w.WriteMessages(ctx, msgs...); err != nil {
		return failErr("produce", err)
	}
	ends, err := kafkagoEnds(ctx, cl, topic)
	if err != nil {
		return failErr("list end offsets", err)
	}
	if sumEnds(ends) != numRecords {
		return fail("end offsets %v sum to %d after producing %d", ends, sumEnds(ends), numRecords)
	}
	recs, err := kafkagoConsumeAll(ctx, e, topic, ends)
	if err != nil {
		return failErr("consume", err)
	}
	return checkRecords(recs, numRecords, true)
}

func kafkagoGroupEager(ctx context.Context, e *env) result {
	cl, topic, err := kafkagoSetup(ctx, e, 4, nil)
	if err != nil {
		return failErr("admin", err)
	}
	defer kafkagoClose(cl)
	group := e.name("g")
	g := newGroupTracker(4)
	start := func(ctx context.Context, name string) (func(), error) {
		cg, err := kafka.NewConsumerGroup(kafka.ConsumerGroupConfig{
			ID: group, Brokers: []string{e.bootstrap}, Topics: []string{topic},
			GroupBalancers:    []kafka.GroupBalancer{kafka.RangeGroupBalancer{}},
			HeartbeatInterval: groupHeartbeat, SessionTimeout: groupSession,
			RebalanceTimeout: groupRebalance, JoinGroupBackoff: 200 * time.Millisecond,
			StartOffset: kafka.FirstOffset, Timeout: 5 * time.Second,
			Logger: kafkagoLogger(e), ErrorLogger: kafkagoLogger(e),
		})
		if err != nil {
			return nil, err
		}
		cctx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() {
			defer close(done)
			var mu sync.Mutex
			var current int32 = -1 // generation whose assignment the tracker holds
			for {
				gen, err := cg.Next(cctx)
				if err != nil {
					if errors.Is(err, kafka.ErrGroupClosed) || cctx.Err() != nil {
						return
					}
					logf("kafka-go group %s %s: %v", group, name, err)
					_ = sleepCtx(cctx, 200*time.Millisecond)
					continue
				}
				var ps []int32
				for _, a := range gen.Assignments[topic] {
					ps = append(ps, int32(a.ID))
				}
				mu.Lock()
				current = gen.ID
				g.set(name, ps)
				mu.Unlock()
				id := gen.ID
				gen.Start(func(gctx context.Context) {
					<-gctx.Done()
					mu.Lock()
					if current == id { // the generation is over: nothing is owned
						g.set(name, nil)
					}
					mu.Unlock()
				})
			}
		}()
		return func() {
			cancel()
			if err := cg.Close(); err != nil {
				logf("kafka-go group %s %s close: %v", group, name, err)
			}
			<-done
		}, nil
	}
	return groupScenario(ctx, g, start, false)
}

func kafkagoCommitted(ctx context.Context, e *env) result {
	cl, topic, err := kafkagoSetup(ctx, e, 1, nil)
	if err != nil {
		return failErr("admin", err)
	}
	defer kafkagoClose(cl)
	w := kafkagoWriter(e, cl, topic, 0)
	var msgs []kafka.Message
	for i := 0; i < 20; i++ {
		msgs = append(msgs, kafka.Message{Key: []byte(recKey(i)), Value: []byte(recValue(i))})
	}
	err = w.WriteMessages(ctx, msgs...)
	w.Close()
	if err != nil {
		return failErr("produce", err)
	}
	group := e.name("g")
	reader := func() *kafka.Reader {
		return kafka.NewReader(kafka.ReaderConfig{
			Brokers: []string{e.bootstrap}, GroupID: group, Topic: topic,
			MinBytes: 1, MaxBytes: 1 << 20, MaxWait: 500 * time.Millisecond,
			StartOffset:       kafka.FirstOffset,
			CommitInterval:    0, // commits are synchronous, on CommitMessages only
			GroupBalancers:    []kafka.GroupBalancer{kafka.RangeGroupBalancer{}},
			HeartbeatInterval: groupHeartbeat, SessionTimeout: groupSession,
			RebalanceTimeout: groupRebalance, JoinGroupBackoff: 200 * time.Millisecond,
			Logger: kafkagoLogger(e), ErrorLogger: kafkagoLogger(e),
		})
	}
	r1 := reader()
	var got []kafka.Message
	for len(got) < 10 {
		m, err := r1.FetchMessage(ctx)
		if err != nil {
			r1.Close()
			return fail("first consumer read %d of 10 records: %v", len(got), err)
		}
		got = append(got, m)
	}
	if got[0].Offset != 0 || got[9].Offset != 9 {
		r1.Close()
		return fail("first consumer read offsets %d..%d, want 0..9", got[0].Offset, got[9].Offset)
	}
	if err := r1.CommitMessages(ctx, got[9]); err != nil {
		r1.Close()
		return failErr("commit", err)
	}
	r1.Close()
	r2 := reader()
	m, err := r2.FetchMessage(ctx)
	r2.Close()
	if err != nil {
		return failErr("second consumer of the group", err)
	}
	if m.Offset != 10 {
		return fail("second consumer of the group started at offset %d, want 10", m.Offset)
	}
	resp, err := cl.OffsetFetch(ctx, &kafka.OffsetFetchRequest{GroupID: group, Topics: map[string][]int{topic: {0}}})
	if err != nil {
		return failErr("OffsetFetch", err)
	}
	if resp.Error != nil {
		return failErr("OffsetFetch", resp.Error)
	}
	ps := resp.Topics[topic]
	if len(ps) != 1 || ps[0].Error != nil || ps[0].CommittedOffset != 10 {
		return fail("committed offset read back: %+v, want 10", ps)
	}
	return pass("read 10 of 20 and committed; new consumer started at 10; Client.OffsetFetch answers 10")
}

func kafkagoAdminTopics(ctx context.Context, e *env) result {
	cl, topic, err := kafkagoSetup(ctx, e, 2, map[string]string{"retention.ms": "123456"})
	if err != nil {
		return failErr("admin", err)
	}
	defer kafkagoClose(cl)
	// all topics: a Metadata request with no topic list
	listed := func() (map[string]int, error) {
		md, err := cl.Metadata(ctx, &kafka.MetadataRequest{})
		if err != nil {
			return nil, err
		}
		ts := map[string]int{}
		for _, t := range md.Topics {
			if t.Error == nil {
				ts[t.Name] = len(t.Partitions)
			}
		}
		return ts, nil
	}
	var ts map[string]int
	if err := waitFor(ctx, func() bool {
		ts, err = listed()
		_, ok := ts[topic]
		return err == nil && ok
	}); err != nil {
		return fail("created topic not listed (err %v)", err)
	}
	if ts[topic] != 2 {
		return fail("listed with %d partitions, want 2", ts[topic])
	}
	resp, err := cl.DeleteTopics(ctx, &kafka.DeleteTopicsRequest{Topics: []string{topic}})
	if err == nil {
		err = resp.Errors[topic]
	}
	if err != nil {
		return failErr("delete topic", err)
	}
	if err := waitFor(ctx, func() bool {
		ts, err = listed()
		_, ok := ts[topic]
		return err == nil && !ok
	}); err != nil {
		return fail("deleted topic still listed (err %v)", err)
	}
	return pass("created with 2 partitions and retention.ms, listed, deleted, gone")
}

func kafkagoAdminPartitions(ctx context.Context, e *env) result {
	cl, topic, err := kafkagoSetup(ctx, e, 1, nil)
	if err != nil {
		return failErr("admin", err)
	}
	defer kafkagoClose(cl)
	resp, err := cl.CreatePartitions(ctx, &kafka.CreatePartitionsRequest{Topics: []kafka.TopicPartitionsConfig{{Name: topic, Count: 3}}})
	if err == nil {
		err = resp.Errors[topic]
	}
	if err != nil {
		return failErr("create partitions", err)
	}
	var t kafka.Topic
	if err := waitFor(ctx, func() bool {
		t, _, err = kafkagoTopic(ctx, cl, topic)
		return err == nil && len(t.Partitions) == 3
	}); err != nil {
		return fail("metadata shows %d partitions after growing to 3 (err %v)", len(t.Partitions), err)
	}
	return pass("grown from 1 to 3 partitions; metadata shows 3")
}

func kafkagoDescribeConfigs(ctx context.Context, e *env) result {
	cl, topic, err := kafkagoSetup(ctx, e, 1, map[string]string{"retention.ms": "123456"})
	if err != nil {
		return failErr("admin", err)
	}
	defer kafkagoClose(cl)
	// A Kafka node answers CreateTopics before its metadata shows the topic:
	// retry while DescribeConfigs says UNKNOWN_TOPIC_OR_PARTITION.
	var resp *kafka.DescribeConfigsResponse
	_ = waitFor(ctx, func() bool {
		resp, err = cl.DescribeConfigs(ctx, &kafka.DescribeConfigsRequest{Resources: []kafka.DescribeConfigRequestResource{
			{ResourceType: kafka.ResourceTypeTopic, ResourceName: topic},
		}})
		return err != nil || len(resp.Resources) != 1 || !errors.Is(resp.Resources[0].Error, kafka.UnknownTopicOrPartition)
	})
	if err != nil {
		return failErr("describe configs", err)
	}
	if len(resp.Resources) != 1 || resp.Resources[0].Error != nil {
		return fail("describe configs of %s: %+v", topic, resp.Resources)
	}
	entries := resp.Resources[0].ConfigEntries
	vals := map[string]string{}
	for _, c := range entries {
		vals[c.ConfigName] = c.ConfigValue
	}
	if vals["retention.ms"] != "123456" || vals["cleanup.policy"] != "delete" {
		return fail("retention.ms %q (want 123456), cleanup.policy %q (want delete), %d configs",
			vals["retention.ms"], vals["cleanup.policy"], len(entries))
	}
	return pass("retention.ms=123456, cleanup.policy=delete (%d configs)", len(entries))
}

func kafkagoListOffsets(ctx context.Context, e *env) result {
	cl, topic, err := kafkagoSetup(ctx, e, 1, nil)
	if err != nil {
		return failErr("admin", err)
	}
	defer kafkagoClose(cl)
	t := listOffsetsBase()
	w := kafkagoWriter(e, cl, topic, 0)
	var msgs []kafka.Message
	for i := 0; i < 3; i++ {
		msgs = append(msgs, kafka.Message{Value: []byte(recValue(i)), Time: timeMilli(t + int64(i)*1000)})
	}
	err = w.WriteMessages(ctx, msgs...)
	w.Close()
	if err != nil {
		return failErr("produce", err)
	}
	var offs [4]int64
	for i, ts := range []int64{t + 500, t + 5000, kafka.FirstOffset, kafka.LastOffset} {
		if offs[i], err = kafkagoOffset(ctx, cl, topic, 0, ts); err != nil {
			return failErr(fmt.Sprintf("ListOffsets(%d)", ts), err)
		}
	}
	return checkListOffsets(offs[0], offs[1], offs[2], offs[3], -1, "none")
}
