package main

import (
	"context"
	"fmt"
	"time"

	"github.com/IBM/sarama"
)

// saramaRead reads partition 0 of topic from the oldest offset with the
// isolation level until it has seen stop, then readGrace longer.
func saramaRead(ctx context.Context, e *env, topic string, level sarama.IsolationLevel, stop string) ([]offVal, error) {
	cfg := saramaConfig(e)
	cfg.Consumer.IsolationLevel = level
	cfg.Consumer.MaxWaitTime = 200 * time.Millisecond
	cons, err := sarama.NewConsumer([]string{e.bootstrap}, cfg)
	if err != nil {
		return nil, err
	}
	defer cons.Close()
	pc, err := cons.ConsumePartition(topic, 0, sarama.OffsetOldest)
	if err != nil {
		return nil, err
	}
	defer pc.AsyncClose()
	var got []offVal
	var grace <-chan time.Time
	for {
		select {
		case <-ctx.Done():
			return got, fmt.Errorf("saw %v: %w", short(values(got)), ctx.Err())
		case <-grace:
			return got, nil
		case err := <-pc.Errors():
			return got, err
		case m := <-pc.Messages():
			got = append(got, offVal{m.Offset, string(m.Value)})
			if string(m.Value) == stop && grace == nil {
				grace = time.After(readGrace)
			}
		}
	}
}

func saramaTxnConfig(e *env, id string) *sarama.Config {
	cfg := saramaConfig(e)
	// What sarama requires of a transactional producer.
	cfg.Producer.Idempotent = true
	cfg.Producer.RequiredAcks = sarama.WaitForAll
	cfg.Net.MaxOpenRequests = 1
	cfg.Producer.Transaction.ID = id
	cfg.Producer.Transaction.Timeout = 30 * time.Second
	cfg.Producer.Transaction.Retry.Max = 10
	cfg.Producer.Partitioner = sarama.NewManualPartitioner
	return cfg
}

func saramaSend(p sarama.SyncProducer, topic string, vals ...string) error {
	var msgs []*sarama.ProducerMessage
	for _, v := range vals {
		msgs = append(msgs, &sarama.ProducerMessage{Topic: topic, Partition: 0, Value: sarama.StringEncoder(v)})
	}
	err := p.SendMessages(msgs)
	if pes, ok := err.(sarama.ProducerErrors); ok && len(pes) > 0 {
		// The first record's own error (fenced, ...), not "Failed to deliver".
		return fmt.Errorf("%w: %w", err, pes[0].Err)
	}
	return err
}

func saramaTxnAbortVisibility(ctx context.Context, e *env) result {
	adm, topic, err := saramaSetup(e, 1, nil)
	if err != nil {
		return failErr("admin", err)
	}
	defer adm.Close()
	prods := map[string]sarama.SyncProducer{}
	defer func() {
		for _, p := range prods {
			p.Close()
		}
	}()
	pcfg := saramaConfig(e)
	pcfg.Producer.Partitioner = sarama.NewManualPartitioner
	if prods["P"], err = sarama.NewSyncProducer([]string{e.bootstrap}, pcfg); err != nil {
		return failErr("plain producer", err)
	}
	for _, w := range []string{"A", "B"} {
		if prods[w], err = sarama.NewSyncProducer([]string{e.bootstrap}, saramaTxnConfig(e, e.name("txn", w))); err != nil {
			return failErr("transactional producer "+w, err)
		}
		if err := prods[w].BeginTxn(); err != nil {
			return failErr("begin "+w, err)
		}
	}
	for _, s := range interleave {
		p := prods[s[0]]
		switch s[1] {
		case "commit":
			if err := p.CommitTxn(); err != nil {
				return failErr("commit A", err)
			}
		case "abort":
			if err := p.AbortTxn(); err != nil {
				return failErr("abort B", err)
			}
		default:
			if err := saramaSend(p, topic, s[1]); err != nil {
				return failErr(s[0]+" produces "+s[1], err)
			}
		}
	}
	all, comm := interleaveWant()
	rc, err := saramaRead(ctx, e, topic, sarama.ReadCommitted, comm[len(comm)-1])
	if err != nil {
		return failErr("read_committed consumer", err)
	}
	ru, err := saramaRead(ctx, e, topic, sarama.ReadUncommitted, all[len(all)-1])
	if err != nil {
		return failErr("read_uncommitted consumer", err)
	}
	return checkInterleave(rc, ru)
}

