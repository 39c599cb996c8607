package modes_test

import (
	"context"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"

	"github.com/duplexdemo/duplexdemo/internal/pipenet"
	"github.com/duplexdemo/duplexdemo/pkg/call"
	"github.com/duplexdemo/duplexdemo/pkg/link"
	"github.com/duplexdemo/duplexdemo/pkg/modes"
	"github.com/duplexdemo/duplexdemo/pkg/result"
	"github.com/duplexdemo/duplexdemo/pkg/story"
	"github.com/duplexdemo/duplexdemo/pkg/timeline"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestRegistry: every mode says what it is, for people and for the
// command line, and its key is its own.
func TestRegistry(t *testing.T) {
	seen := map[string]bool{}
	for _, m := range modes.All() {
		if m.Key == "" || m.Name == "" || m.Transport == "" || m.Local == nil {
			t.Errorf("mode %+v lacks a key, name, transport or local roles", m.Mode)
			continue
		}
		if seen[m.Key] || strings.ContainsAny(m.Key, " ,") {
			t.Errorf("key %q is named twice or is not a command name", m.Key)
		}
		seen[m.Key] = true
		if m.Help.Short == "" || !strings.HasPrefix(m.Help.Long, m.Key+" ") || !strings.Contains(m.Help.Example, "duplexdemo "+m.Key) {
			t.Errorf("%s: its help must have a short line, a long text that starts with its key, and examples of it", m.Key)
		}
		if got, ok := modes.Lookup(m.Key); !ok || got.Key != m.Key {
			t.Errorf("Lookup(%q) = %q, %v", m.Key, got.Key, ok)
		}
	}
	if _, ok := modes.Lookup("carrier-pigeon"); ok {
		t.Error("Lookup found a mode that is not there")
	}
	ends := modes.Ends()
	if ends[0].ServerMayStart || !ends[1].ServerMayStart {
		t.Errorf("the ends are %s and %s: want half duplex first (grandma speaks only when asked) and full duplex last", ends[0].Key, ends[1].Key)
	}
}

// TestEveryModePlaysTheCall plays every mode that rides the Listener and
// Dial of its configuration at once on the fake clock: each result names
// its mode, every line of the script was said and heard, and only the
// first end of the lesson keeps grandma from speaking unasked.
func TestEveryModePlaysTheCall(t *testing.T) {
	const latency = 40 * time.Millisecond
	connecting := map[string]time.Duration{
		"walkie": 2 * latency, "poll": 2 * latency, "longpoll": 2 * latency, // a TCP handshake
		"h1full": 2 * latency, "tcp": 2 * latency,
		"h2":    2 * latency, // a TCP handshake: the preface and SETTINGS go with the first request
		"sse":   6 * latency, // the stream's handshake and request, then the posts' handshake
		"phone": 4 * latency, // a TCP handshake and the WebSocket's
	}
	var streams []call.Mode
	for _, m := range modes.All() {
		if !m.Datagrams {
			streams = append(streams, m)
		}
	}
	synctest.Test(t, func(t *testing.T) {
		config := func(call.Mode) call.Config {
			l := pipenet.Listen()
			return call.Config{Script: story.Default(), Latency: latency, Listener: l, Dial: l.DialContext}
		}
		results, err := modes.RunAll(context.Background(), config, streams)
		if err != nil {
			t.Fatal(err)
		}
		for i, res := range results {
			checkCall(t, res, streams[i])
			// Every mode's question is wanted at the call's start and waits
			// while its connections open: a TCP handshake is a round trip
			// (80ms here), a WebSocket's opening handshake another, and the
			// event stream's request another before the posts' own
			// connection opens.
			q, _ := res.Timeline.Message(story.LabelQuestion)
			if want := connecting[res.Mode.Key]; q.WantedAt != 0 || q.Waited() != want || q.Reason != timeline.ReasonConnecting {
				t.Errorf("%s: the question was wanted at %v and waited %v (%s); want 0, %v, %s", res.Mode.Key, q.WantedAt, q.Waited(), q.Reason, want, timeline.ReasonConnecting)
			}
		}
	})
}

// TestDatagramModesPlayTheCall plays every mode that rides UDP datagrams
// of its own, on real sockets: they cannot run on the fake clock. Each
// costs at least its handshake's round trips before the question leaves
// (QUIC's, then the session's request): at least one, on a busy machine
// perhaps many more.
func TestDatagramModesPlayTheCall(t *testing.T) {
	const latency = 20 * time.Millisecond
	var datagrams []call.Mode
	for _, m := range modes.All() {
		if m.Datagrams {
			datagrams = append(datagrams, m)
		}
	}
	if len(datagrams) == 0 {
		t.Fatal("no mode rides datagrams: the registry lost WebTransport")
	}
	config := func(call.Mode) call.Config { return call.Config{Script: story.Default(), Latency: latency} }
	results, err := modes.RunAll(context.Background(), config, datagrams)
	if err != nil {
		t.Fatal(err)
	}
	for i, res := range results {
		checkCall(t, res, datagrams[i])
		q, _ := res.Timeline.Message(story.LabelQuestion)
		if q.Waited() < 2*latency || q.Reason != timeline.ReasonConnecting {
			t.Errorf("%s: the question waited %v (%s) for the connection; want at least a round trip, %v, %s", res.Mode.Key, q.Waited(), q.Reason, 2*latency, timeline.ReasonConnecting)
		}
		if res.Connections != 1 || res.WireBytes[timeline.Client] == 0 || res.WireBytes[timeline.Server] == 0 {
			t.Errorf("%s: %d connections, %v bytes; want one UDP socket, with datagrams both ways", res.Mode.Key, res.Connections, res.WireBytes)
		}
	}
}

// checkCall checks a call played in mode m: its result names the mode,
// every line of the script was said and heard once, and grandma's
// afterthought waited on the half-duplex end of the lesson.
func checkCall(t *testing.T, res *result.Result, m call.Mode) {
	t.Helper()
	if res.Mode != m.Mode {
		t.Errorf("result is of mode %q, want %q", res.Mode.Key, m.Key)
	}
	said := map[string]int{}
	for _, msg := range res.Timeline.Messages {
		if msg.Sent && msg.Heard {
			said[msg.Label]++
		}
	}
	for _, label := range []string{story.LabelQuestion, story.LabelInterruption, story.LabelAnswer, story.LabelAfterthought, story.LabelGoodbye, story.LabelFarewell} {
		if said[label] != 1 {
			t.Errorf("%s: the %s was said and heard %d times, want once", res.Mode.Key, label, said[label])
		}
	}
	if said[story.LabelStory] != len(story.Default().Story) {
		t.Errorf("%s: %d sentences of the story said and heard, want %d", res.Mode.Key, said[story.LabelStory], len(story.Default().Story))
	}
	after, _ := res.Timeline.Message(story.LabelAfterthought)
	waited := after.Waited() >= timeline.Resolution
	if res.Mode.Key == modes.Ends()[0].Key && !waited {
		t.Errorf("%s: grandma's afterthought did not wait, on a transport where she speaks only when asked", res.Mode.Key)
	}
	if res.Mode.ServerMayStart && waited {
		t.Errorf("%s: grandma's afterthought waited %v, on a transport where she may speak unasked", res.Mode.Key, after.Waited())
	}
}

// TestViewsNameNoMode: a mode's key is written once, in its own package;
// the views, the lesson, the lifecycle, the classroom and the command never
// spell it out, but read it from the registry, the mode or the result.
func TestViewsNameNoMode(t *testing.T) {
	keys := map[string]bool{}
	for _, m := range modes.All() {
		keys[m.Key] = true
	}
	for _, dir := range []string{"../view", "../lesson", "../call", "../classroom", "../result", "../modes", "../../cmd"} {
		err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return err
			}
			f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.SkipObjectResolution)
			if err != nil {
				return err
			}
			// A network's name given to net's Listen, Dial and Resolve
			// functions ("tcp") is not the mode of the same name.
			network := map[*ast.BasicLit]bool{}
			ast.Inspect(f, func(n ast.Node) bool {
				if c, ok := n.(*ast.CallExpr); ok {
					if sel, ok := c.Fun.(*ast.SelectorExpr); ok && (strings.HasPrefix(sel.Sel.Name, "Listen") || strings.HasPrefix(sel.Sel.Name, "Dial") || strings.HasPrefix(sel.Sel.Name, "Resolve")) {
						for _, arg := range c.Args {
							if lit, ok := arg.(*ast.BasicLit); ok {
								network[lit] = true
							}
						}
					}
				}
				return true
			})
			ast.Inspect(f, func(n ast.Node) bool {
				if lit, ok := n.(*ast.BasicLit); ok && lit.Kind == token.STRING && !network[lit] {
					if s, err := strconv.Unquote(lit.Value); err == nil && keys[s] {
						t.Errorf("%s names the mode %q: read it from the registry or the result instead", path, s)
					}
				}
				return true
			})
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

// TestLinkBusyIsTheBytesAtTheRate plays every mode on a link of limited
// bandwidth, on the fake clock: each direction was busy exactly as long as
// its bytes take at the rate (to the nanosecond a piece, as link rounds),
// its busy spans lie within the call and add up to it, and a limited link
// makes the call no shorter.
func TestLinkBusyIsTheBytesAtTheRate(t *testing.T) {
	const latency, rate = 40 * time.Millisecond, 256 * link.Kbit
	var streams []call.Mode
	for _, m := range modes.All() {
		if !m.Datagrams {
			streams = append(streams, m)
		}
	}
	synctest.Test(t, func(t *testing.T) {
		config := func(call.Mode) call.Config {
			l := pipenet.Listen()
			return call.Config{Script: story.Default(), Latency: latency, Bandwidth: rate, Jitter: 5 * time.Millisecond, Seed: 3, Listener: l, Dial: l.DialContext}
		}
		results, err := modes.RunAll(context.Background(), config, streams)
		if err != nil {
			t.Fatal(err)
		}
		for i, res := range results {
			checkCall(t, res, streams[i])
			var spans [2]time.Duration
			for _, b := range res.BusySpans {
				if b.Start < 0 || b.End < b.Start || b.End > res.Timeline.Duration+time.Second {
					t.Errorf("%s: a busy span %v–%v outside the call of %v", res.Mode.Key, b.Start, b.End, res.Timeline.Duration)
				}
				spans[b.From] += b.End - b.Start
			}
			for side, bytes := range res.WireBytes {
				want := rate.TimeFor(bytes)
				if got := res.Busy[side]; got < want || got > want+time.Duration(len(res.Timeline.Events))*time.Microsecond {
					t.Errorf("%s: %v's direction busy %v for %d bytes; at %v they take %v", res.Mode.Key, timeline.Side(side), got, bytes, rate, want)
				}
				if spans[side] != res.Busy[side] {
					t.Errorf("%s: %v's busy spans add up to %v, its busy time is %v", res.Mode.Key, timeline.Side(side), spans[side], res.Busy[side])
				}
			}
			if res.Link.Bandwidth != int64(rate) || res.Link.Seed != 3 {
				t.Errorf("%s: the result's link is %+v", res.Mode.Key, res.Link)
			}
		}
	})
}
