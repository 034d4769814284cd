// Command clientcheck is the Go driver of tests/clients/README.md: it checks
// every capability of that contract with one of three Go clients (franz-go
// with kadm, IBM sarama, segmentio kafka-go) against the broker at
// --bootstrap, printing one JSON line per capability on stdout.
//
//	clientcheck --bootstrap HOST:PORT --client NAME [--only CAP[,CAP...]] [-v]
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os"
	"runtime/debug"
	"strings"
	"time"
)

// The capability names of the contract, in the order they run.
var capabilities = []string{
	"metadata",
	"produce-consume-none",
	"produce-consume-gzip",
	"produce-consume-snappy",
	"produce-consume-lz4",
	"produce-consume-zstd",
	"group-eager",
	"group-cooperative",
	"committed-offsets",
	"idempotence",
	"admin-topics",
	"admin-partitions",
	"admin-describe-configs",
	"list-offsets-time",
	"transactions",
	"txn-abort-visibility",
	"txn-consume-transform-produce",
	"txn-fencing",
}

// deadline of each capability (the contract allows at most 60 s).
func deadline(capability string) time.Duration {
	switch {
	case strings.HasPrefix(capability, "group-"):
		return 45 * time.Second
	case capability == "transactions":
		return 45 * time.Second
	case strings.HasPrefix(capability, "txn-"):
		return 55 * time.Second
	case strings.HasPrefix(capability, "produce-consume-"),
		capability == "committed-offsets", capability == "idempotence":
		return 30 * time.Second
	default:
		return 20 * time.Second
	}
}

// result of one capability.
type result struct {
	Status string // pass, fail, skip
	Detail string
}

func pass(format string, a ...any) result { return result{"pass", fmt.Sprintf(format, a...)} }
func fail(format string, a ...any) result { return result{"fail", fmt.Sprintf(format, a...)} }
func skip(format string, a ...any) result { return result{"skip", fmt.Sprintf(format, a...)} }

// failErr is fail with "what: err".
func failErr(what string, err error) result { return fail("%s: %v", what, err) }

// env is what a capability needs to know about its run.
type env struct {
	bootstrap  string
	client     string
	capability string
	verbose    bool
}

// name returns a topic or group name of this capability, unique to the run:
// mc-<client>-<capability>-<random>[-suffix].
func (e *env) name(suffix ...string) string {
	n := fmt.Sprintf("mc-%s-%s-%s", e.client, e.capability, runID)
	for _, s := range suffix {
		n += "-" + s
	}
	return n
}

// driver is one client: a function per capability.
type driver map[string]func(ctx context.Context, e *env) result

var drivers = map[string]func() driver{
	"franz-go": franzDriver,
	"sarama":   saramaDriver,
	"kafka-go": kafkagoDriver,
}

var runID string

// logf writes a short log line on stderr.
func logf(format string, a ...any) { log.Printf(format, a...) }

func main() {
	bootstrap := flag.String("bootstrap", "", "broker address HOST:PORT")
	client := flag.String("client", "", "franz-go, sarama or kafka-go")
	only := flag.String("only", "", "comma-separated capabilities to run (default: all)")
	verbose := flag.Bool("v", false, "client logs on stderr")
	flag.Parse()
	log.SetFlags(log.Ltime | log.Lmicroseconds)
	log.SetPrefix("clientcheck: ")

	mk, ok := drivers[*client]
	if *bootstrap == "" || !ok || flag.NArg() != 0 {
		fmt.Fprintln(os.Stderr, "usage: clientcheck --bootstrap HOST:PORT --client franz-go|sarama|kafka-go [--only CAP[,CAP...]] [-v]")
		os.Exit(2)
	}
	caps := capabilities
	if *only != "" {
		caps = nil
		for _, c := range strings.Split(*only, ",") {
			c = strings.TrimSpace(c)
			if !contains(capabilities, c) {
				fmt.Fprintf(os.Stderr, "clientcheck: unknown capability %q (known: %s)\n", c, strings.Join(capabilities, ","))
				os.Exit(2)
			}
			caps = append(caps, c)
		}
	}
	runID = randHex(4)
	d := mk()
	enc := json.NewEncoder(os.Stdout)
	enc.SetEscapeHTML(false)
	start := time.Now()
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
			fmt.Fprintln(os.Stderr, "clientcheck: stdout:", err)
			os.Exit(1)
		}
	}
	logf("%s: %d capabilities in %.1fs", *client, len(caps), time.Since(start).Seconds())
}

// run runs one capability under its deadline. A capability that does not
// return within a few seconds after its context expired (a client call that
// ignores contexts) is reported as timed out and left behind.
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
