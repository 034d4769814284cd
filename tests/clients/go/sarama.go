package main

// IBM sarama: ClusterAdmin for administration, SyncProducer, Consumer
// (partition consumers, no group) and ConsumerGroup.

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"sync"
	"time"

	"github.com/IBM/sarama"
)

func saramaDriver() driver {
	d := driver{
		"metadata":                      saramaMetadata,
		"group-eager":                   func(ctx context.Context, e *env) result { return saramaGroup(ctx, e, false) },
		"group-cooperative":             func(ctx context.Context, e *env) result { return saramaGroup(ctx, e, true) },
		"committed-offsets":             saramaCommitted,
		"idempotence":                   saramaIdempotence,
		"admin-topics":                  saramaAdminTopics,
		"admin-partitions":              saramaAdminPartitions,
		"admin-describe-configs":        saramaDescribeConfigs,
		"list-offsets-time":             saramaListOffsets,
		"transactions":                  saramaTransactions,
		"txn-abort-visibility":          saramaTxnAbortVisibility,
		"txn-fencing":                   saramaTxnFencing,
		"txn-consume-transform-produce": saramaTxnConsumeTransformProduce,
	}
	codecs := map[string]sarama.CompressionCodec{
		"none":   sarama.CompressionNone,
		"gzip":   sarama.CompressionGZIP,
		"snappy": sarama.CompressionSnappy,
		"lz4":    sarama.CompressionLZ4,
		"zstd":   sarama.CompressionZSTD,
	}
	for name, codec := range codecs {
		d["produce-consume-"+name] = func(ctx context.Context, e *env) result { return saramaProduceConsume(ctx, e, codec) }
	}
	return d
}

func saramaConfig(e *env) *sarama.Config {
	if e.verbose {
		sarama.Logger = log.New(os.Stderr, "sarama: ", log.Ltime|log.Lmicroseconds)
	}
	c := sarama.NewConfig()
	// Sarama does not derive its request versions from ApiVersions alone:
	// Config.Version (default 2.8) caps the version of every request (and
	// the broker's advertised ranges then clamp it), and gates features
	// (zstd needs 2.1, cooperative rebalancing 2.4). The broker implements
	// Kafka 3.9-era versions (Produce v3-11, Fetch v4-17, see
	// docs/compatibility.md), so sarama speaks as to Kafka 3.9.
	c.Version = sarama.V3_9_0_0
	c.ClientID = "clientcheck"
	c.Net.DialTimeout = 5 * time.Second
	c.Net.ReadTimeout = 15 * time.Second
	c.Net.WriteTimeout = 10 * time.Second
	c.Metadata.Retry.Max = 5
	c.Metadata.Retry.Backoff = 100 * time.Millisecond
	c.Admin.Timeout = 10 * time.Second
	c.Admin.Retry.Backoff = 100 * time.Millisecond
	c.Producer.Return.Successes = true // SyncProducer
	c.Producer.RequiredAcks = sarama.WaitForAll
	c.Producer.Retry.Backoff = 100 * time.Millisecond
	c.Consumer.Return.Errors = true
	c.Consumer.Retry.Backoff = 200 * time.Millisecond
	return c
}

func saramaAdmin(e *env) (sarama.ClusterAdmin, error) {
	return sarama.NewClusterAdmin([]string{e.bootstrap}, saramaConfig(e))
}

func saramaCreateTopic(adm sarama.ClusterAdmin, topic string, partitions int32, configs map[string]*string) error {
	err := adm.CreateTopic(topic, &sarama.TopicDetail{NumPartitions: partitions, ReplicationFactor: 1, ConfigEntries: configs}, false)
	if err != nil {
		return fmt.Errorf("create topic %s: %w", topic, err)
	}
	return nil
}

// saramaSetup returns an admin and a topic it created.
func saramaSetup(e *env, partitions int32, configs map[string]*string) (sarama.ClusterAdmin, string, error) {
	adm, err := saramaAdmin(e)
	if err != nil {
		return nil, "", fmt.Errorf("cluster admin: %w", err)
	}
	topic := e.name()
	if err := saramaCreateTopic(adm, topic, partitions, configs); err != nil {
		adm.Close()
		return nil, "", err
	}
	return adm, topic, nil
}

