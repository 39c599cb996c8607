// Command game has two players run across a field, each sending its
// position 20 times a second, and shows each player the other: by polling,
// by long polling and by WebSocket push (package relay), on the same
// emulated link, then all three again with jitter on the link. It measures
// how stale the other player's position is when it arrives, how far the
// other player jumps between two positions shown, and how many positions
// were never shown: skipped by a sender whose connection was busy, or
// arriving together with a newer one.
//
//	go run ./examples/game
//	go run ./examples/game -latency 80ms -every 50ms -jitter 50ms -seed 7
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/duplexdemo/duplexdemo/examples/internal/relay"
	"github.com/duplexdemo/duplexdemo/pkg/link"
)

// The game's pace.
const (
	// tick is how often a player moves and has a new position: 20 times a
	// second, a common rate for a game's network updates.
	tick = 50 * time.Millisecond
	// step is how far a player moves each tick: 80 px/s.
	step = 4
	// playFor is how long the players run.
	playFor = 3 * time.Second
	// arriveWithin bounds how long after the game the last positions may
	// take to arrive: past it, a position that has not is lost.
	arriveWithin = 5 * time.Second
)

// players are the two players, each with the row it runs along.
var players = []struct {
	name string
	y    int
}{{"ann", 120}, {"bob", 360}}

// transports are the columns of each table.
var transports = []relay.Transport{relay.Poll, relay.LongPoll, relay.Push}

// options are the command's flags.
type options struct {
	latency, every, jitter time.Duration
	bandwidth              link.Rate
	seed                   uint64
	playFor                time.Duration
}

func main() {
	o := options{playFor: playFor}
	flag.DurationVar(&o.latency, "latency", 40*time.Millisecond, "one-way latency of each player's emulated link")
	flag.DurationVar(&o.every, "every", 100*time.Millisecond, "how often polling players ask for the other's position")
	flag.DurationVar(&o.jitter, "jitter", 30*time.Millisecond, "the most extra delay of each write on the link, for the second table; 0 for none")
	flag.Uint64Var(&o.seed, "seed", 1, "seed of the jitter's draws, so that a run can be replayed")
	flag.Func("bandwidth", "each player's link's rate each way, such as 1Mbit (default unlimited)", func(s string) (err error) {
		o.bandwidth, err = link.ParseRate(s)
		return err
	})
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	results, err := runAll(ctx, o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "game:", err)
		os.Exit(1)
	}
	print(os.Stdout, o, results)
}

// config returns the hub's configuration for tr, with or without jitter.
func (o options) config(tr relay.Transport, jitter bool) relay.Config {
	cfg := relay.Config{Transport: tr, Every: o.every, Latency: o.latency, Bandwidth: o.bandwidth}
	if jitter {
		cfg.Jitter, cfg.Seed = o.jitter, o.seed
	}
	return cfg
}

// runAll plays the game on every transport, then on every transport with
// jitter if there is any: all at once, each on a hub and links of its own.
// The results come in that order.
func runAll(ctx context.Context, o options) ([]result, error) {
	var cfgs []relay.Config
	for _, jitter := range []bool{false, true} {
		if jitter && o.jitter == 0 {
			break
		}
		for _, tr := range transports {
			cfgs = append(cfgs, o.config(tr, jitter))
		}
	}
	results := make([]result, len(cfgs))
	errs := make([]error, len(cfgs))
	var wg sync.WaitGroup
	for i, cfg := range cfgs {
		wg.Go(func() { results[i], errs[i] = run(ctx, cfg, o.playFor) })
	}
	wg.Wait()
	return results, errors.Join(errs...)
}

// update is one position of a player's, numbered from 1, made at at on
// the hub's clock.
type update struct {
	n, x, y int
	at      time.Duration
}

func (u update) String() string { return fmt.Sprintf("%d %d %d %d", u.n, u.x, u.y, int64(u.at)) }

func parseUpdate(s string) (update, error) {
	var u update
	var at int64
	if _, err := fmt.Sscanf(s, "%d %d %d %d", &u.n, &u.x, &u.y, &at); err != nil {
		return u, fmt.Errorf("a position %q: %w", s, err)
	}
	u.at = time.Duration(at)
	return u, nil
}

// result is what one game measured, over both players' views of the other.
type result struct {
	cfg relay.Config
	// made counts the positions both players made; skipped those never
	// sent, because a newer one was ready when the connection was free;
	// coalesced those that arrived in one read with a newer one, so that
	// the newer was shown; lost those sent that never arrived.
	made, skipped, coalesced, lost int
	// ages are, for every position shown, how old it was when it arrived.
	ages []time.Duration
	// jump is the most updates between two positions shown in a row, and
	// distance how far apart they were, in pixels.
	jump, distance int
}

// shown is how many positions were shown.
func (r result) shown() int { return len(r.ages) }

func (r result) age(p float64) time.Duration {
	d := slices.Clone(r.ages)
	slices.Sort(d)
	if len(d) == 0 {
		return 0
	}
	return d[min(len(d)-1, int(p*float64(len(d))))]
}

// player is one player's side of a game: its client, what it sent.
type player struct {
	name    string
	y       int
	client  *relay.Client
	skipped int
	sent    []int // the numbers of the positions sent, in order
}