// saramaTxnConsumeTransformProduce: a ConsumerGroup member (auto-commit
// off) hands its records over; the transactional SyncProducer writes them
// transformed and adds the offsets with the member's group metadata
// (AddOffsetsToTxnWithGroupMetadata: sendOffsetsToTransaction).
func saramaTxnConsumeTransformProduce(ctx context.Context, e *env) result {
	adm, src, err := saramaSetup(e, 1, nil)
	if err != nil {
		return failErr("admin", err)
	}
	defer adm.Close()
	dst, group := e.name("out"), e.name("g")
	if err := saramaCreateTopic(adm, dst, 1, nil); err != nil {
		return failErr("admin", err)
	}
	pcfg := saramaConfig(e)
	pcfg.Producer.Partitioner = sarama.NewManualPartitioner
	plain, err := sarama.NewSyncProducer([]string{e.bootstrap}, pcfg)
	if err != nil {
		return failErr("plain producer", err)
	}
	defer plain.Close()
	input := func(from, to int) error {
		var vs []string
		for i := from; i < to; i++ {
			vs = append(vs, fmt.Sprintf("in-%d", i))
		}
		return saramaSend(plain, src, vs...)
	}
	if err := input(0, 20); err != nil {
		return failErr("produce input", err)
	}
	prod, err := sarama.NewSyncProducer([]string{e.bootstrap}, saramaTxnConfig(e, e.name("txn")))
	if err != nil {
		return failErr("transactional producer", err)
	}
	defer prod.Close()

	type msgSess struct {
		m *sarama.ConsumerMessage
		s sarama.ConsumerGroupSession
	}
	ch := make(chan msgSess, 64)
	cfg := saramaGroupConfig(e)
	cfg.Consumer.IsolationLevel = sarama.ReadCommitted
	cfg.Consumer.Offsets.AutoCommit.Enable = false
	cfg.Consumer.MaxWaitTime = 200 * time.Millisecond
	stop, err := saramaRunGroup(ctx, e, cfg, group, src, saramaFuncHandler(func(s sarama.ConsumerGroupSession, c sarama.ConsumerGroupClaim) error {
		for {
			select {
			case <-s.Context().Done():
				return nil
			case m, ok := <-c.Messages():
				if !ok {
					return nil
				}
				select {
				case ch <- msgSess{m, s}:
				case <-s.Context().Done():
					return nil
				}
			}
		}
	}))
	if err != nil {
		return failErr("consumer group", err)
	}
	defer stop()
	committedOffset := func() (int64, error) {
		r, err := adm.ListConsumerGroupOffsets(group, map[string][]int32{src: {0}})
		if err != nil {
			return -1, err
		}
		b := r.GetBlock(src, 0)
		if b == nil {
			return -1, nil
		}
		if b.Err != sarama.ErrNoError {
			return b.Offset, b.Err
		}
		return b.Offset, nil
	}
	for rnd, r := range []struct {
		n, end int
		commit bool
	}{{20, 20, true}, {10, 30, false}} {
		label := fmt.Sprintf("round %d (commit %v)", rnd+1, r.commit)
		if rnd == 1 {
			if err := input(20, 30); err != nil {
				return failErr("produce input", err)
			}
		}
		var got []msgSess
		for len(got) < r.n {
			select {
			case <-ctx.Done():
				return fail("%s: consumed %d of %d input records: %v", label, len(got), r.n, ctx.Err())
			case x := <-ch:
				got = append(got, x)
			}
		}
		var out []string
		for i, x := range got {
			if x.m.Offset != int64(r.end-r.n+i) {
				return fail("%s: consumer read offset %d as record #%d", label, x.m.Offset, i)
			}
			out = append(out, "OUT-"+string(x.m.Value))
		}
		if err := prod.BeginTxn(); err != nil {
			return failErr(label+": begin", err)
		}
		if err := saramaSend(prod, dst, out...); err != nil {
			return failErr(label+": produce", err)
		}
		gm := sarama.NewConsumerGroupMetadataFromSession(got[len(got)-1].s, group, nil)
		offs := map[string][]*sarama.PartitionOffsetMetadata{src: {{Partition: 0, Offset: int64(r.end)}}}
		if err := prod.AddOffsetsToTxnWithGroupMetadata(offs, gm); err != nil {
			return failErr(label+": AddOffsetsToTxnWithGroupMetadata", err)
		}
		if r.commit {
			err = prod.CommitTxn()
		} else {
			err = prod.AbortTxn()
		}
		if err != nil {
			return failErr(label+": end", err)
		}
		rc, err := saramaRead(ctx, e, dst, sarama.ReadCommitted, "OUT-in-19")
		if err != nil {
			return failErr(label+": read_committed output", err)
		}
		if vs := values(rc); !slicesEqual(vs, ctpWant()) {
			return fail("%s: read_committed output has %d records %v, want OUT-in-0..19", label, len(vs), short(vs))
		}
		var off int64
		if err := waitFor(ctx, func() bool { off, err = committedOffset(); return err != nil || off == 20 }); err != nil || off != 20 {
			return fail("%s: the group's committed offset on the input is %d (%v), want 20", label, off, err)
		}
	}
	ru, err := saramaRead(ctx, e, dst, sarama.ReadUncommitted, "OUT-in-29")
	if err != nil {
		return failErr("read_uncommitted output", err)
	}
	if len(ru) != 30 {
		return fail("read_uncommitted output has %d records, want 30 (20 committed, 10 aborted)", len(ru))
	}
	return pass(ctpPass)
}

