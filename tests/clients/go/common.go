package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

func randHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

func contains(list []string, s string) bool { return slices.Contains(list, s) }

// The records of the produce-consume and idempotence checks: key kNNN, value
// vNNN-<run id>, one header h=NNN.
const numRecords = 100

func recKey(i int) string   { return fmt.Sprintf("k%03d", i) }
func recValue(i int) string { return fmt.Sprintf("v%03d-%s", i, runID) }
func recHeader(i int) string {
	return strconv.Itoa(i)
}

const headerKey = "h"

// rec is a consumed record, whatever the client.
type rec struct {
	Partition int32
	Offset    int64
	Key       string
	Value     string
	Headers   map[string]string
	Timestamp time.Time
}

// checkRecords checks that recs (in consumed order) are the records 0..n-1,
// each once, with their key and header, and in produce order within each
// partition. It returns a pass with a short summary, or a fail.
func checkRecords(recs []rec, n int, withHeaders bool) result {
	seen := make(map[int]rec, n)
	last := map[int32]int{}      // partition -> last index seen
	lastOff := map[int32]int64{} // partition -> last offset seen
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
		if withHeaders {
			if len(r.Headers) != 1 || r.Headers[headerKey] != recHeader(i) {
				return fail("record %d at p%d@%d has headers %v, want {%s:%s}", i, r.Partition, r.Offset, r.Headers, headerKey, recHeader(i))
			}
		}
		if l, ok := last[r.Partition]; ok {
			if r.Offset <= lastOff[r.Partition] {
				return fail("partition %d consumed out of offset order: %d after %d", r.Partition, r.Offset, lastOff[r.Partition])
			}
			if i <= l {
				return fail("partition %d out of produce order: record %d at offset %d after record %d at offset %d", r.Partition, i, r.Offset, l, lastOff[r.Partition])
			}
		}
		last[r.Partition] = i
		lastOff[r.Partition] = r.Offset
		perPart[r.Partition]++
	}
	if len(seen) != n {
		var missing []int
		for i := 0; i < n; i++ {
			if _, ok := seen[i]; !ok {
				missing = append(missing, i)
			}
		}
		return fail("%d of %d records consumed; missing %v", len(seen), n, short(missing))
	}
	var parts []string
	for _, p := range sortedKeys(perPart) {
		parts = append(parts, fmt.Sprintf("p%d:%d", p, perPart[p]))
	}
	h := ""
	if withHeaders {
		h = " with key and header"
	}
	return pass("%d records%s, each once, in produce order per partition (%s)", n, h, strings.Join(parts, " "))
}

func short[T any](s []T) string {
	if len(s) > 10 {
		return fmt.Sprintf("%v... (%d)", s[:10], len(s))
	}
	return fmt.Sprint(s)
}

func sortedKeys[K int32 | int | int64 | string, V any](m map[K]V) []K {
	ks := make([]K, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// endsReached reports whether the consumed records reach every partition's
// end offset (the high watermark), i.e. the last consumed offset is end-1.
func endsReached(lastOffset map[int32]int64, ends map[int32]int64) bool {
	for p, end := range ends {
		if end <= 0 {
			continue
		}
		if lo, ok := lastOffset[p]; !ok || lo < end-1 {
			return false
		}
	}
	return true
}

func sumEnds(ends map[int32]int64) int64 {
	var s int64
	for _, e := range ends {
		s += e
	}
	return s
}

// waitFor polls cond every 50 ms until it holds or ctx ends.
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

func sleepCtx(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}

// sameHostPort reports whether host:port is the bootstrap address, by name
// or by resolved address.
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
		if slices.Contains(b, x) {
			return true
		}
	}
	return false
}

// The timestamps of list-offsets-time: T, T+1000, T+2000 at offsets 0, 1, 2,
// T a minute in the past (inside any broker's timestamp bounds).
func listOffsetsBase() int64 {
	return time.Now().Add(-time.Minute).UnixMilli() / 1000 * 1000
}

// checkListOffsets checks the four answers of list-offsets-time. none is the
// answer expected for T+5000 with this client (-1, or the end offset for
// clients that document that fallback), noneDesc describes it.
func checkListOffsets(at500, at5000, earliest, latest, none int64, noneDesc string) result {
	if at500 != 1 || at5000 != none || earliest != 0 || latest != 3 {
		return fail("offset for T+500 %d (want 1), for T+5000 %d (want %d, %s), earliest %d (want 0), latest %d (want 3)",
			at500, at5000, none, noneDesc, earliest, latest)
	}
	return pass("T+500 -> 1, T+5000 -> %d (%s), earliest 0, latest 3", at5000, noneDesc)
}

// groupTracker follows which partitions each member of a group owns, as the
// client reports assignments and revocations.
type groupTracker struct {
	mu      sync.Mutex
	owned   map[string]map[int32]bool
	full    map[string]bool // the member has held all partitions at some point
	minFull map[string]int  // fewest partitions held after first holding all
	revoked map[string]int  // partitions revoked (or lost) since first holding all
	n       int             // partitions of the topic
}

func newGroupTracker(n int) *groupTracker {
	return &groupTracker{
		owned:   map[string]map[int32]bool{},
		full:    map[string]bool{},
		minFull: map[string]int{},
		revoked: map[string]int{},
		n:       n,
	}
}

