package main

// franz-go (kgo) with kadm for administration. franz-go needs no version
// setting: it negotiates every request's version from ApiVersions.

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

func franzDriver() driver {
	d := driver{
		"metadata":                      franzMetadata,
		"group-eager":                   func(ctx context.Context, e *env) result { return franzGroup(ctx, e, false) },
		"group-cooperative":             func(ctx context.Context, e *env) result { return franzGroup(ctx, e, true) },
		"committed-offsets":             franzCommitted,
		"idempotence":                   franzIdempotence,
		"admin-topics":                  franzAdminTopics,
		"admin-partitions":              franzAdminPartitions,
		"admin-describe-configs":        franzDescribeConfigs,
		"list-offsets-time":             franzListOffsets,
		"transactions":                  franzTransactions,
		"txn-abort-visibility":          franzTxnAbortVisibility,
		"txn-fencing":                   franzTxnFencing,
		"txn-consume-transform-produce": franzTxnConsumeTransformProduce,
	}
	codecs := map[string]kgo.CompressionCodec{
		"none":   kgo.NoCompression(),
		"gzip":   kgo.GzipCompression(),
		"snappy": kgo.SnappyCompression(),
		"lz4":    kgo.Lz4Compression(),
		"zstd":   kgo.ZstdCompression(),
	}
	for name, codec := range codecs {
		d["produce-consume-"+name] = func(ctx context.Context, e *env) result { return franzProduceConsume(ctx, e, codec) }
	}
	return d
}

func franzClient(e *env, opts ...kgo.Opt) (*kgo.Client, error) {
	// MetadataMinAge: kgo waits at least this long (default 5 s) before it
	// asks again for metadata, e.g. for a topic just created.
	base := []kgo.Opt{kgo.SeedBrokers(e.bootstrap), kgo.ClientID("clientcheck"), kgo.MetadataMinAge(100 * time.Millisecond)}
	if e.verbose {
		base = append(base, kgo.WithLogger(kgo.BasicLogger(os.Stderr, kgo.LogLevelInfo, nil)))
	}
	return kgo.NewClient(append(base, opts...)...)
}

// franzAdmin returns a kgo client and its kadm wrapper; close the client.
func franzAdmin(e *env) (*kgo.Client, *kadm.Client, error) {
	// (franzClient sets MetadataMinAge: kgo answers metadata requests from
	// a cache younger than that, and the admin checks want fresh answers.)
	cl, err := franzClient(e)
	if err != nil {
		return nil, nil, err
	}
	return cl, kadm.NewClient(cl), nil
}

func franzCreateTopic(ctx context.Context, adm *kadm.Client, topic string, partitions int32, configs map[string]*string) error {
	r, err := adm.CreateTopic(ctx, partitions, 1, configs, topic)
	if err != nil {
		return fmt.Errorf("create topic %s: %w", topic, err)
	}
	if r.Err != nil {
		return fmt.Errorf("create topic %s: %w (%s)", topic, r.Err, r.ErrMessage)
	}
	return nil
}

func franzMetadata(ctx context.Context, e *env) result {
	cl, adm, err := franzAdmin(e)
	if err != nil {
		return failErr("client", err)
	}
	defer cl.Close()
	topic := e.name()
	if err := franzCreateTopic(ctx, adm, topic, 3, nil); err != nil {
		return failErr("admin", err)
	}
	var m kadm.Metadata
	err = waitFor(ctx, func() bool {
		m, err = adm.Metadata(ctx, topic)
		return err == nil && len(m.Topics[topic].Partitions) == 3
	})
	if err != nil {
		return fail("metadata for %s: err %v, topic %+v", topic, err, m.Topics[topic])
	}
	if len(m.Brokers) != 1 {
		return fail("%d brokers in metadata, want 1: %v", len(m.Brokers), m.Brokers)
	}
	b := m.Brokers[0]
	if !sameHostPort(e.bootstrap, b.Host, int(b.Port)) {
		return fail("broker %d at %s:%d, bootstrap is %s", b.NodeID, b.Host, b.Port, e.bootstrap)
	}
	return pass("1 broker (node %d at %s:%d); topic has 3 partitions", b.NodeID, b.Host, b.Port)
}

// franzEnds lists the end offsets (high watermarks) of topic's partitions.
func franzEnds(ctx context.Context, adm *kadm.Client, topic string) (map[int32]int64, error) {
	lo, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		return nil, err
	}
	ends := map[int32]int64{}
	var ferr error
	lo.Each(func(o kadm.ListedOffset) {
		if o.Err != nil {
			ferr = fmt.Errorf("end offset of %s[%d]: %w", o.Topic, o.Partition, o.Err)
		}
		ends[o.Partition] = o.Offset
	})
	return ends, ferr
}

