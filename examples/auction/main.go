// Command auction runs a short auction twice, once with every bidder
// polling for the leading bid and once with the leading bid pushed over
// WebSockets (package relay), and measures what each bidder missed: how
// late each saw the bid that led, and whether a bid made a moment before
// the hammer reached the auctioneer in time.
//
//	go run ./examples/auction
//	go run ./examples/auction -latency 80ms -every 500ms
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/duplexdemo/duplexdemo/examples/internal/relay"
)

// The auction's script, on the hub's clock.
const (
	// closeAt is when the hammer falls: bids the auctioneer hears later
	// do not count.
	closeAt = 1200 * time.Millisecond
	// lastSecond is how long before the hammer the last bid is made.
	lastSecond = 150 * time.Millisecond
)

func main() {
	latency := flag.Duration("latency", 40*time.Millisecond, "one-way latency of every bidder's emulated link")
	every := flag.Duration("every", 300*time.Millisecond, "how often polling bidders ask for the leading bid")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	var results []result
	for _, tr := range []relay.Transport{relay.Poll, relay.Push} {
		r, err := run(ctx, relay.Config{Transport: tr, Every: *every, Latency: *latency})
		if err != nil {
			fmt.Fprintln(os.Stderr, "auction:", err)
			os.Exit(1)
		}
		results = append(results, r)
	}
	print(os.Stdout, results, *latency)
}

// result is what one auction measured.
type result struct {
	transport relay.Transport
	// staleness is, per bidder, the longest a leading bid went unseen:
	// from being made to the bidder receiving it.
	staleness map[string]time.Duration
	// lastBidHeard is when the auctioneer heard the last-second bid, and
	// inTime whether that was before the hammer.
	lastBidHeard time.Duration
	inTime       bool
	winner       string
}

// run holds one auction: bidders ann and bob bid in turn, each raising the
// other's bid as soon as they see it; carol makes a last-second bid.
func run(ctx context.Context, cfg relay.Config) (result, error) {
	h, err := relay.Start(cfg)
	if err != nil {
		return result{}, err
	}
	defer h.Close()
	names := []string{"auctioneer", "ann", "bob", "carol"}
	clients := map[string]*relay.Client{}
	for _, n := range names {
		c, err := h.Join(ctx, n)
		if err != nil {
			return result{}, err
		}
		clients[n] = c
	}
	// ann opens; ann and bob outbid each other as soon as they see the
	// other's bid, up to 10 raises; carol bids a moment before the hammer.
	if _, err := clients["ann"].Send(ctx, "100"); err != nil {
		return result{}, err
	}
	bids := 1
	for bids < 10 && h.Now() < closeAt-lastSecond {
		for _, bidder := range []string{"bob", "ann"} {
			m, ok := clients[bidder].Latest()
			if ok && m.From != bidder && m.From != "carol" && bids < 10 {
				if seen, _ := strconv.Atoi(m.Data); seen >= 100+10*(bids-1) {
					if _, err := clients[bidder].Send(ctx, strconv.Itoa(100+10*bids)); err != nil {
						return result{}, err
					}
					bids++
				}
			}
		}
		if err := h.SleepUntil(ctx, h.Now()+5*time.Millisecond); err != nil {
			return result{}, err
		}
	}
	if err := h.SleepUntil(ctx, closeAt-lastSecond); err != nil {
		return result{}, err
	}
	lastSent, err := clients["carol"].Send(ctx, "500")
	if err != nil {
		return result{}, err
	}
	// Wait long enough for everything to arrive, then judge.
	if err := h.SleepUntil(ctx, closeAt+2*cfg.Every+4*cfg.Latency+200*time.Millisecond); err != nil {
		return result{}, err
	}
	r := result{transport: cfg.Transport, staleness: map[string]time.Duration{}}
	for _, m := range clients["auctioneer"].Received() {
		if m.From == "carol" && m.SentAt == lastSent {
			r.lastBidHeard = m.ReceivedAt
			r.inTime = m.ReceivedAt <= closeAt
		}
		if m.ReceivedAt <= closeAt {
			r.winner = m.From
		}
	}
	for _, n := range []string{"ann", "bob"} {
		for _, m := range clients[n].Received() {
			r.staleness[n] = max(r.staleness[n], m.ReceivedAt-m.SentAt)
		}
	}
	return r, nil
}

func print(w io.Writer, results []result, latency time.Duration) {
	fmt.Fprintf(w, "An auction closing at %v, %v of latency each way; carol bids %v before the hammer.\n\n", closeAt, latency, lastSecond)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "\tpoll\tpush\t")
	row := func(name string, get func(result) string) {
		fmt.Fprintf(tw, "%s\t%s\t%s\t\n", name, get(results[0]), get(results[1]))
	}
	row("ann saw a bid up to", func(r result) string { return r.staleness["ann"].Round(time.Millisecond).String() + " late" })
	row("bob saw a bid up to", func(r result) string { return r.staleness["bob"].Round(time.Millisecond).String() + " late" })
	row("carol's bid heard at", func(r result) string { return r.lastBidHeard.Round(time.Millisecond).String() })
	row("in time for the hammer", func(r result) string { return strconv.FormatBool(r.inTime) })
	row("winner", func(r result) string { return r.winner })
	tw.Flush()
}
