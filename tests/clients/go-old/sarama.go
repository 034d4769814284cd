package main

// Shopify/sarama 1.22.1 (Debian golang-github-shopify-sarama-dev). Sarama
// of that age sends no ApiVersions: Config.Version alone picks every
// request version. sarama-1.22-default keeps the default (MinVersion,
// 0.8.2); sarama-1.22-v0.10.2 sets V0_10_2_0, the lowest its consumer
// groups accept.

import (
	"context"
	"fmt"
	"log"
	"os"
	"sync"
	"time"

	"github.com/Shopify/sarama"
)

func saramaDriver(v0102 bool) driver {
	lacks := func(format string, a ...interface{}) func(context.Context, *env) result {
		return func(context.Context, *env) result { return skip(format, a...) }
	}
	d := driver{
		"metadata":          func(ctx context.Context, e *env) result { return saramaMetadata(ctx, e, v0102) },
		"committed-offsets": func(ctx context.Context, e *env) result { return saramaCommitted(ctx, e, v0102) },
		"list-offsets-time": func(ctx context.Context, e *env) result { return saramaListOffsets(ctx, e, v0102) },
		"produce-consume-zstd": lacks("Sarama 1.22 at Version %s writes message format v%d, which cannot carry zstd (zstd needs record batches, Produce v7, Kafka 2.1)",
			saramaVersion(v0102), map[bool]int{false: 0, true: 1}[v0102]),
		"group-cooperative":      lacks("Sarama 1.22 has no cooperative-sticky strategy and no incremental rebalancing (its BalanceStrategies range and roundrobin are eager)"),
		"idempotence":            lacks("Sarama 1.22 refuses an idempotent producer below Version 0.11.0.0 (\"Idempotent producer requires Version >= V0_11_0_0\")"),
		"admin-partitions":       lacks("Sarama 1.22's ClusterAdmin.CreatePartitions needs Version >= 1.0.0.0 (CreatePartitions v0)"),
		"admin-describe-configs": lacks("Sarama 1.22's ClusterAdmin.DescribeConfig needs Version >= 0.11.0.0 (DescribeConfigs v0)"),
		"transactions":           lacks("Sarama 1.22 has no transactional producer"),
	}
	for _, c := range []string{"txn-abort-visibility", "txn-consume-transform-produce", "txn-fencing"} {
		d[c] = d["transactions"]
	}
	if v0102 {
		d["group-eager"] = saramaGroup
		d["admin-topics"] = saramaAdminTopics
	} else {
		d["group-eager"] = lacks("Sarama 1.22 at its default Version 0.8.2 refuses consumer groups (\"consumer groups require Version to be >= V0_10_2_0\"; see sarama-1.22-v0.10.2)")
		d["admin-topics"] = lacks("Sarama 1.22's ClusterAdmin at its default Version 0.8.2 cannot create topics (CreateTopics needs Version >= 0.10.1.0, the controller lookup >= 0.10.0.0; see sarama-1.22-v0.10.2)")
	}
	codecs := map[string]sarama.CompressionCodec{
		"none":   sarama.CompressionNone,
		"gzip":   sarama.CompressionGZIP,
		"snappy": sarama.CompressionSnappy,
		"lz4":    sarama.CompressionLZ4,
	}
	for name, codec := range codecs {
		codec := codec
		d["produce-consume-"+name] = func(ctx context.Context, e *env) result { return saramaProduceConsume(ctx, e, v0102, codec) }
	}
	return d
}

func saramaVersion(v0102 bool) sarama.KafkaVersion {
	if v0102 {
		return sarama.V0_10_2_0
	}
	return sarama.NewConfig().Version // the default, MinVersion 0.8.2.0
}