func saramaTxnFencing(ctx context.Context, e *env) result {
	adm, topic, err := saramaSetup(e, 1, nil)
	if err != nil {
		return failErr("admin", err)
	}
	defer adm.Close()
	id := e.name("txn")
	p1, err := sarama.NewSyncProducer([]string{e.bootstrap}, saramaTxnConfig(e, id))
	if err != nil {
		return failErr("producer 1", err)
	}
	defer p1.Close()
	if err := p1.BeginTxn(); err != nil {
		return failErr("p1 begin", err)
	}
	if err := saramaSend(p1, topic, "p1-0", "p1-1", "p1-2", "p1-3", "p1-4"); err != nil {
		return failErr("p1 produce", err)
	}
	// NewSyncProducer of a transactional config sends InitProducerId.
	p2, err := sarama.NewSyncProducer([]string{e.bootstrap}, saramaTxnConfig(e, id))
	if err != nil {
		return failErr("producer 2 (init)", err)
	}
	defer p2.Close()
	fenced := ""
	if err := saramaSend(p1, topic, "p1-late"); err != nil {
		if !isFenced(err, sarama.ErrProducerFenced, sarama.ErrInvalidProducerEpoch) {
			return fail("p1's send failed, but not as fenced: %v", err)
		}
		fenced = "send: " + err.Error()
	}
	// Once a send has failed as fenced, the commit only has to fail (the
	// client may answer with its own state error then); otherwise the
	// commit must fail as fenced.
	if err := p1.CommitTxn(); err == nil {
		return fail("p1's commit succeeded after p2 took its transactional id (%s)", fenced)
	} else if fenced == "" && !isFenced(err, sarama.ErrProducerFenced, sarama.ErrInvalidProducerEpoch) {
		return fail("p1's commit failed, but not as fenced: %v", err)
	} else {
		fenced += "; commit: " + err.Error()
	}
	if err := p2.BeginTxn(); err != nil {
		return failErr("p2 begin", err)
	}
	if err := saramaSend(p2, topic, "p2-0", "p2-1", "p2-2", "p2-3", "p2-4"); err != nil {
		return failErr("p2 produce", err)
	}
	if err := p2.CommitTxn(); err != nil {
		return failErr("p2 commit", err)
	}
	rc, err := saramaRead(ctx, e, topic, sarama.ReadCommitted, "p2-4")
	if err != nil {
		return failErr("read_committed consumer", err)
	}
	want := []string{"p2-0", "p2-1", "p2-2", "p2-3", "p2-4"}
	if vs := values(rc); !slicesEqual(vs, want) {
		return fail("read_committed saw %v, want %v only", vs, want)
	}
	return pass("p1 fenced (%s); p2 committed; read_committed sees p2's 5 only", fenced)
}