// franzConsumeAll reads topic from the earliest offset without a group
// (assigned partitions) until every partition's end offset is reached.
func franzConsumeAll(ctx context.Context, e *env, topic string, ends map[int32]int64) ([]rec, error) {
	parts := map[int32]kgo.Offset{}
	for p := range ends {
		parts[p] = kgo.NewOffset().AtStart()
	}
	cl, err := franzClient(e,
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: parts}),
		kgo.FetchMaxWait(500*time.Millisecond))
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	var recs []rec
	last := map[int32]int64{}
	for !endsReached(last, ends) {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return recs, fmt.Errorf("consumed %d records: %w", len(recs), ctx.Err())
		}
		var ferr error
		fs.EachError(func(t string, p int32, err error) {
			if ferr == nil {
				ferr = fmt.Errorf("fetch %s[%d]: %w", t, p, err)
			}
		})
		if ferr != nil {
			return recs, ferr
		}
		fs.EachRecord(func(r *kgo.Record) {
			h := map[string]string{}
			for _, x := range r.Headers {
				h[x.Key] = string(x.Value)
			}
			recs = append(recs, rec{r.Partition, r.Offset, string(r.Key), string(r.Value), h, r.Timestamp})
			last[r.Partition] = r.Offset
		})
	}
	return recs, nil
}

func franzRecords(topic string) []*kgo.Record {
	var rs []*kgo.Record
	for i := 0; i < numRecords; i++ {
		rs = append(rs, &kgo.Record{
			Topic:   topic,
			Key:     []byte(recKey(i)),
			Value:   []byte(recValue(i)),
			Headers: []kgo.RecordHeader{{Key: headerKey, Value: []byte(recHeader(i))}},
		})
	}
	return rs
}

func franzProduceConsume(ctx context.Context, e *env, codec kgo.CompressionCodec) result {
	cl, adm, err := franzAdmin(e)
	if err != nil {
		return failErr("client", err)
	}
	defer cl.Close()
	topic := e.name()
	if err := franzCreateTopic(ctx, adm, topic, 3, nil); err != nil {
		return failErr("admin", err)
	}
	prod, err := franzClient(e, kgo.ProducerBatchCompression(codec), kgo.ProducerLinger(0))
	if err != nil {
		return failErr("producer", err)
	}
	defer prod.Close()
	if err := prod.ProduceSync(ctx, franzRecords(topic)...).FirstErr(); err != nil {
		return failErr("produce", err)
	}
	ends, err := franzEnds(ctx, adm, topic)
	if err != nil {
		return failErr("list end offsets", err)
	}
	if sumEnds(ends) != numRecords {
		return fail("end offsets %v sum to %d after producing %d", ends, sumEnds(ends), numRecords)
	}
	recs, err := franzConsumeAll(ctx, e, topic, ends)
	if err != nil {
		return failErr("consume", err)
	}
	return checkRecords(recs, numRecords, true)
}

// franzGroup is group-eager (range) and group-cooperative
// (cooperative-sticky).
func franzGroup(ctx context.Context, e *env, cooperative bool) result {
	cl, adm, err := franzAdmin(e)
	if err != nil {
		return failErr("client", err)
	}
	defer cl.Close()
	topic, group := e.name(), e.name("g")
	if err := franzCreateTopic(ctx, adm, topic, 4, nil); err != nil {
		return failErr("admin", err)
	}
	g := newGroupTracker(4)
	start := func(ctx context.Context, name string) (func(), error) {
		balancer := kgo.RangeBalancer()
		if cooperative {
			balancer = kgo.CooperativeStickyBalancer()
		}
		ps := func(m map[string][]int32) []int32 { return m[topic] }
		c, err := franzClient(e,
			kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic), kgo.Balancers(balancer),
			kgo.SessionTimeout(groupSession), kgo.HeartbeatInterval(groupHeartbeat),
			kgo.RebalanceTimeout(groupRebalance), kgo.FetchMaxWait(500*time.Millisecond),
			kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, m map[string][]int32) { g.add(name, ps(m)) }),
			kgo.OnPartitionsRevoked(func(_ context.Context, _ *kgo.Client, m map[string][]int32) { g.remove(name, ps(m)) }),
			kgo.OnPartitionsLost(func(_ context.Context, _ *kgo.Client, m map[string][]int32) { g.remove(name, ps(m)) }))
		if err != nil {
			return nil, err
		}
		done := make(chan struct{})
		go func() {
			defer close(done)
			for {
				if fs := c.PollFetches(ctx); fs.IsClientClosed() || ctx.Err() != nil {
					return
				}
			}
		}()
		return func() { c.Close(); <-done }, nil
	}
	return groupScenario(ctx, g, start, cooperative)
}