func saramaConfig(e *env, v0102 bool) *sarama.Config {
	if e.verbose {
		sarama.Logger = log.New(os.Stderr, "sarama: ", log.Ltime|log.Lmicroseconds)
	}
	c := sarama.NewConfig()
	if v0102 {
		c.Version = sarama.V0_10_2_0
	}
	c.ClientID = "oldclientcheck"
	c.Net.DialTimeout = 5 * time.Second
	c.Net.ReadTimeout = 15 * time.Second
	c.Net.WriteTimeout = 10 * time.Second
	c.Metadata.Retry.Max = 5
	c.Metadata.Retry.Backoff = 100 * time.Millisecond
	c.Producer.Return.Successes = true
	c.Producer.RequiredAcks = sarama.WaitForAll
	c.Producer.Retry.Backoff = 100 * time.Millisecond
	c.Consumer.Return.Errors = true
	c.Consumer.Retry.Backoff = 200 * time.Millisecond
	c.Consumer.Offsets.CommitInterval = 200 * time.Millisecond
	c.Consumer.Offsets.Initial = sarama.OffsetOldest // a group without a committed offset
	return c
}

// saramaSetup creates the capability's topic. The default version has no
// CreateTopics: the topic is then created by a Sarama 1.22 ClusterAdmin at
// 0.10.2 (CreateTopics v0), which is setup, not the check.
func saramaSetup(e *env, partitions int32) (string, error) {
	cfg := saramaConfig(e, true)
	adm, err := sarama.NewClusterAdmin([]string{e.bootstrap}, cfg)
	if err != nil {
		return "", fmt.Errorf("cluster admin: %w", err)
	}
	defer adm.Close()
	topic := e.name()
	if err := adm.CreateTopic(topic, &sarama.TopicDetail{NumPartitions: partitions, ReplicationFactor: 1}, false); err != nil {
		return "", fmt.Errorf("create topic %s: %w", topic, err)
	}
	return topic, nil
}

// saramaClientFor returns a client that sees topic with n partitions.
func saramaClientFor(ctx context.Context, e *env, v0102 bool, topic string, n int) (sarama.Client, error) {
	cl, err := sarama.NewClient([]string{e.bootstrap}, saramaConfig(e, v0102))
	if err != nil {
		return nil, err
	}
	var parts []int32
	if err := waitFor(ctx, func() bool {
		err = cl.RefreshMetadata(topic)
		if err == nil {
			parts, err = cl.Partitions(topic)
		}
		return err == nil && len(parts) == n
	}); err != nil {
		cl.Close()
		return nil, fmt.Errorf("partitions of %s: %v (err %v)", topic, parts, err)
	}
	return cl, nil
}

func saramaMetadata(ctx context.Context, e *env, v0102 bool) result {
	topic, err := saramaSetup(e, 3)
	if err != nil {
		return failErr("setup", err)
	}
	cl, err := saramaClientFor(ctx, e, v0102, topic, 3)
	if err != nil {
		return failErr("metadata", err)
	}
	defer cl.Close()
	bs := cl.Brokers()
	if len(bs) != 1 {
		return fail("%d brokers in metadata, want 1", len(bs))
	}
	host, port, _ := splitAddr(bs[0].Addr())
	if !sameHostPort(e.bootstrap, host, port) {
		return fail("broker %d at %s, bootstrap is %s", bs[0].ID(), bs[0].Addr(), e.bootstrap)
	}
	return pass("1 broker (node %d at %s); topic has 3 partitions", bs[0].ID(), bs[0].Addr())
}

func saramaEnds(cl sarama.Client, topic string) (map[int32]int64, error) {
	parts, err := cl.Partitions(topic)
	if err != nil {
		return nil, err
	}
	ends := map[int32]int64{}
	for _, p := range parts {
		o, err := cl.GetOffset(topic, p, sarama.OffsetNewest)
		if err != nil {
			return nil, fmt.Errorf("end offset of %s[%d]: %w", topic, p, err)
		}
		ends[p] = o
	}
	return ends, nil
}

// saramaConsume reads partition p of topic from offset from until it has
// n records (or ctx ends).
func saramaConsume(ctx context.Context, cons sarama.Consumer, topic string, p int32, from int64, n int) ([]rec, error) {
	pc, err := cons.ConsumePartition(topic, p, from)
	if err != nil {
		return nil, fmt.Errorf("consume %s[%d]: %w", topic, p, err)
	}
	defer pc.AsyncClose()
	var recs []rec
	for len(recs) < n {
		select {
		case <-ctx.Done():
			return recs, fmt.Errorf("partition %d: consumed %d of %d records: %w", p, len(recs), n, ctx.Err())
		case err := <-pc.Errors():
			return recs, err
		case m := <-pc.Messages():
			recs = append(recs, rec{m.Partition, m.Offset, string(m.Key), string(m.Value)})
		}
	}
	return recs, nil
}

