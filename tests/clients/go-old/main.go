// Command oldclientcheck is the driver of tests/clients/README.md for
// Debian bookworm's OLD Go clients, built in GOPATH mode with Debian's Go 1.19
// against the Debian library packages (scripts/install-clients):
//
//	sarama-1.22-default  Shopify/sarama 1.22.1 at its default Config.Version
//	                     (0.8.2: Metadata v0, Produce v0 with message format
//	                     v0, Fetch v0, ListOffsets v0, OffsetCommit v1)
//	sarama-1.22-v0.10.2  the same at Version 0.10.2.0 (Metadata v1, Produce v2
//	                     with message format v1, Fetch v3, ListOffsets v1,
//	                     consumer groups, CreateTopics v0)
//	kafka-go-0.2         segmentio/kafka-go 0.2.1 (fixed versions: Produce v2,
//	                     Fetch v2, Metadata v1, ListOffsets v1, CreateTopics
//	                     v0, DeleteTopics v1, JoinGroup v1, OffsetCommit v2)
//
// One JSON line per capability on stdout, as the other drivers.
//
//	oldclientcheck --bootstrap HOST:PORT --client NAME [--only CAP[,CAP...]] [-v]
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"net"
	"os"
	"runtime/debug"
	"sort"
	"strconv"
	"strings"
	"time"
)

var capabilities = []string{
	"metadata",
	"produce-consume-none", "produce-consume-gzip", "produce-consume-snappy",
	"produce-consume-lz4", "produce-consume-zstd",
	"group-eager", "group-cooperative", "committed-offsets", "idempotence",
	"admin-topics", "admin-partitions", "admin-describe-configs",
	"list-offsets-time", "transactions",
	"txn-abort-visibility", "txn-consume-transform-produce", "txn-fencing",
}

func deadline(capability string) time.Duration {
	switch {
	case strings.HasPrefix(capability, "group-"):
		return 45 * time.Second
	case strings.HasPrefix(capability, "produce-consume-"), capability == "committed-offsets":
		return 30 * time.Second
	default:
		return 20 * time.Second
	}
}

type result struct {
	Status string
	Detail string
}

func pass(format string, a ...interface{}) result { return result{"pass", fmt.Sprintf(format, a...)} }
func fail(format string, a ...interface{}) result { return result{"fail", fmt.Sprintf(format, a...)} }
func skip(format string, a ...interface{}) result { return result{"skip", fmt.Sprintf(format, a...)} }
func failErr(what string, err error) result       { return fail("%s: %v", what, err) }

type env struct {
	bootstrap  string
	client     string
	capability string
	verbose    bool
}

func (e *env) name(suffix ...string) string {
	n := fmt.Sprintf("mc-%s-%s-%s", e.client, e.capability, runID)
	for _, s := range suffix {
		n += "-" + s
	}
	return n
}

type driver map[string]func(ctx context.Context, e *env) result

var drivers = map[string]func() driver{
	"sarama-1.22-default": func() driver { return saramaDriver(false) },
	"sarama-1.22-v0.10.2": func() driver { return saramaDriver(true) },
	"kafka-go-0.2":        kafkagoDriver,
}

var runID string

func logf(format string, a ...interface{}) { log.Printf(format, a...) }

func main() {
	bootstrap := flag.String("bootstrap", "", "broker address HOST:PORT")
	client := flag.String("client", "", "sarama-1.22-default, sarama-1.22-v0.10.2 or kafka-go-0.2")
	only := flag.String("only", "", "comma-separated capabilities to run (default: all)")
	verbose := flag.Bool("v", false, "client logs on stderr")
	flag.Parse()
	log.SetFlags(log.Ltime | log.Lmicroseconds)
	log.SetPrefix("oldclientcheck: ")
	mk, ok := drivers[*client]
	if *bootstrap == "" || !ok || flag.NArg() != 0 {
		fmt.Fprintln(os.Stderr, "usage: oldclientcheck --bootstrap HOST:PORT --client sarama-1.22-default|sarama-1.22-v0.10.2|kafka-go-0.2 [--only CAP[,CAP...]] [-v]")
		os.Exit(2)
	}
	caps := capabilities
	if *only != "" {
		caps = nil
		for _, c := range strings.Split(*only, ",") {
			c = strings.TrimSpace(c)
			if !contains(capabilities, c) {
				fmt.Fprintf(os.Stderr, "oldclientcheck: unknown capability %q\n", c)
				os.Exit(2)
			}
			caps = append(caps, c)
		}
	}
	b := make([]byte, 4)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	runID = hex.EncodeToString(b)
	d := mk()
	enc := json.NewEncoder(os.Stdout)
	enc.SetEscapeHTML(false)
	for _, c := range caps {
		e := &env{bootstrap: *bootstrap, client: *client, capability: c, verbose: *verbose}
		t0 := time.Now()
		r := run(d[c], e)
		logf("%s %s: %s in %.1fs", *client, c, r.Status, time.Since(t0).Seconds())
		line := struct {
			Client     string `json:"client"`
			Capability string `json:"capability"`
			Status     string `json:"status"`
			Detail     string `json:"detail"`
		}{*client, c, r.Status, r.Detail}
		if err := enc.Encode(line); err != nil {
			os.Exit(1)
		}
	}
}