func franzProduceN(ctx context.Context, cl *kgo.Client, topic string, n int) error {
	var rs []*kgo.Record
	for i := 0; i < n; i++ {
		rs = append(rs, &kgo.Record{Topic: topic, Key: []byte(recKey(i)), Value: []byte(recValue(i))})
	}
	return cl.ProduceSync(ctx, rs...).FirstErr()
}

func franzCommitted(ctx context.Context, e *env) result {
	cl, adm, err := franzAdmin(e)
	if err != nil {
		return failErr("client", err)
	}
	defer cl.Close()
	topic, group := e.name(), e.name("g")
	if err := franzCreateTopic(ctx, adm, topic, 1, nil); err != nil {
		return failErr("admin", err)
	}
	if err := franzProduceN(ctx, cl, topic, 20); err != nil {
		return failErr("produce", err)
	}
	consumer := func() (*kgo.Client, error) {
		return franzClient(e, kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic),
			kgo.DisableAutoCommit(), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
			kgo.SessionTimeout(groupSession), kgo.HeartbeatInterval(groupHeartbeat),
			kgo.FetchMaxWait(500*time.Millisecond))
	}
	c1, err := consumer()
	if err != nil {
		return failErr("consumer", err)
	}
	var got []*kgo.Record
	for len(got) < 10 {
		fs := c1.PollRecords(ctx, 10-len(got))
		if ctx.Err() != nil {
			c1.Close()
			return fail("first consumer read %d of 10 records", len(got))
		}
		if err := fs.Err0(); err != nil {
			c1.Close()
			return failErr("first consumer fetch", err)
		}
		got = append(got, fs.Records()...)
	}
	if got[0].Offset != 0 || got[9].Offset != 9 {
		c1.Close()
		return fail("first consumer read offsets %d..%d, want 0..9", got[0].Offset, got[9].Offset)
	}
	if err := c1.CommitRecords(ctx, got...); err != nil {
		c1.Close()
		return failErr("commit", err)
	}
	c1.Close()

	c2, err := consumer()
	if err != nil {
		return failErr("consumer", err)
	}
	var first *kgo.Record
	for first == nil {
		fs := c2.PollRecords(ctx, 1)
		if ctx.Err() != nil {
			c2.Close()
			return fail("second consumer of the group read nothing")
		}
		if err := fs.Err0(); err != nil {
			c2.Close()
			return failErr("second consumer fetch", err)
		}
		if rs := fs.Records(); len(rs) > 0 {
			first = rs[0]
		}
	}
	c2.Close()
	if first.Offset != 10 {
		return fail("second consumer of the group started at offset %d, want 10", first.Offset)
	}
	offs, err := adm.FetchOffsets(ctx, group)
	if err != nil {
		return failErr("fetch committed offsets", err)
	}
	o, ok := offs.Lookup(topic, 0)
	if !ok || o.Err != nil || o.At != 10 {
		return fail("committed offset read back: %+v (found %v), want 10", o, ok)
	}
	return pass("read 10 of 20 and committed; new consumer started at 10; kadm FetchOffsets answers 10")
}

func franzIdempotence(ctx context.Context, e *env) result {
	cl, adm, err := franzAdmin(e)
	if err != nil {
		return failErr("client", err)
	}
	defer cl.Close()
	topic := e.name()
	if err := franzCreateTopic(ctx, adm, topic, 1, nil); err != nil {
		return failErr("admin", err)
	}
	// kgo producers are idempotent unless DisableIdempotentWrite is given;
	// RequiredAcks(AllISRAcks) is its default and required for it.
	prod, err := franzClient(e, kgo.RequiredAcks(kgo.AllISRAcks()), kgo.ProducerLinger(0))
	if err != nil {
		return failErr("producer", err)
	}
	defer prod.Close()
	res := prod.ProduceSync(ctx, franzRecords(topic)...)
	if err := res.FirstErr(); err != nil {
		return failErr("produce", err)
	}
	pid := res[0].Record.ProducerID
	for i, r := range res {
		if r.Record.ProducerID < 0 || r.Record.ProducerID != pid {
			return fail("record %d produced with producer id %d (first %d): not idempotent", i, r.Record.ProducerID, pid)
		}
		if r.Record.Offset != int64(i) {
			return fail("record %d written at offset %d", i, r.Record.Offset)
		}
	}
	ends, err := franzEnds(ctx, adm, topic)
	if err != nil {
		return failErr("list end offsets", err)
	}
	if ends[0] != numRecords {
		return fail("end offset %d after producing %d", ends[0], numRecords)
	}
	recs, err := franzConsumeAll(ctx, e, topic, ends)
	if err != nil {
		return failErr("consume", err)
	}
	r := checkRecords(recs, numRecords, true)
	if r.Status == "pass" {
		r.Detail = fmt.Sprintf("producer id %d: %s", pid, r.Detail)
	}
	return r
}