func saramaProduceConsume(ctx context.Context, e *env, v0102 bool, codec sarama.CompressionCodec) result {
	cfg := saramaConfig(e, v0102)
	cfg.Producer.Compression = codec
	if err := cfg.Validate(); err != nil {
		return skip("Sarama 1.22 at Version %s refuses it: %v", cfg.Version, err)
	}
	topic, err := saramaSetup(e, 3)
	if err != nil {
		return failErr("setup", err)
	}
	prod, err := sarama.NewSyncProducer([]string{e.bootstrap}, cfg)
	if err != nil {
		return failErr("producer", err)
	}
	var msgs []*sarama.ProducerMessage
	for i := 0; i < numRecords; i++ {
		msgs = append(msgs, &sarama.ProducerMessage{Topic: topic, Key: sarama.StringEncoder(recKey(i)), Value: sarama.StringEncoder(recValue(i))})
	}
	err = prod.SendMessages(msgs)
	prod.Close()
	if err != nil {
		return failErr("produce", err)
	}
	cl, err := saramaClientFor(ctx, e, v0102, topic, 3)
	if err != nil {
		return failErr("client", err)
	}
	defer cl.Close()
	ends, err := saramaEnds(cl, topic)
	if err != nil {
		return failErr("list end offsets", err)
	}
	if sumEnds(ends) != numRecords {
		return fail("end offsets %v sum to %d after producing %d", ends, sumEnds(ends), numRecords)
	}
	cons, err := sarama.NewConsumerFromClient(cl)
	if err != nil {
		return failErr("consumer", err)
	}
	defer cons.Close()
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
			rs, err := saramaConsume(ctx, cons, topic, p, sarama.OffsetOldest, int(end))
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

// saramaCommitted: Sarama 1.22's OffsetManager (FindCoordinator v0,
// OffsetFetch v1, OffsetCommit v1 with generation -1, a group without
// members) beside a partition consumer; at 0.10.2 a ConsumerGroup member
// is not needed for this check either, so both versions use the manager.
func saramaCommitted(ctx context.Context, e *env, v0102 bool) result {
	topic, err := saramaSetup(e, 1)
	if err != nil {
		return failErr("setup", err)
	}
	cfg := saramaConfig(e, v0102)
	prod, err := sarama.NewSyncProducer([]string{e.bootstrap}, cfg)
	if err != nil {
		return failErr("producer", err)
	}
	var msgs []*sarama.ProducerMessage
	for i := 0; i < 20; i++ {
		msgs = append(msgs, &sarama.ProducerMessage{Topic: topic, Key: sarama.StringEncoder(recKey(i)), Value: sarama.StringEncoder(recValue(i))})
	}
	err = prod.SendMessages(msgs)
	prod.Close()
	if err != nil {
		return failErr("produce", err)
	}
	group := e.name("g")
	// round: a consumer of the group starts where the group's committed
	// offset says (OffsetOldest when none), reads n and marks the last.
	round := func(n int) (start int64, recs []rec, err error) {
		cl, err := saramaClientFor(ctx, e, v0102, topic, 1)
		if err != nil {
			return 0, nil, err
		}
		defer cl.Close()
		om, err := sarama.NewOffsetManagerFromClient(group, cl)
		if err != nil {
			return 0, nil, fmt.Errorf("offset manager: %w", err)
		}
		// OffsetFetch v0-v1 have no group-level error: while the offsets
		// topic's partition loads (just after FindCoordinator created it),
		// Kafka answers with no partitions, which Sarama reports as an
		// incomplete response without retrying: retry here.
		var pom sarama.PartitionOffsetManager
		for {
			pom, err = om.ManagePartition(topic, 0)
			if err != sarama.ErrIncompleteResponse || ctx.Err() != nil {
				break
			}
			logf("OffsetFetch v1 answered without the partition (coordinator loading?); again")
			_ = sleepCtx(ctx, 200*time.Millisecond)
		}
		if err != nil {
			om.Close()
			return 0, nil, fmt.Errorf("manage partition: %w", err)
		}
		start, _ = pom.NextOffset()
		from := start
		if from < 0 {
			from = sarama.OffsetOldest
		}
		cons, err := sarama.NewConsumerFromClient(cl)
		if err == nil {
			recs, err = saramaConsume(ctx, cons, topic, 0, from, n)
			cons.Close()
		}
		if err == nil && len(recs) > 0 {
			pom.MarkOffset(recs[len(recs)-1].Offset+1, "")
		}
		pom.Close() // flushes the mark: OffsetCommit
		om.Close()
		return start, recs, err
	}
	start1, recs1, err := round(10)
	if err != nil {
		return failErr("first consumer", err)
	}
	if start1 != sarama.OffsetOldest || recs1[0].Offset != 0 {
		return fail("first consumer of a new group started at %d (first record at %d), want the oldest", start1, recs1[0].Offset)
	}
	start2, recs2, err := round(1)
	if err != nil {
		return failErr("second consumer", err)
	}
	if start2 != 10 || recs2[0].Offset != 10 {
		return fail("committed offset read back %d, second consumer's first record at %d, want 10 and 10", start2, recs2[0].Offset)
	}
	return pass("read 10 of 20 and committed 10 (OffsetManager); committed offset read back 10; a new consumer of the group starts at 10")
}

// saramaListOffsets: at 0.10.2 GetOffset sends ListOffsets v1 (timestamp
// lookup) and the records carry timestamps (message format v1). At 0.8.2
// it sends ListOffsets v0, whose answer for a time is the base offsets of
// the log segments last modified at or before it (no per-record
// timestamps; format v0 has none): the check is then what v0 defines.
func saramaListOffsets(ctx context.Context, e *env, v0102 bool) result {
	topic, err := saramaSetup(e, 1)
	if err != nil {
		return failErr("setup", err)
	}
	cfg := saramaConfig(e, v0102)
	t := listOffsetsBase()
	prod, err := sarama.NewSyncProducer([]string{e.bootstrap}, cfg)
	if err != nil {
		return failErr("producer", err)
	}
	for i := 0; i < 3; i++ {
		_, _, err = prod.SendMessage(&sarama.ProducerMessage{Topic: topic, Value: sarama.StringEncoder(recValue(i)), Timestamp: time.UnixMilli(t + int64(i)*1000)})
		if err != nil {
			break
		}
	}
	prod.Close()
	if err != nil {
		return failErr("produce", err)
	}
	cl, err := saramaClientFor(ctx, e, v0102, topic, 1)
	if err != nil {
		return failErr("client", err)
	}
	defer cl.Close()
	get := func(ts int64) int64 {
		o, err2 := cl.GetOffset(topic, 0, ts)
		if err2 == sarama.ErrOffsetOutOfRange && ts >= 0 {
			return -1 // no offset in the answer (Sarama: len(offsets) != 1)
		}
		if err2 != nil && err == nil {
			err = fmt.Errorf("GetOffset(%d): %w", ts, err2)
		}
		return o
	}
	earliest, latest := get(sarama.OffsetOldest), get(sarama.OffsetNewest)
	if v0102 {
		at500, at5000 := get(t+500), get(t+5000)
		if err != nil {
			return failErr("list offsets", err)
		}
		return checkListOffsets(at500, at5000, earliest, latest)
	}
	past, future := get(t+500), get(time.Now().Add(time.Hour).UnixMilli())
	if err != nil {
		return failErr("list offsets (v0)", err)
	}
	if earliest != 0 || latest != 3 || past != -1 || future != 3 {
		return fail("ListOffsets v0: earliest %d (want 0), latest %d (want 3), a minute ago %d (want none: the only segment was modified since), an hour ahead %d (want 3, the log end)",
			earliest, latest, past, future)
	}
	return pass("ListOffsets v0 (no timestamp index at this version): earliest 0, latest 3, a minute ago none, an hour ahead 3 (the log end)")
}

type saramaGroupHandler struct {
	g    *groupTracker
	name string
}

func (h *saramaGroupHandler) Setup(sarama.ConsumerGroupSession) error   { return nil }
func (h *saramaGroupHandler) Cleanup(sarama.ConsumerGroupSession) error { return nil }
func (h *saramaGroupHandler) ConsumeClaim(sess sarama.ConsumerGroupSession, claim sarama.ConsumerGroupClaim) error {
	h.g.add(h.name, claim.Partition())
	defer h.g.remove(h.name, claim.Partition())
	for {
		select {
		case _, ok := <-claim.Messages():
			if !ok {
				return nil
			}
		case <-sess.Context().Done():
			return nil
		}
	}
}

func saramaGroup(ctx context.Context, e *env) result {
	topic, err := saramaSetup(e, 4)
	if err != nil {
		return failErr("setup", err)
	}
	group := e.name("g")
	g := newGroupTracker(4)
	start := func(ctx context.Context, name string) (func(), error) {
		cfg := saramaConfig(e, true)
		cfg.Consumer.Group.Session.Timeout = 6 * time.Second
		cfg.Consumer.Group.Heartbeat.Interval = 500 * time.Millisecond
		cfg.Consumer.Group.Rebalance.Timeout = 10 * time.Second
		cfg.Consumer.Group.Rebalance.Retry.Backoff = 200 * time.Millisecond
		cfg.Consumer.Group.Rebalance.Strategy = sarama.BalanceStrategyRange
		cfg.Consumer.Return.Errors = false
		cg, err := sarama.NewConsumerGroup([]string{e.bootstrap}, group, cfg)
		if err != nil {
			return nil, err
		}
		cctx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() {
			defer close(done)
			for cctx.Err() == nil {
				if err := cg.Consume(cctx, []string{topic}, &saramaGroupHandler{g: g, name: name}); err != nil {
					if err == sarama.ErrClosedConsumerGroup {
						return
					}
					logf("sarama group %s: %v", group, err)
					_ = sleepCtx(cctx, 200*time.Millisecond)
				}
			}
		}()
		return func() {
			cancel()
			cg.Close()
			<-done
		}, nil
	}
	return groupScenario(ctx, g, start)
}

func saramaAdminTopics(ctx context.Context, e *env) result {
	adm, err := sarama.NewClusterAdmin([]string{e.bootstrap}, saramaConfig(e, true))
	if err != nil {
		return failErr("cluster admin", err)
	}
	defer adm.Close()
	topic := e.name()
	ret := "123456"
	if err := adm.CreateTopic(topic, &sarama.TopicDetail{NumPartitions: 2, ReplicationFactor: 1, ConfigEntries: map[string]*string{"retention.ms": &ret}}, false); err != nil {
		return failErr("create topic", err)
	}
	// ClusterAdmin.ListTopics of 1.22 also sends DescribeConfigs (0.11):
	// list with the client's all-topic Metadata (v1) instead.
	cl, err := sarama.NewClient([]string{e.bootstrap}, saramaConfig(e, true))
	if err != nil {
		return failErr("client", err)
	}
	defer cl.Close()
	listed := func() (bool, int32, error) {
		if err := cl.RefreshMetadata(); err != nil {
			return false, 0, err
		}
		ts, err := cl.Topics()
		if err != nil || !contains(ts, topic) {
			return false, 0, err
		}
		ps, err := cl.Partitions(topic)
		return true, int32(len(ps)), err
	}
	var parts int32
	if err := waitFor(ctx, func() bool { ok, n, err2 := listed(); err = err2; parts = n; return ok && n == 2 }); err != nil {
		return fail("created %s is not listed with 2 partitions (%d, err %v)", topic, parts, err)
	}
	if err := adm.DeleteTopic(topic); err != nil {
		return failErr("delete topic", err)
	}
	if err := waitFor(ctx, func() bool { ok, _, err2 := listed(); return err2 == nil && !ok }); err != nil {
		return fail("deleted %s is still listed", topic)
	}
	return pass("created %s with 2 partitions and retention.ms (CreateTopics v0), listed, deleted (DeleteTopics v0), gone", topic)
}
