package main

import (
	"context"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// franzRead reads partition 0 of topic from the start with the isolation
// level until it has seen stop, then readGrace longer.
func franzRead(ctx context.Context, e *env, topic string, level kgo.IsolationLevel, stop string) ([]offVal, error) {
	c, err := franzClient(e, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().AtStart()}}),
		kgo.FetchIsolationLevel(level), kgo.FetchMaxWait(200*time.Millisecond))
	if err != nil {
		return nil, err
	}
	defer c.Close()
	var got []offVal
	var graceEnd time.Time
	for {
		pctx := ctx
		if !graceEnd.IsZero() {
			if time.Now().After(graceEnd) {
				return got, nil
			}
			var cancel context.CancelFunc
			pctx, cancel = context.WithDeadline(ctx, graceEnd)
			defer cancel()
		}
		fs := c.PollFetches(pctx)
		if ctx.Err() != nil {
			return got, fmt.Errorf("saw %v: %w", short(values(got)), ctx.Err())
		}
		if err := fs.Err0(); err != nil && err != context.DeadlineExceeded && err != context.Canceled {
			return got, err
		}
		fs.EachRecord(func(r *kgo.Record) {
			got = append(got, offVal{r.Offset, string(r.Value)})
			if string(r.Value) == stop && graceEnd.IsZero() {
				graceEnd = time.Now().Add(readGrace)
			}
		})
	}
}

func franzTxnProducer(ctx context.Context, e *env, id, topic string) (*kgo.Client, error) {
	return franzClient(e, kgo.TransactionalID(id), kgo.TransactionTimeout(30*time.Second),
		kgo.DefaultProduceTopic(topic), kgo.ProducerLinger(0), kgo.RecordPartitioner(kgo.ManualPartitioner()))
}

func franzSetupTopics(ctx context.Context, e *env, n int) (*kgo.Client, *kadm.Client, []string, error) {
	cl, adm, err := franzAdmin(e)
	if err != nil {
		return nil, nil, nil, err
	}
	var topics []string
	for i := 0; i < n; i++ {
		t := e.name(fmt.Sprint(i))
		if err := franzCreateTopic(ctx, adm, t, 1, nil); err != nil {
			cl.Close()
			return nil, nil, nil, err
		}
		topics = append(topics, t)
	}
	return cl, adm, topics, nil
}

func franzTxnAbortVisibility(ctx context.Context, e *env) result {
	cl, _, topics, err := franzSetupTopics(ctx, e, 1)
	if err != nil {
		return failErr("admin", err)
	}
	defer cl.Close()
	topic := topics[0]
	prods := map[string]*kgo.Client{}
	defer func() {
		for _, p := range prods {
			p.Close()
		}
	}()
	if prods["P"], err = franzClient(e, kgo.DefaultProduceTopic(topic), kgo.ProducerLinger(0), kgo.RecordPartitioner(kgo.ManualPartitioner())); err != nil {
		return failErr("plain producer", err)
	}
	for _, w := range []string{"A", "B"} {
		if prods[w], err = franzTxnProducer(ctx, e, e.name("txn", w), topic); err != nil {
			return failErr("producer "+w, err)
		}
		if err := prods[w].BeginTransaction(); err != nil {
			return failErr("begin "+w, err)
		}
	}
	for _, s := range interleave {
		p := prods[s[0]]
		switch s[1] {
		case "commit":
			if err := p.EndTransaction(ctx, kgo.TryCommit); err != nil {
				return failErr("commit A", err)
			}
		case "abort":
			if err := p.EndTransaction(ctx, kgo.TryAbort); err != nil {
				return failErr("abort B", err)
			}
		default:
			if err := p.ProduceSync(ctx, &kgo.Record{Value: []byte(s[1]), Partition: 0}).FirstErr(); err != nil {
				return failErr(s[0]+" produces "+s[1], err)
			}
		}
	}
	all, comm := interleaveWant()
	rc, err := franzRead(ctx, e, topic, kgo.ReadCommitted(), comm[len(comm)-1])
	if err != nil {
		return failErr("read_committed consumer", err)
	}
	ru, err := franzRead(ctx, e, topic, kgo.ReadUncommitted(), all[len(all)-1])
	if err != nil {
		return failErr("read_uncommitted consumer", err)
	}
	return checkInterleave(rc, ru)
}