func (g *groupTracker) add(member string, ps []int32) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.owned[member] == nil {
		g.owned[member] = map[int32]bool{}
	}
	for _, p := range ps {
		g.owned[member][p] = true
	}
	if len(g.owned[member]) == g.n && !g.full[member] {
		g.full[member] = true
		g.minFull[member] = g.n
	}
}

func (g *groupTracker) remove(member string, ps []int32) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, p := range ps {
		if g.owned[member][p] {
			delete(g.owned[member], p)
			if g.full[member] {
				g.revoked[member]++
			}
		}
	}
	if g.full[member] && len(g.owned[member]) < g.minFull[member] {
		g.minFull[member] = len(g.owned[member])
	}
}

// set replaces a member's partitions (clients that hand out whole
// assignments per generation).
func (g *groupTracker) set(member string, ps []int32) {
	g.mu.Lock()
	cur := g.ownedLocked(member)
	g.mu.Unlock()
	g.remove(member, cur)
	g.add(member, ps)
}

func (g *groupTracker) ownedLocked(member string) []int32 {
	var ps []int32
	for p := range g.owned[member] {
		ps = append(ps, p)
	}
	sort.Slice(ps, func(i, j int) bool { return ps[i] < ps[j] })
	return ps
}

func (g *groupTracker) get(member string) []int32 {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.ownedLocked(member)
}

// split reports whether a and b together own all n partitions, disjointly,
// each at least one.
func (g *groupTracker) split(a, b string) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
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

// groupMember starts one consumer of the group, reporting to the tracker
// under its name; stop closes it (leaving the group) and returns once it
// is closed.
type groupMember func(ctx context.Context, name string) (stop func(), err error)

// groupScenario is group-eager and group-cooperative: c1 alone gets all 4
// partitions; c2 joins and the two split them; c2 closes and c1 ends with
// all 4. With cooperative, c1 must keep partitions throughout (incremental
// rebalances revoke only what moves).
func groupScenario(ctx context.Context, g *groupTracker, start groupMember, cooperative bool) result {
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
	stopped2 := false
	defer func() {
		if !stopped2 {
			stop2()
		}
	}()
	if err := waitFor(ctx, func() bool { return g.split("c1", "c2") }); err != nil {
		return fail("c1 and c2 never split the %d partitions without overlap: c1 %v c2 %v", g.n, g.get("c1"), g.get("c2"))
	}
	s1, s2 := g.get("c1"), g.get("c2")
	g.mu.Lock()
	revokedAtJoin := g.revoked["c1"]
	g.mu.Unlock()
	stop2()
	stopped2 = true
	if err := waitFor(ctx, func() bool { return len(g.get("c1")) == g.n }); err != nil {
		return fail("split c1 %v c2 %v; after c2 closed c1 never got all %d partitions (has %v)", s1, s2, g.n, g.get("c1"))
	}
	g.mu.Lock()
	minC1, revoked := g.minFull["c1"], g.revoked["c1"]
	g.mu.Unlock()
	d := fmt.Sprintf("c1 alone %d partitions; with c2: c1 %v c2 %v; c2 closed: c1 %v", g.n, s1, s2, g.get("c1"))
	if cooperative {
		if minC1 == 0 || revokedAtJoin != len(s2) || revoked != revokedAtJoin {
			return fail("%s; not incremental: c1 held as few as %d partitions, %d revoked when c2 joined (%d moved), %d in all",
				d, minC1, revokedAtJoin, len(s2), revoked)
		}
		return pass("%s; incremental: c1 kept %d throughout, only the %d moved were revoked", d, minC1, revokedAtJoin)
	}
	return pass("%s (c1 held as few as %d during rebalances)", d, minC1)
}

// groupWait is the join timing of the group checks: the broker's minimum
// session timeout is 6 s (group.min.session.timeout.ms); heartbeats every
// 500 ms make members notice a rebalance quickly.
const (
	groupSession   = 6 * time.Second
	groupHeartbeat = 500 * time.Millisecond
	groupRebalance = 10 * time.Second
)

// txn values: the aborted transaction's records a0..a9 first, then the
// committed c0..c9, so a read_committed consumer that has seen c9 has read
// past everything the aborted transaction wrote.
func txnValue(kind string, i int) string { return fmt.Sprintf("%s%d-%s", kind, i, runID) }

// checkTxn checks what a read_committed consumer saw (in order, up to c9).
func checkTxn(values []string) result {
	var want []string
	for i := 0; i < 10; i++ {
		want = append(want, txnValue("c", i))
	}
	if !slices.Equal(values, want) {
		return fail("read_committed consumer saw %v, want c0..c9 only", short(values))
	}
	return pass("committed 10 and aborted 10 (aborted first); read_committed consumer saw the 10 committed only, in order")
}

func timeMilli(ms int64) time.Time { return time.UnixMilli(ms) }

func splitAddr(a string) (string, int, error) {
	h, p, err := net.SplitHostPort(a)
	if err != nil {
		return "", 0, err
	}
	n, err := strconv.Atoi(p)
	return h, n, err
}