func run(fn func(ctx context.Context, e *env) result, e *env) result {
	if fn == nil {
		return fail("driver has no check for %s", e.capability)
	}
	dl := deadline(e.capability)
	ctx, cancel := context.WithTimeout(context.Background(), dl)
	defer cancel()
	ch := make(chan result, 1)
	go func() {
		defer func() {
			if p := recover(); p != nil {
				logf("panic: %v\n%s", p, debug.Stack())
				ch <- fail("panic: %v", p)
			}
		}()
		ch <- fn(ctx, e)
	}()
	select {
	case r := <-ch:
		if r.Status == "fail" && ctx.Err() != nil {
			r.Detail = fmt.Sprintf("timed out after %s: %s", dl, r.Detail)
		}
		return r
	case <-time.After(dl + 5*time.Second):
		return fail("timed out after %s (the client call did not return)", dl)
	}
}

// ---- shared checks (Go 1.19: no slices package) ----

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

const numRecords = 100

func recKey(i int) string   { return fmt.Sprintf("k%03d", i) }
func recValue(i int) string { return fmt.Sprintf("v%03d-%s", i, runID) }

// rec is a consumed record. These clients' message formats (v0, v1) have
// no headers.
type rec struct {
	Partition int32
	Offset    int64
	Key       string
	Value     string
}

// checkRecords: recs are the records 0..n-1, each once, with their key, in
// produce order within each partition.
func checkRecords(recs []rec, n int) result {
	seen := map[int]rec{}
	last := map[int32]int{}
	lastOff := map[int32]int64{}
	perPart := map[int32]int{}
	for _, r := range recs {
		var i int
		var id string
		if _, err := fmt.Sscanf(r.Value, "v%03d-%s", &i, &id); err != nil || id != runID || i < 0 || i >= n {
			return fail("unexpected record at p%d@%d: key %q value %q", r.Partition, r.Offset, r.Key, r.Value)
		}
		if prev, dup := seen[i]; dup {
			return fail("record %d consumed twice: p%d@%d and p%d@%d", i, prev.Partition, prev.Offset, r.Partition, r.Offset)
		}
		seen[i] = r
		if r.Key != recKey(i) {
			return fail("record %d at p%d@%d has key %q, want %q", i, r.Partition, r.Offset, r.Key, recKey(i))
		}
		if l, ok := last[r.Partition]; ok {
			if r.Offset <= lastOff[r.Partition] {
				return fail("partition %d consumed out of offset order: %d after %d", r.Partition, r.Offset, lastOff[r.Partition])
			}
			if i <= l {
				return fail("partition %d out of produce order: record %d at offset %d after record %d", r.Partition, i, r.Offset, l)
			}
		}
		last[r.Partition] = i
		lastOff[r.Partition] = r.Offset
		perPart[r.Partition]++
	}
	if len(seen) != n {
		return fail("%d of %d records consumed", len(seen), n)
	}
	var ps []int
	for p := range perPart {
		ps = append(ps, int(p))
	}
	sort.Ints(ps)
	var parts []string
	for _, p := range ps {
		parts = append(parts, fmt.Sprintf("p%d:%d", p, perPart[int32(p)]))
	}
	return pass("%d records with key (no headers in message formats v0/v1), each once, in produce order per partition (%s)", n, strings.Join(parts, " "))
}

func sumEnds(ends map[int32]int64) int64 {
	var s int64
	for _, e := range ends {
		s += e
	}
	return s
}