// franzTxnConsumeTransformProduce: a GroupTransactSession (franz-go's
// consume-transform-produce: the group consumer and the transactional
// producer in one client; End commits the consumed offsets in the
// transaction, with the group's generation and member id).
func franzTxnConsumeTransformProduce(ctx context.Context, e *env) result {
	cl, adm, topics, err := franzSetupTopics(ctx, e, 2)
	if err != nil {
		return failErr("admin", err)
	}
	defer cl.Close()
	src, dst, group := topics[0], topics[1], e.name("g")
	produceInput := func(from, to int) error {
		var rs []*kgo.Record
		for i := from; i < to; i++ {
			rs = append(rs, &kgo.Record{Topic: src, Value: []byte(fmt.Sprintf("in-%d", i))})
		}
		return cl.ProduceSync(ctx, rs...).FirstErr()
	}
	if err := produceInput(0, 20); err != nil {
		return failErr("produce input", err)
	}
	s, err := kgo.NewGroupTransactSession(kgo.SeedBrokers(e.bootstrap), kgo.ClientID("clientcheck"),
		kgo.MetadataMinAge(100*time.Millisecond),
		kgo.TransactionalID(e.name("txn")), kgo.TransactionTimeout(30*time.Second),
		kgo.ConsumerGroup(group), kgo.ConsumeTopics(src), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(200*time.Millisecond),
		kgo.SessionTimeout(groupSession), kgo.HeartbeatInterval(groupHeartbeat),
		kgo.DefaultProduceTopic(dst), kgo.ProducerLinger(0))
	if err != nil {
		return failErr("group transact session", err)
	}
	defer s.Close()
	committedOffset := func() (int64, error) {
		resp, err := adm.FetchOffsets(ctx, group)
		if err != nil {
			return -1, err
		}
		if o, ok := resp.Lookup(src, 0); ok {
			return o.At, o.Err
		}
		return -1, nil
	}
	for rnd, r := range []struct {
		n, end int
		commit bool
	}{{20, 20, true}, {10, 30, false}} {
		label := fmt.Sprintf("round %d (commit %v)", rnd+1, r.commit)
		if rnd == 1 {
			if err := produceInput(20, 30); err != nil {
				return failErr("produce input", err)
			}
		}
		if err := s.Begin(); err != nil {
			return failErr(label+": begin", err)
		}
		var got []*kgo.Record
		for len(got) < r.n {
			fs := s.PollFetches(ctx)
			if ctx.Err() != nil {
				return fail("%s: consumed %d of %d input records: %v", label, len(got), r.n, ctx.Err())
			}
			if err := fs.Err0(); err != nil {
				return failErr(label+": poll", err)
			}
			got = append(got, fs.Records()...)
		}
		for i, rec := range got {
			if rec.Offset != int64(r.end-r.n+i) {
				return fail("%s: consumer read offset %d as record #%d (%d records)", label, rec.Offset, i, len(got))
			}
		}
		var out []*kgo.Record
		for _, rec := range got {
			out = append(out, &kgo.Record{Value: append([]byte("OUT-"), rec.Value...)})
		}
		if err := s.ProduceSync(ctx, out...).FirstErr(); err != nil {
			return failErr(label+": produce", err)
		}
		committed, err := s.End(ctx, kgo.TransactionEndTry(r.commit))
		if err != nil {
			return failErr(label+": end", err)
		}
		if committed != r.commit {
			return fail("%s: End answered committed=%v", label, committed)
		}
		rc, err := franzRead(ctx, e, dst, kgo.ReadCommitted(), "OUT-in-19")
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
	ru, err := franzRead(ctx, e, dst, kgo.ReadUncommitted(), "OUT-in-29")
	if err != nil {
		return failErr("read_uncommitted output", err)
	}
	if len(ru) != 30 {
		return fail("read_uncommitted output has %d records, want 30 (20 committed, 10 aborted)", len(ru))
	}
	return pass(ctpPass)
}

func franzTxnFencing(ctx context.Context, e *env) result {
	cl, _, topics, err := franzSetupTopics(ctx, e, 1)
	if err != nil {
		return failErr("admin", err)
	}
	defer cl.Close()
	topic, id := topics[0], e.name("txn")
	p1, err := franzTxnProducer(ctx, e, id, topic)
	if err != nil {
		return failErr("producer 1", err)
	}
	defer p1.Close()
	if err := p1.BeginTransaction(); err != nil {
		return failErr("p1 begin", err)
	}
	var rs []*kgo.Record
	for i := 0; i < 5; i++ {
		rs = append(rs, &kgo.Record{Value: []byte(fmt.Sprintf("p1-%d", i))})
	}
	if err := p1.ProduceSync(ctx, rs...).FirstErr(); err != nil {
		return failErr("p1 produce", err)
	}
	p2, err := franzTxnProducer(ctx, e, id, topic)
	if err != nil {
		return failErr("producer 2", err)
	}
	defer p2.Close()
	// kgo loads the producer id lazily: ProducerID makes p2 send
	// InitProducerId now, before p1 goes on.
	if _, _, err := p2.ProducerID(ctx); err != nil {
		return failErr("p2 init (InitProducerId)", err)
	}
	if err := p2.BeginTransaction(); err != nil {
		return failErr("p2 begin", err)
	}
	var fenced string
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	err = p1.ProduceSync(sctx, &kgo.Record{Value: []byte("p1-late")}).FirstErr()
	cancel()
	if err != nil {
		if !isFenced(err, kerr.ProducerFenced, kerr.InvalidProducerEpoch) {
			return fail("p1's send failed, but not as fenced: %v", err)
		}
		fenced = "send: " + err.Error()
	}
	// Once a send has failed as fenced, the commit only has to fail (the
	// client may answer with its own state error then); otherwise the
	// commit must fail as fenced.
	if err := p1.EndTransaction(ctx, kgo.TryCommit); err == nil {
		return fail("p1's commit succeeded after p2 took its transactional id (%s)", fenced)
	} else if fenced == "" && !isFenced(err, kerr.ProducerFenced, kerr.InvalidProducerEpoch) {
		return fail("p1's commit failed, but not as fenced: %v", err)
	} else {
		fenced += "; commit: " + err.Error()
	}
	rs = nil
	for i := 0; i < 5; i++ {
		rs = append(rs, &kgo.Record{Value: []byte(fmt.Sprintf("p2-%d", i))})
	}
	if err := p2.ProduceSync(ctx, rs...).FirstErr(); err != nil {
		return failErr("p2 produce", err)
	}
	if err := p2.EndTransaction(ctx, kgo.TryCommit); err != nil {
		return failErr("p2 commit", err)
	}
	rc, err := franzRead(ctx, e, topic, kgo.ReadCommitted(), "p2-4")
	if err != nil {
		return failErr("read_committed consumer", err)
	}
	want := []string{"p2-0", "p2-1", "p2-2", "p2-3", "p2-4"}
	if vs := values(rc); !slicesEqual(vs, want) {
		return fail("read_committed saw %v, want %v only", vs, want)
	}
	return pass("p1 fenced (%s); p2 committed; read_committed sees p2's 5 only", fenced)
}