func franzAdminTopics(ctx context.Context, e *env) result {
	cl, adm, err := franzAdmin(e)
	if err != nil {
		return failErr("client", err)
	}
	defer cl.Close()
	topic := e.name()
	ret := "123456"
	if err := franzCreateTopic(ctx, adm, topic, 2, map[string]*string{"retention.ms": &ret}); err != nil {
		return failErr("admin", err)
	}
	var td kadm.TopicDetails
	if err := waitFor(ctx, func() bool {
		td, err = adm.ListTopics(ctx)
		return err == nil && td.Has(topic)
	}); err != nil {
		return fail("created topic not listed (err %v)", err)
	}
	if n := len(td[topic].Partitions); n != 2 {
		return fail("listed with %d partitions, want 2", n)
	}
	dr, err := adm.DeleteTopic(ctx, topic)
	if err != nil || dr.Err != nil {
		return fail("delete topic: %v %v %s", err, dr.Err, dr.ErrMessage)
	}
	if err := waitFor(ctx, func() bool {
		td, err = adm.ListTopics(ctx)
		return err == nil && !td.Has(topic)
	}); err != nil {
		return fail("deleted topic still listed (err %v)", err)
	}
	return pass("created with 2 partitions and retention.ms, listed, deleted, gone")
}

func franzAdminPartitions(ctx context.Context, e *env) result {
	cl, adm, err := franzAdmin(e)
	if err != nil {
		return failErr("client", err)
	}
	defer cl.Close()
	topic := e.name()
	if err := franzCreateTopic(ctx, adm, topic, 1, nil); err != nil {
		return failErr("admin", err)
	}
	rs, err := adm.UpdatePartitions(ctx, 3, topic)
	if err != nil {
		return failErr("create partitions", err)
	}
	if r, ok := rs[topic]; !ok || r.Err != nil {
		return fail("create partitions: %+v", rs)
	}
	var m kadm.Metadata
	if err := waitFor(ctx, func() bool {
		m, err = adm.Metadata(ctx, topic)
		return err == nil && len(m.Topics[topic].Partitions) == 3
	}); err != nil {
		return fail("metadata shows %d partitions after growing to 3 (err %v)", len(m.Topics[topic].Partitions), err)
	}
	return pass("grown from 1 to 3 partitions; metadata shows 3")
}

func franzDescribeConfigs(ctx context.Context, e *env) result {
	cl, adm, err := franzAdmin(e)
	if err != nil {
		return failErr("client", err)
	}
	defer cl.Close()
	topic := e.name()
	ret := "123456"
	if err := franzCreateTopic(ctx, adm, topic, 1, map[string]*string{"retention.ms": &ret}); err != nil {
		return failErr("admin", err)
	}
	// A Kafka node answers CreateTopics before its metadata shows the topic:
	// retry while DescribeConfigs says UNKNOWN_TOPIC_OR_PARTITION.
	var rc kadm.ResourceConfig
	_ = waitFor(ctx, func() bool {
		var rcs kadm.ResourceConfigs
		rcs, err = adm.DescribeTopicConfigs(ctx, topic)
		if err == nil {
			rc, err = rcs.On(topic, nil)
		}
		return err != nil || !errors.Is(rc.Err, kerr.UnknownTopicOrPartition)
	})
	if err != nil {
		return failErr("describe configs", err)
	}
	if rc.Err != nil {
		return fail("describe configs of %s: %v", topic, rc.Err)
	}
	vals := map[string]string{}
	for _, c := range rc.Configs {
		if c.Value != nil {
			vals[c.Key] = *c.Value
		}
	}
	if vals["retention.ms"] != "123456" || vals["cleanup.policy"] != "delete" {
		return fail("retention.ms %q (want 123456), cleanup.policy %q (want delete), %d configs",
			vals["retention.ms"], vals["cleanup.policy"], len(rc.Configs))
	}
	return pass("retention.ms=123456, cleanup.policy=delete (%d configs)", len(rc.Configs))
}