func saramaMetadata(ctx context.Context, e *env) result {
	adm, topic, err := saramaSetup(e, 3, nil)
	if err != nil {
		return failErr("admin", err)
	}
	defer adm.Close()
	cl, err := sarama.NewClient([]string{e.bootstrap}, saramaConfig(e))
	if err != nil {
		return failErr("client", err)
	}
	defer cl.Close()
	var parts []int32
	if err := waitFor(ctx, func() bool {
		err = cl.RefreshMetadata(topic)
		if err == nil {
			parts, err = cl.Partitions(topic)
		}
		return err == nil && len(parts) == 3
	}); err != nil {
		return fail("partitions of %s: %v (err %v)", topic, parts, err)
	}
	bs := cl.Brokers()
	if len(bs) != 1 {
		var addrs []string
		for _, b := range bs {
			addrs = append(addrs, b.Addr())
		}
		return fail("%d brokers in metadata, want 1: %v", len(bs), addrs)
	}
	if bs[0].Addr() != e.bootstrap {
		host, port, _ := splitAddr(bs[0].Addr())
		if !sameHostPort(e.bootstrap, host, port) {
			return fail("broker %d at %s, bootstrap is %s", bs[0].ID(), bs[0].Addr(), e.bootstrap)
		}
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

// saramaConsumeAll reads each partition from the earliest offset with
// partition consumers (no group, all at once) until its end offset.
func saramaConsumeAll(ctx context.Context, e *env, topic string, ends map[int32]int64) ([]rec, error) {
	cons, err := sarama.NewConsumer([]string{e.bootstrap}, saramaConfig(e))
	if err != nil {
		return nil, err
	}
	defer cons.Close()
	type part struct {
		recs []rec
		err  error
	}
	parts := map[int32]*part{}
	var wg sync.WaitGroup
	for _, p := range sortedKeys(ends) {
		if ends[p] == 0 {
			continue
		}
		pc, err := cons.ConsumePartition(topic, p, sarama.OffsetOldest)
		if err != nil {
			return nil, fmt.Errorf("consume %s[%d]: %w", topic, p, err)
		}
		r := &part{}
		parts[p] = r
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer pc.AsyncClose()
			for {
				select {
				case <-ctx.Done():
					r.err = fmt.Errorf("partition %d: consumed %d records: %w", p, len(r.recs), ctx.Err())
					return
				case err := <-pc.Errors():
					r.err = err
					return
				case m := <-pc.Messages():
					h := map[string]string{}
					for _, x := range m.Headers {
						h[string(x.Key)] = string(x.Value)
					}
					r.recs = append(r.recs, rec{m.Partition, m.Offset, string(m.Key), string(m.Value), h, m.Timestamp})
					if m.Offset >= ends[p]-1 {
						return
					}
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

func saramaMessages(topic string) []*sarama.ProducerMessage {
	var ms []*sarama.ProducerMessage
	for i := 0; i < numRecords; i++ {
		ms = append(ms, &sarama.ProducerMessage{
			Topic:   topic,
			Key:     sarama.StringEncoder(recKey(i)),
			Value:   sarama.StringEncoder(recValue(i)),
			Headers: []sarama.RecordHeader{{Key: []byte(headerKey), Value: []byte(recHeader(i))}},
		})
	}
	return ms
}

// saramaProduceCheck produces msgs with cfg and checks that a consumer reads
// them back.
func saramaProduceCheck(ctx context.Context, e *env, cfg *sarama.Config, topic string, msgs []*sarama.ProducerMessage) result {
	prod, err := sarama.NewSyncProducer([]string{e.bootstrap}, cfg)
	if err != nil {
		return failErr("producer", err)
	}
	defer prod.Close()
	if err := prod.SendMessages(msgs); err != nil {
		return failErr("produce", err)
	}
	cl, err := sarama.NewClient([]string{e.bootstrap}, saramaConfig(e))
	if err != nil {
		return failErr("client", err)
	}
	defer cl.Close()
	ends, err := saramaEnds(cl, topic)
	if err != nil {
		return failErr("list end offsets", err)
	}
	if sumEnds(ends) != int64(len(msgs)) {
		return fail("end offsets %v sum to %d after producing %d", ends, sumEnds(ends), len(msgs))
	}
	recs, err := saramaConsumeAll(ctx, e, topic, ends)
	if err != nil {
		return failErr("consume", err)
	}
	return checkRecords(recs, len(msgs), true)
}

func saramaProduceConsume(ctx context.Context, e *env, codec sarama.CompressionCodec) result {
	adm, topic, err := saramaSetup(e, 3, nil)
	if err != nil {
		return failErr("admin", err)
	}
	defer adm.Close()
	cfg := saramaConfig(e)
	cfg.Producer.Compression = codec
	return saramaProduceCheck(ctx, e, cfg, topic, saramaMessages(topic))
}

// saramaGroupHandler reports each claim to the tracker while it runs: a
// claim starts when its partition is assigned and returns when it is
// revoked (its Messages channel closes) or the session ends.
type saramaGroupHandler struct {
	g    *groupTracker
	name string
}

func (h *saramaGroupHandler) Setup(sarama.ConsumerGroupSession) error   { return nil }
func (h *saramaGroupHandler) Cleanup(sarama.ConsumerGroupSession) error { return nil }
func (h *saramaGroupHandler) ConsumeClaim(sess sarama.ConsumerGroupSession, claim sarama.ConsumerGroupClaim) error {
	h.g.add(h.name, []int32{claim.Partition()})
	defer h.g.remove(h.name, []int32{claim.Partition()})
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

func saramaGroupConfig(e *env) *sarama.Config {
	cfg := saramaConfig(e)
	cfg.Consumer.Group.Session.Timeout = groupSession
	cfg.Consumer.Group.Heartbeat.Interval = groupHeartbeat
	cfg.Consumer.Group.Rebalance.Timeout = groupRebalance
	cfg.Consumer.Group.Rebalance.Retry.Backoff = 200 * time.Millisecond
	cfg.Consumer.Offsets.Initial = sarama.OffsetOldest
	cfg.Consumer.Return.Errors = false // logged by sarama's logger
	return cfg
}

// saramaRunGroup runs a ConsumerGroup member with handler until stop.
func saramaRunGroup(ctx context.Context, e *env, cfg *sarama.Config, group, topic string, h sarama.ConsumerGroupHandler) (func(), error) {
	cg, err := sarama.NewConsumerGroup([]string{e.bootstrap}, group, cfg)
	if err != nil {
		return nil, err
	}
	cctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for cctx.Err() == nil {
			if err := cg.Consume(cctx, []string{topic}, h); err != nil {
				if errors.Is(err, sarama.ErrClosedConsumerGroup) {
					return
				}
				logf("sarama group %s: %v", group, err)
				_ = sleepCtx(cctx, 200*time.Millisecond)
			}
		}
	}()
	return func() {
		cancel()
		<-done
		if err := cg.Close(); err != nil {
			logf("sarama group %s close: %v", group, err)
		}
	}, nil
}

func saramaGroup(ctx context.Context, e *env, cooperative bool) result {
	adm, topic, err := saramaSetup(e, 4, nil)
	if err != nil {
		return failErr("admin", err)
	}
	defer adm.Close()
	group := e.name("g")
	g := newGroupTracker(4)
	start := func(ctx context.Context, name string) (func(), error) {
		cfg := saramaGroupConfig(e)
		if cooperative {
			// stateful: one per member
			cfg.Consumer.Group.Rebalance.GroupStrategies = []sarama.BalanceStrategy{sarama.NewBalanceStrategyCooperativeSticky()}
		} else {
			cfg.Consumer.Group.Rebalance.GroupStrategies = []sarama.BalanceStrategy{sarama.NewBalanceStrategyRange()}
		}
		return saramaRunGroup(ctx, e, cfg, group, topic, &saramaGroupHandler{g: g, name: name})
	}
	return groupScenario(ctx, g, start, cooperative)
}

// saramaFuncHandler runs fn for each claim.
type saramaFuncHandler func(sarama.ConsumerGroupSession, sarama.ConsumerGroupClaim) error

func (h saramaFuncHandler) Setup(sarama.ConsumerGroupSession) error   { return nil }
func (h saramaFuncHandler) Cleanup(sarama.ConsumerGroupSession) error { return nil }
func (h saramaFuncHandler) ConsumeClaim(s sarama.ConsumerGroupSession, c sarama.ConsumerGroupClaim) error {
	return h(s, c)
}

func saramaCommitted(ctx context.Context, e *env) result {
	adm, topic, err := saramaSetup(e, 1, nil)
	if err != nil {
		return failErr("admin", err)
	}
	defer adm.Close()
	var msgs []*sarama.ProducerMessage
	for i := 0; i < 20; i++ {
		msgs = append(msgs, &sarama.ProducerMessage{Topic: topic, Key: sarama.StringEncoder(recKey(i)), Value: sarama.StringEncoder(recValue(i))})
	}
	prod, err := sarama.NewSyncProducer([]string{e.bootstrap}, saramaConfig(e))
	if err != nil {
		return failErr("producer", err)
	}
	err = prod.SendMessages(msgs)
	prod.Close()
	if err != nil {
		return failErr("produce", err)
	}
	group := e.name("g")
	cfg := func() *sarama.Config {
		c := saramaGroupConfig(e)
		c.Consumer.Group.Rebalance.GroupStrategies = []sarama.BalanceStrategy{sarama.NewBalanceStrategyRange()}
		c.Consumer.Offsets.AutoCommit.Enable = false
		return c
	}

	// First consumer: reads 10, marks the 10th (offset 9: commits 10) and
	// commits synchronously.
	type outcome struct {
		offsets []int64
		err     error
	}
	first := make(chan outcome, 1)
	var once sync.Once
	stop1, err := saramaRunGroup(ctx, e, cfg(), group, topic, saramaFuncHandler(func(s sarama.ConsumerGroupSession, c sarama.ConsumerGroupClaim) error {
		var offs []int64
		for m := range c.Messages() {
			offs = append(offs, m.Offset)
			if len(offs) == 10 {
				once.Do(func() {
					s.MarkMessage(m, "")
					s.Commit()
					first <- outcome{offs, nil}
				})
				<-s.Context().Done()
				return nil
			}
		}
		return nil
	}))
	if err != nil {
		return failErr("first consumer", err)
	}
	var o outcome
	select {
	case o = <-first:
	case <-ctx.Done():
		stop1()
		return fail("first consumer did not read 10 records")
	}
	stop1()
	if o.offsets[0] != 0 || o.offsets[9] != 9 {
		return fail("first consumer read offsets %v, want 0..9", o.offsets)
	}

	second := make(chan int64, 1)
	stop2, err := saramaRunGroup(ctx, e, cfg(), group, topic, saramaFuncHandler(func(s sarama.ConsumerGroupSession, c sarama.ConsumerGroupClaim) error {
		select {
		case m, ok := <-c.Messages():
			if ok {
				select {
				case second <- m.Offset:
				default:
				}
			}
		case <-s.Context().Done():
		}
		<-s.Context().Done()
		return nil
	}))
	if err != nil {
		return failErr("second consumer", err)
	}
	var start int64
	select {
	case start = <-second:
	case <-ctx.Done():
		stop2()
		return fail("second consumer of the group read nothing")
	}
	stop2()
	if start != 10 {
		return fail("second consumer of the group started at offset %d, want 10", start)
	}
	resp, err := adm.ListConsumerGroupOffsets(group, map[string][]int32{topic: {0}})
	if err != nil {
		return failErr("ListConsumerGroupOffsets", err)
	}
	b := resp.GetBlock(topic, 0)
	if b == nil || b.Err != sarama.ErrNoError || b.Offset != 10 {
		return fail("committed offset read back: %+v, want 10", b)
	}
	return pass("read 10 of 20 and committed; new consumer started at 10; ClusterAdmin.ListConsumerGroupOffsets answers 10")
}

func saramaIdempotence(ctx context.Context, e *env) result {
	adm, topic, err := saramaSetup(e, 1, nil)
	if err != nil {
		return failErr("admin", err)
	}
	defer adm.Close()
	cfg := saramaConfig(e)
	// What sarama requires of an idempotent producer.
	cfg.Producer.Idempotent = true
	cfg.Producer.RequiredAcks = sarama.WaitForAll
	cfg.Net.MaxOpenRequests = 1
	msgs := saramaMessages(topic)
	r := saramaProduceCheck(ctx, e, cfg, topic, msgs)
	if r.Status != "pass" {
		return r
	}
	for i, m := range msgs {
		if m.Offset != int64(i) {
			return fail("record %d acknowledged at offset %d", i, m.Offset)
		}
	}
	r.Detail = "idempotent producer: " + r.Detail
	return r
}

func saramaAdminTopics(ctx context.Context, e *env) result {
	ret := "123456"
	adm, topic, err := saramaSetup(e, 2, map[string]*string{"retention.ms": &ret})
	if err != nil {
		return failErr("admin", err)
	}
	defer adm.Close()
	var ts map[string]sarama.TopicDetail
	if err := waitFor(ctx, func() bool {
		ts, err = adm.ListTopics()
		_, ok := ts[topic]
		return err == nil && ok
	}); err != nil {
		return fail("created topic not listed (err %v)", err)
	}
	if n := ts[topic].NumPartitions; n != 2 {
		return fail("listed with %d partitions, want 2", n)
	}
	if err := adm.DeleteTopic(topic); err != nil {
		return failErr("delete topic", err)
	}
	if err := waitFor(ctx, func() bool {
		ts, err = adm.ListTopics()
		_, ok := ts[topic]
		return err == nil && !ok
	}); err != nil {
		return fail("deleted topic still listed (err %v)", err)
	}
	return pass("created with 2 partitions and retention.ms, listed, deleted, gone")
}

func saramaAdminPartitions(ctx context.Context, e *env) result {
	adm, topic, err := saramaSetup(e, 1, nil)
	if err != nil {
		return failErr("admin", err)
	}
	defer adm.Close()
	if err := adm.CreatePartitions(topic, 3, nil, false); err != nil {
		return failErr("create partitions", err)
	}
	n := 0
	if err := waitFor(ctx, func() bool {
		md, err := adm.DescribeTopics([]string{topic})
		if err != nil || len(md) != 1 || md[0].Err != sarama.ErrNoError {
			return false
		}
		n = len(md[0].Partitions)
		return n == 3
	}); err != nil {
		return fail("metadata shows %d partitions after growing to 3", n)
	}
	return pass("grown from 1 to 3 partitions; metadata shows 3")
}

func saramaDescribeConfigs(ctx context.Context, e *env) result {
	ret := "123456"
	adm, topic, err := saramaSetup(e, 1, map[string]*string{"retention.ms": &ret})
	if err != nil {
		return failErr("admin", err)
	}
	defer adm.Close()
	// A Kafka node answers CreateTopics before its metadata shows the topic:
	// retry while DescribeConfigs says UNKNOWN_TOPIC_OR_PARTITION.
	var entries []sarama.ConfigEntry
	_ = waitFor(ctx, func() bool {
		entries, err = adm.DescribeConfig(sarama.ConfigResource{Type: sarama.TopicResource, Name: topic})
		return !errors.Is(err, sarama.ErrUnknownTopicOrPartition)
	})
	if err != nil {
		return failErr("describe configs", err)
	}
	vals := map[string]string{}
	for _, c := range entries {
		vals[c.Name] = c.Value
	}
	if vals["retention.ms"] != "123456" || vals["cleanup.policy"] != "delete" {
		return fail("retention.ms %q (want 123456), cleanup.policy %q (want delete), %d configs",
			vals["retention.ms"], vals["cleanup.policy"], len(entries))
	}
	return pass("retention.ms=123456, cleanup.policy=delete (%d configs)", len(entries))
}

func saramaListOffsets(ctx context.Context, e *env) result {
	adm, topic, err := saramaSetup(e, 1, nil)
	if err != nil {
		return failErr("admin", err)
	}
	defer adm.Close()
	t := listOffsetsBase()
	var msgs []*sarama.ProducerMessage
	for i := 0; i < 3; i++ {
		msgs = append(msgs, &sarama.ProducerMessage{Topic: topic, Value: sarama.StringEncoder(recValue(i)), Timestamp: timeMilli(t + int64(i)*1000)})
	}
	prod, err := sarama.NewSyncProducer([]string{e.bootstrap}, saramaConfig(e))
	if err != nil {
		return failErr("producer", err)
	}
	err = prod.SendMessages(msgs)
	prod.Close()
	if err != nil {
		return failErr("produce", err)
	}
	for i, m := range msgs {
		if m.Offset != int64(i) {
			return fail("record %d written at offset %d", i, m.Offset)
		}
	}
	cl, err := sarama.NewClient([]string{e.bootstrap}, saramaConfig(e))
	if err != nil {
		return failErr("client", err)
	}
	defer cl.Close()
	var offs [4]int64
	for i, ts := range []int64{t + 500, t + 5000, sarama.OffsetOldest, sarama.OffsetNewest} {
		if offs[i], err = cl.GetOffset(topic, 0, ts); err != nil {
			return failErr(fmt.Sprintf("GetOffset(%d)", ts), err)
		}
	}
	return checkListOffsets(offs[0], offs[1], offs[2], offs[3], -1, "none")
}

func saramaTransactions(ctx context.Context, e *env) result {
	adm, topic, err := saramaSetup(e, 1, nil)
	if err != nil {
		return failErr("admin", err)
	}
	defer adm.Close()
	cfg := saramaConfig(e)
	// What sarama requires of a transactional producer.
	cfg.Producer.Idempotent = true
	cfg.Producer.RequiredAcks = sarama.WaitForAll
	cfg.Net.MaxOpenRequests = 1
	cfg.Producer.Transaction.ID = e.name("txn")
	cfg.Producer.Transaction.Timeout = 30 * time.Second
	cfg.Producer.Transaction.Retry.Max = 10
	prod, err := sarama.NewSyncProducer([]string{e.bootstrap}, cfg)
	if err != nil {
		return failErr("transactional producer", err)
	}
	defer prod.Close()
	txn := func(kind string, commit bool) error {
		if err := prod.BeginTxn(); err != nil {
			return fmt.Errorf("begin: %w", err)
		}
		var msgs []*sarama.ProducerMessage
		for i := 0; i < 10; i++ {
			msgs = append(msgs, &sarama.ProducerMessage{Topic: topic, Value: sarama.StringEncoder(txnValue(kind, i))})
		}
		if err := prod.SendMessages(msgs); err != nil {
			_ = prod.AbortTxn()
			return fmt.Errorf("produce: %w", err)
		}
		if commit {
			return prod.CommitTxn()
		}
		return prod.AbortTxn()
	}
	if err := txn("a", false); err != nil {
		return failErr("aborted transaction", err)
	}
	if err := txn("c", true); err != nil {
		return failErr("committed transaction", err)
	}
	read := func(level sarama.IsolationLevel) ([]string, error) {
		ccfg := saramaConfig(e)
		ccfg.Consumer.IsolationLevel = level
		cons, err := sarama.NewConsumer([]string{e.bootstrap}, ccfg)
		if err != nil {
			return nil, err
		}
		defer cons.Close()
		pc, err := cons.ConsumePartition(topic, 0, sarama.OffsetOldest)
		if err != nil {
			return nil, err
		}
		defer pc.AsyncClose()
		var vals []string
		for !contains(vals, txnValue("c", 9)) {
			select {
			case <-ctx.Done():
				return vals, fmt.Errorf("saw %v: %w", short(vals), ctx.Err())
			case err := <-pc.Errors():
				return vals, err
			case m := <-pc.Messages():
				vals = append(vals, string(m.Value))
			}
		}
		return vals, nil
	}
	all, err := read(sarama.ReadUncommitted)
	if err != nil {
		return failErr("read_uncommitted consumer", err)
	}
	if len(all) != 20 {
		return fail("read_uncommitted consumer saw %d records, want the 20 of both transactions: %v", len(all), short(all))
	}
	vals, err := read(sarama.ReadCommitted)
	if err != nil {
		return failErr("read_committed consumer", err)
	}
	return checkTxn(vals)
}
