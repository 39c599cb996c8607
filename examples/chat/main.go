// Command chat runs the same short group chat twice, with polling and with
// WebSocket push (package relay), and measures how long each message took
// to reach the others.
//
//	go run ./examples/chat
//	go run ./examples/chat -latency 80ms -every 1s
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

// lines is the chat: who says what, when.
var lines = []struct {
	at   time.Duration
	from string
	text string
}{
	{0, "ann", "anyone up for lunch?"},
	{120 * time.Millisecond, "bob", "yes!"},
	{150 * time.Millisecond, "cid", "where?"},
	{400 * time.Millisecond, "ann", "the noodle place"},
	{430 * time.Millisecond, "bob", "again?"},
	{700 * time.Millisecond, "cid", "fine by me"},
	{720 * time.Millisecond, "ann", "12:30 then"},
	{900 * time.Millisecond, "bob", "ok"},
}

func main() {
	latency := flag.Duration("latency", 40*time.Millisecond, "one-way latency of every member's emulated link")
	every := flag.Duration("every", 300*time.Millisecond, "how often polling members ask for new messages")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	var results []result
	for _, tr := range []relay.Transport{relay.Poll, relay.Push} {
		r, err := run(ctx, relay.Config{Transport: tr, Every: *every, Latency: *latency})
		if err != nil {
			fmt.Fprintln(os.Stderr, "chat:", err)
			os.Exit(1)
		}
		results = append(results, r)
	}
	print(os.Stdout, results)
}

// result is what one chat measured, over every message each member
// received.
type result struct {
	transport relay.Transport
	delays    []time.Duration
	received  int
}

func (r result) percentile(p float64) time.Duration {
	d := slices.Clone(r.delays)
	slices.Sort(d)
	if len(d) == 0 {
		return 0
	}
	return d[min(len(d)-1, int(p*float64(len(d))))]
}

// run plays the chat once.
func run(ctx context.Context, cfg relay.Config) (result, error) {
	h, err := relay.Start(cfg)
	if err != nil {
		return result{}, err
	}
	defer h.Close()
	members := map[string]*relay.Client{}
	for _, n := range []string{"ann", "bob", "cid"} {
		c, err := h.Join(ctx, n)
		if err != nil {
			return result{}, err
		}
		members[n] = c
	}
	for _, l := range lines {
		if err := h.SleepUntil(ctx, l.at); err != nil {
			return result{}, err
		}
		if _, err := members[l.from].Send(ctx, l.text); err != nil {
			return result{}, err
		}
	}
	if err := h.SleepUntil(ctx, lines[len(lines)-1].at+2*cfg.Every+4*cfg.Latency+200*time.Millisecond); err != nil {
		return result{}, err
	}
	r := result{transport: cfg.Transport}
	for _, c := range members {
		for _, m := range c.Received() {
			r.received++
			r.delays = append(r.delays, m.ReceivedAt-m.SentAt)
		}
	}
	return r, nil
}

func print(w io.Writer, results []result) {
	fmt.Fprintf(w, "A chat of %d messages among three; each reaches the two others.\n\n", len(lines))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "\tpoll\tpush\t")
	row := func(name string, get func(result) string) {
		fmt.Fprintf(tw, "%s\t%s\t%s\t\n", name, get(results[0]), get(results[1]))
	}
	row("messages received", func(r result) string { return fmt.Sprint(r.received) })
	row("median delay", func(r result) string { return r.percentile(0.5).Round(time.Millisecond).String() })
	row("worst delay", func(r result) string { return r.percentile(1).Round(time.Millisecond).String() })
	tw.Flush()
}