func franzListOffsets(ctx context.Context, e *env) result {
	cl, adm, err := franzAdmin(e)
	if err != nil {
		return failErr("client", err)
	}
	defer cl.Close()
	topic := e.name()
	if err := franzCreateTopic(ctx, adm, topic, 1, nil); err != nil {
		return failErr("admin", err)
	}
	t := listOffsetsBase()
	var rs []*kgo.Record
	for i := 0; i < 3; i++ {
		rs = append(rs, &kgo.Record{Topic: topic, Value: []byte(recValue(i)), Timestamp: timeMilli(t + int64(i)*1000)})
	}
	res := cl.ProduceSync(ctx, rs...)
	if err := res.FirstErr(); err != nil {
		return failErr("produce", err)
	}
	for i, r := range res {
		if r.Record.Offset != int64(i) {
			return fail("record %d written at offset %d", i, r.Record.Offset)
		}
	}
	one := func(lo kadm.ListedOffsets, err error) (int64, error) {
		if err != nil {
			return 0, err
		}
		o, ok := lo.Lookup(topic, 0)
		if !ok {
			return 0, errors.New("no answer for partition 0")
		}
		return o.Offset, o.Err
	}
	at500, err := one(adm.ListOffsetsAfterMilli(ctx, t+500, topic))
	if err != nil {
		return failErr("list offsets T+500", err)
	}
	at5000, err := one(adm.ListOffsetsAfterMilli(ctx, t+5000, topic))
	if err != nil {
		return failErr("list offsets T+5000", err)
	}
	earliest, err := one(adm.ListStartOffsets(ctx, topic))
	if err != nil {
		return failErr("list earliest", err)
	}
	latest, err := one(adm.ListEndOffsets(ctx, topic))
	if err != nil {
		return failErr("list latest", err)
	}
	// kadm.ListOffsetsAfterMilli documents that a partition without an
	// offset at or after the time answers its end offset (it asks again
	// for the latest when the broker answers -1).
	return checkListOffsets(at500, at5000, earliest, latest, 3, "kadm answers the end offset when no record is that late")
}

func franzTransactions(ctx context.Context, e *env) result {
	cl, adm, err := franzAdmin(e)
	if err != nil {
		return failErr("client", err)
	}
	defer cl.Close()
	topic := e.name()
	if err := franzCreateTopic(ctx, adm, topic, 1, nil); err != nil {
		return failErr("admin", err)
	}
	prod, err := franzClient(e, kgo.TransactionalID(e.name("txn")), kgo.TransactionTimeout(30*time.Second),
		kgo.DefaultProduceTopic(topic), kgo.ProducerLinger(0))
	if err != nil {
		return failErr("producer", err)
	}
	defer prod.Close()
	txn := func(kind string, end kgo.TransactionEndTry) error {
		if err := prod.BeginTransaction(); err != nil {
			return fmt.Errorf("begin: %w", err)
		}
		var rs []*kgo.Record
		for i := 0; i < 10; i++ {
			rs = append(rs, &kgo.Record{Value: []byte(txnValue(kind, i))})
		}
		if err := prod.ProduceSync(ctx, rs...).FirstErr(); err != nil {
			_ = prod.EndTransaction(ctx, kgo.TryAbort)
			return fmt.Errorf("produce: %w", err)
		}
		if err := prod.EndTransaction(ctx, end); err != nil {
			return fmt.Errorf("end: %w", err)
		}
		return nil
	}
	if err := txn("a", kgo.TryAbort); err != nil {
		return failErr("aborted transaction", err)
	}
	if err := txn("c", kgo.TryCommit); err != nil {
		return failErr("committed transaction", err)
	}
	read := func(level kgo.IsolationLevel) ([]string, error) {
		c, err := franzClient(e, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().AtStart()}}),
			kgo.FetchIsolationLevel(level), kgo.FetchMaxWait(500*time.Millisecond))
		if err != nil {
			return nil, err
		}
		defer c.Close()
		var vals []string
		for !contains(vals, txnValue("c", 9)) {
			fs := c.PollFetches(ctx)
			if ctx.Err() != nil {
				return vals, fmt.Errorf("saw %v: %w", short(vals), ctx.Err())
			}
			if err := fs.Err0(); err != nil {
				return vals, err
			}
			fs.EachRecord(func(r *kgo.Record) { vals = append(vals, string(r.Value)) })
		}
		return vals, nil
	}
	all, err := read(kgo.ReadUncommitted())
	if err != nil {
		return failErr("read_uncommitted consumer", err)
	}
	if len(all) != 20 {
		return fail("read_uncommitted consumer saw %d records, want the 20 of both transactions: %v", len(all), short(all))
	}
	vals, err := read(kgo.ReadCommitted())
	if err != nil {
		return failErr("read_committed consumer", err)
	}
	return checkTxn(vals)
}