func waitFor(ctx context.Context, cond func() bool) error {
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for {
		if cond() {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

func sameHostPort(bootstrap, host string, port int) bool {
	bh, bp, err := net.SplitHostPort(bootstrap)
	if err != nil || bp != strconv.Itoa(port) {
		return false
	}
	if strings.EqualFold(bh, host) {
		return true
	}
	a, err1 := net.LookupHost(bh)
	b, err2 := net.LookupHost(host)
	if err1 != nil || err2 != nil {
		return false
	}
	for _, x := range a {
		if contains(b, x) {
			return true
		}
	}
	return false
}

func splitAddr(a string) (string, int, error) {
	h, p, err := net.SplitHostPort(a)
	if err != nil {
		return "", 0, err
	}
	n, err := strconv.Atoi(p)
	return h, n, err
}

// The timestamps of list-offsets-time: T, T+1000, T+2000 at offsets 0, 1, 2.
func listOffsetsBase() int64 {
	return time.Now().Add(-time.Minute).UnixMilli() / 1000 * 1000
}

func checkListOffsets(at500, at5000, earliest, latest int64) result {
	if at500 != 1 || at5000 != -1 || earliest != 0 || latest != 3 {
		return fail("offset for T+500 %d (want 1), for T+5000 %d (want -1), earliest %d (want 0), latest %d (want 3)",
			at500, at5000, earliest, latest)
	}
	return pass("T+500 -> 1, T+5000 -> -1 (none), earliest 0, latest 3")
}

// groupTracker follows which partitions each member owns.
type groupTracker struct {
	owned map[string]map[int32]bool
	n     int
	mu    chan struct{}
}

func newGroupTracker(n int) *groupTracker {
	g := &groupTracker{owned: map[string]map[int32]bool{}, n: n, mu: make(chan struct{}, 1)}
	return g
}
func (g *groupTracker) lock()   { g.mu <- struct{}{} }
func (g *groupTracker) unlock() { <-g.mu }

func (g *groupTracker) add(m string, p int32) {
	g.lock()
	defer g.unlock()
	if g.owned[m] == nil {
		g.owned[m] = map[int32]bool{}
	}
	g.owned[m][p] = true
}

func (g *groupTracker) remove(m string, p int32) {
	g.lock()
	defer g.unlock()
	delete(g.owned[m], p)
}

func (g *groupTracker) get(m string) []int32 {
	g.lock()
	defer g.unlock()
	var ps []int32
	for p := range g.owned[m] {
		ps = append(ps, p)
	}
	sort.Slice(ps, func(i, j int) bool { return ps[i] < ps[j] })
	return ps
}

func (g *groupTracker) split(a, b string) bool {
	g.lock()
	defer g.unlock()
	oa, ob := g.owned[a], g.owned[b]
	if len(oa) == 0 || len(ob) == 0 || len(oa)+len(ob) != g.n {
		return false
	}
	for p := range oa {
		if ob[p] {
			return false
		}
	}
	return true
}

type groupMember func(ctx context.Context, name string) (stop func(), err error)

// groupScenario (eager): c1 alone gets all partitions; c2 joins, they
// split them; c2 closes, c1 ends with all.
func groupScenario(ctx context.Context, g *groupTracker, start groupMember) result {
	stop1, err := start(ctx, "c1")
	if err != nil {
		return failErr("starting consumer c1", err)
	}
	defer stop1()
	if err := waitFor(ctx, func() bool { return len(g.get("c1")) == g.n }); err != nil {
		return fail("c1 alone never got all %d partitions (has %v)", g.n, g.get("c1"))
	}
	stop2, err := start(ctx, "c2")
	if err != nil {
		return failErr("starting consumer c2", err)
	}
	if err := waitFor(ctx, func() bool { return g.split("c1", "c2") }); err != nil {
		stop2()
		return fail("c1 and c2 never split the %d partitions without overlap: c1 %v c2 %v", g.n, g.get("c1"), g.get("c2"))
	}
	s1, s2 := g.get("c1"), g.get("c2")
	stop2()
	if err := waitFor(ctx, func() bool { return len(g.get("c1")) == g.n }); err != nil {
		return fail("split c1 %v c2 %v; after c2 closed c1 never got all %d partitions (has %v)", s1, s2, g.n, g.get("c1"))
	}
	return pass("c1 alone %d partitions; with c2: c1 %v c2 %v; c2 closed: c1 %v", g.n, s1, s2, g.get("c1"))
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}