// run plays one game: each player moves every tick for playFor, and sends
// its newest position whenever its connection is free; then each player's
// view of the other is measured.
func run(ctx context.Context, cfg relay.Config, playFor time.Duration) (result, error) {
	h, err := relay.Start(cfg)
	if err != nil {
		return result{}, err
	}
	defer h.Close()
	var ps []*player
	for _, p := range players {
		c, err := h.Join(ctx, p.name)
		if err != nil {
			return result{}, err
		}
		ps = append(ps, &player{name: p.name, y: p.y, client: c})
	}
	updates := int(playFor / tick)
	start := h.Now()
	errs := make([]error, len(ps))
	var wg sync.WaitGroup
	for i, p := range ps {
		// newest holds the position waiting to be sent: a newer one
		// replaces it, as a game sends where it is now, not where it was.
		newest := make(chan update, 1)
		wg.Go(func() { // the player moves
			defer close(newest)
			for n := 1; n <= updates; n++ {
				if h.SleepUntil(ctx, start+time.Duration(n)*tick) != nil {
					return
				}
				u := update{n: n, x: 40 + step*n, y: p.y, at: h.Now()}
				select {
				case newest <- u:
				default: // the last one has not gone yet
					select {
					case <-newest:
						p.skipped++
					default: // it just went
					}
					newest <- u
				}
			}
		})
		wg.Go(func() { // its position goes out, newest first, one at a time
			for u := range newest {
				if errs[i] != nil {
					continue // drain: the mover must not block
				}
				if _, err := p.client.Send(ctx, u.String()); err != nil {
					errs[i] = err
					continue
				}
				p.sent = append(p.sent, u.n)
			}
		})
	}
	wg.Wait()
	if err := errors.Join(append(errs, ctx.Err())...); err != nil {
		return result{}, err
	}
	// Wait until each has the other's last position sent, or gives up.
	deadline := h.Now() + arriveWithin
	for h.Now() < deadline && !(arrived(ps[0], ps[1]) && arrived(ps[1], ps[0])) {
		if err := h.SleepUntil(ctx, h.Now()+10*time.Millisecond); err != nil {
			return result{}, err
		}
	}
	r := result{cfg: cfg, made: 2 * updates}
	for i, p := range ps {
		if err := r.add(p, ps[1-i]); err != nil {
			return result{}, err
		}
	}
	return r, nil
}

// arrived reports whether to has the last position from sent.
func arrived(to, from *player) bool {
	if len(from.sent) == 0 {
		return true
	}
	m, ok := to.client.Latest()
	return ok && strings.HasPrefix(m.Data, fmt.Sprint(from.sent[len(from.sent)-1])+" ")
}

// add measures what p saw of other: of each read's positions, the newest
// is shown.
func (r *result) add(p, other *player) error {
	r.skipped += other.skipped
	got := p.client.Received()
	shown := update{}
	for i, m := range got {
		u, err := parseUpdate(m.Data)
		if err != nil {
			return err
		}
		if i+1 < len(got) && got[i+1].Delivery == m.Delivery {
			r.coalesced++ // a newer one came in the same read
			continue
		}
		r.ages = append(r.ages, m.ReceivedAt-u.at)
		if shown.n > 0 && u.n-shown.n > r.jump {
			r.jump, r.distance = u.n-shown.n, abs(u.x-shown.x)+abs(u.y-shown.y)
		}
		shown = u
	}
	r.lost += len(other.sent) - len(got)
	return nil
}

func abs(v int) int { return max(v, -v) }

func print(w io.Writer, o options, results []result) {
	bw := "unlimited bandwidth"
	if o.bandwidth > 0 {
		bw = o.bandwidth.String() + " each way"
	}
	fmt.Fprintf(w, "Two players run at %d px/s, each sending its position every %v for %v;\n", step*int(time.Second/tick), tick, o.playFor)
	fmt.Fprintf(w, "%v of latency each way, %s; polling every %v.\n", o.latency, bw, o.every)
	table(w, results[:len(transports)])
	if len(results) > len(transports) {
		fmt.Fprintf(w, "\nThe same with a jitter of 0 to %v on every write each way (seed %d):\n", o.jitter, o.seed)
		table(w, results[len(transports):])
	}
}

// table prints one result per transport, as columns.
func table(w io.Writer, results []result) {
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprint(tw, "\t")
	for _, r := range results {
		fmt.Fprintf(tw, "%s\t", r.cfg.Transport)
	}
	fmt.Fprintln(tw)
	row := func(name string, get func(result) string) {
		fmt.Fprintf(tw, "%s\t", name)
		for _, r := range results {
			fmt.Fprintf(tw, "%s\t", get(r))
		}
		fmt.Fprintln(tw)
	}
	ms := func(d time.Duration) string { return d.Round(time.Millisecond).String() }
	row("age on arrival, median", func(r result) string { return ms(r.age(0.5)) })
	row("age on arrival, p95", func(r result) string { return ms(r.age(0.95)) })
	row("age on arrival, max", func(r result) string { return ms(r.age(1)) })
	row("largest jump, updates", func(r result) string { return fmt.Sprint(r.jump) })
	row("largest jump, px", func(r result) string { return fmt.Sprint(r.distance) })
	row("positions shown", func(r result) string { return fmt.Sprintf("%d of %d", r.shown(), r.made) })
	row("not sent: a newer was ready", func(r result) string { return fmt.Sprint(r.skipped) })
	row("came with a newer: not shown", func(r result) string { return fmt.Sprint(r.coalesced) })
	row("lost", func(r result) string { return fmt.Sprint(r.lost) })
	tw.Flush()
}
