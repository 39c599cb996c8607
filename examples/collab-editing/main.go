// Command collab-editing has two editors change one shared text at the same
// moments, twice: once seeing each other's changes by polling, once by
// WebSocket push (package relay). It measures how stale each editor's view
// of the text is, and how often an editor changes the text while a change
// of the other's, made before or at the same time, has not reached her yet:
// a collision, which the editors (or their software) must then untangle.
//
//	go run ./examples/collab-editing
//	go run ./examples/collab-editing -latency 80ms -every 1s
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/duplexdemo/duplexdemo/examples/internal/relay"
)

// edits is how many changes each editor makes, one every gap, both at the
// same moments, a burst of typing each.
const (
	edits = 10
	gap   = 150 * time.Millisecond
)

func main() {
	latency := flag.Duration("latency", 40*time.Millisecond, "one-way latency of each editor's emulated link")
	every := flag.Duration("every", 300*time.Millisecond, "how often polling editors ask for changes")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	var results []result
	for _, tr := range []relay.Transport{relay.Poll, relay.Push} {
		r, err := run(ctx, relay.Config{Transport: tr, Every: *every, Latency: *latency})
		if err != nil {
			fmt.Fprintln(os.Stderr, "collab-editing:", err)
			os.Exit(1)
		}
		results = append(results, r)
	}
	print(os.Stdout, results)
}

// result is what one editing session measured.
type result struct {
	transport relay.Transport
	// stale is, for each change an editor received, how long her view
	// lacked it: from the other making it to her receiving it.
	stale []time.Duration
	// collisions counts changes made while one of the other's, made
	// before or at the same time, had not arrived yet.
	collisions int
}

func (r result) staleness(p float64) time.Duration {
	d := slices.Clone(r.stale)
	slices.Sort(d)
	if len(d) == 0 {
		return 0
	}
	return d[min(len(d)-1, int(p*float64(len(d))))]
}

// run has the two editors make their changes, then compares what each
// knew when she made each of hers.
func run(ctx context.Context, cfg relay.Config) (result, error) {
	h, err := relay.Start(cfg)
	if err != nil {
		return result{}, err
	}
	defer h.Close()
	names := []string{"ada", "bea"}
	editors := map[string]*relay.Client{}
	for _, n := range names {
		c, err := h.Join(ctx, n)
		if err != nil {
			return result{}, err
		}
		editors[n] = c
	}
	made := map[string][]time.Duration{}
	for i := range edits {
		if err := h.SleepUntil(ctx, time.Duration(i)*gap); err != nil {
			return result{}, err
		}
		for _, n := range names {
			at, err := editors[n].Send(ctx, fmt.Sprintf("%s's change %d", n, i+1))
			if err != nil {
				return result{}, err
			}
			made[n] = append(made[n], at)
		}
	}
	if err := h.SleepUntil(ctx, edits*gap+2*cfg.Every+4*cfg.Latency+200*time.Millisecond); err != nil {
		return result{}, err
	}
	r := result{transport: cfg.Transport}
	for _, n := range names {
		received := editors[n].Received()
		for _, m := range received {
			r.stale = append(r.stale, m.ReceivedAt-m.SentAt)
		}
		for _, at := range made[n] {
			for _, m := range received {
				if m.SentAt <= at && m.ReceivedAt > at {
					r.collisions++ // she changed a text she had not seen the latest of
					break
				}
			}
		}
	}
	return r, nil
}

func print(w io.Writer, results []result) {
	fmt.Fprintf(w, "Two editors, %d changes each, made at the same moments every %v.\n\n", edits, gap)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "\tpoll\tpush\t")
	row := func(name string, get func(result) string) {
		fmt.Fprintf(tw, "%s\t%s\t%s\t\n", name, get(results[0]), get(results[1]))
	}
	row("view stale by (median)", func(r result) string { return r.staleness(0.5).Round(time.Millisecond).String() })
	row("view stale by (worst)", func(r result) string { return r.staleness(1).Round(time.Millisecond).String() })
	row("collisions", func(r result) string { return fmt.Sprintf("%d of %d changes", r.collisions, 2*edits) })
	tw.Flush()
}
