package main

// The transaction capabilities beyond `transactions` (tests/clients/README.md):
// txn-abort-visibility, txn-consume-transform-produce, txn-fencing, for
// franz-go and sarama (kafka-go has no transactional producer).

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// interleave: who writes what, in this order, to one partition (each record
// acknowledged before the next step). "A" and "B" are transactional
// producers, "P" a plain one; A commits, B aborts.
var interleave = [][2]string{
	{"P", "plain-0"}, {"A", "a-0"}, {"A", "a-1"}, {"P", "plain-1"},
	{"B", "b-0"}, {"B", "b-1"}, {"P", "plain-2"}, {"A", "a-2"}, {"B", "b-2"},
	{"A", "commit"}, {"P", "plain-3"}, {"B", "abort"}, {"P", "plain-4"},
}

// interleaveWant returns the values every reader sees and the ones a
// read_committed reader sees, in offset order.
func interleaveWant() (all, committed []string) {
	for _, s := range interleave {
		if s[1] == "commit" || s[1] == "abort" {
			continue
		}
		all = append(all, s[1])
		if !strings.HasPrefix(s[1], "b-") {
			committed = append(committed, s[1])
		}
	}
	return all, committed
}

// offVal is one record read back: its offset and value.
type offVal struct {
	off int64
	val string
}

// readGrace is how long a reader goes on after the last expected value, to
// catch records that must not be there.
const readGrace = 700 * time.Millisecond

func values(rs []offVal) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.val)
	}
	return out
}

// checkOrdered fails unless offsets increase and the values are want.
func checkOrdered(label string, got []offVal, want []string) error {
	for i := 1; i < len(got); i++ {
		if got[i].off <= got[i-1].off {
			return fmt.Errorf("%s: offsets not increasing: %v", label, got)
		}
	}
	if !slices.Equal(values(got), want) {
		return fmt.Errorf("%s saw %v, want %v", label, values(got), want)
	}
	return nil
}

func checkInterleave(committed, uncommitted []offVal) result {
	all, comm := interleaveWant()
	if err := checkOrdered("read_committed", committed, comm); err != nil {
		return fail("%v", err)
	}
	if err := checkOrdered("read_uncommitted", uncommitted, all); err != nil {
		return fail("%v", err)
	}
	return pass("read_committed saw the %d committed+plain records in offset order, none of B's aborted 3; read_uncommitted saw all %d", len(comm), len(all))
}

// isFenced: the client's fenced error (PRODUCER_FENCED, or
// INVALID_PRODUCER_EPOCH, what a produce with the old epoch answers).
func isFenced(err error, targets ...error) bool {
	if pes, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range pes.Unwrap() {
			if isFenced(e, targets...) {
				return true
			}
		}
	}
	for _, t := range targets {
		if errors.Is(err, t) {
			return true
		}
	}
	s := strings.ToUpper(strings.NewReplacer("_", "", " ", "").Replace(fmt.Sprint(err)))
	return strings.Contains(s, "FENCED") || strings.Contains(s, "INVALIDPRODUCEREPOCH")
}

func ctpWant() []string {
	var want []string
	for i := 0; i < 20; i++ {
		want = append(want, fmt.Sprintf("OUT-in-%d", i))
	}
	return want
}

func slicesEqual(a, b []string) bool { return slices.Equal(a, b) }

const ctpPass = "round 1 committed 20 transformed records with the group's offset 20; round 2 aborted 10: read_committed output still 20, committed offset still 20"
