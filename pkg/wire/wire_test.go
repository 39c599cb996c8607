package wire_test

import (
	"encoding/json"
	"flag"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/duplexdemo/duplexdemo/pkg/story"
	"github.com/duplexdemo/duplexdemo/pkg/timeline"
	"github.com/duplexdemo/duplexdemo/pkg/wire"
)

// grandmasLog is what grandma records of a whole call on her own clock,
// on the fake clock, encoded.
func grandmasLog(t testing.TB) []byte {
	var log []byte
	s := story.Default()
	synctest.Test(t.(*testing.T), func(t *testing.T) {
		r := timeline.NewSideRecorder(timeline.Server, s.LineLabel, nil)
		hear := func(text string) {
			if _, err := r.Heard(timeline.Client, text); err != nil {
				t.Fatal(err)
			}
		}
		say := func(label, text string) {
			r.Sent(r.Want(timeline.Server, label, text, "channel busy"))
			time.Sleep(10 * time.Millisecond)
		}
		hear(s.Question)
		for _, sentence := range s.Story {
			say(story.LabelStory, sentence)
		}
		hear(s.Interruption)
		say(story.LabelAnswer, s.Answer)
		id := r.Want(timeline.Server, story.LabelAfterthought, s.Afterthought, "no request to answer")
		time.Sleep(600 * time.Millisecond)
		hear(s.Goodbye)
		r.Sent(id)
		say(story.LabelFarewell, s.Farewell)
		var err error
		if log, err = wire.EncodeRecord(r.Finish(), wire.Facts{Connections: 1}); err != nil {
			t.Fatal(err)
		}
	})
	return log
}

func TestLogRoundTrip(t *testing.T) {
	log := grandmasLog(t)
	if !strings.HasPrefix(string(log), wire.RecordPrefix) {
		t.Fatalf("the log does not start with %q: %.40s", wire.RecordPrefix, log)
	}
	tl, _, err := wire.DecodeRecord(log, story.Default())
	if err != nil {
		t.Fatal(err)
	}
	sent, heard := 0, 0
	for _, m := range tl.Messages {
		switch {
		case m.From == timeline.Server && m.Sent:
			sent++
		case m.From == timeline.Client && m.Heard:
			heard++
		}
	}
	if sent != 9 || heard != 3 {
		t.Errorf("decoded %d lines sent and %d heard, want 9 and 3", sent, heard)
	}
	if a, ok := tl.Message(story.LabelAfterthought); !ok || a.Waited() != 600*time.Millisecond {
		t.Errorf("the afterthought decoded as %+v, want a wait of 600ms", a)
	}
}

func TestDecodeLogRefuses(t *testing.T) {
	good := string(grandmasLog(t))
	for _, tc := range []struct{ name, log, says string }{
		{"not JSON", "hello", "not valid"},
		{"another protocol", strings.Replace(good, `"protocol":1`, `"protocol":2`, 1), "protocol 2"},
		{"an unknown field", strings.Replace(good, `"protocol":1`, `"protocol":1,"x":1`, 1), "unknown field"},
		{"an unknown kind", strings.Replace(good, `"kind":"send"`, `"kind":"shout"`, 1), "unknown kind"},
		{"a line not in the script", strings.Replace(good, "county fair", "moon landing", 1), "not the script's"},
		{"time going back", strings.Replace(good, `"at_ns":0`, `"at_ns":999999999999`, 1), "out of order"},
		{"too big", good + strings.Repeat(" ", wire.MaxRecord), "over the"},
		{"something after it", good + "{}", "after it"},
	} {
		_, _, err := wire.DecodeRecord([]byte(tc.log), story.Default())
		if err == nil || !strings.Contains(err.Error(), tc.says) {
			t.Errorf("%s: got %v, want an error saying %q", tc.name, err, tc.says)
		}
	}
}

func TestScriptQuery(t *testing.T) {
	s, err := story.New(story.Options{Speed: 4, Sentences: 8})
	if err != nil {
		t.Fatal(err)
	}
	got, err := wire.ParseScript(wire.ScriptQuery(s))
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Story) != 8 || got.Pace != s.Pace || got.InterruptAt != s.InterruptAt || got.GoodbyeAt != s.GoodbyeAt {
		t.Errorf("the script came back as %+v, want %+v", got, s)
	}
	for _, tc := range []struct {
		name string
		q    url.Values
		says string
	}{
		{"no protocol", url.Values{"sentences": {"6"}, "pace": {"1s"}}, "no duplexdemo protocol"},
		{"another protocol", url.Values{"protocol": {"7"}}, "protocol \"7\""},
		{"too many sentences", url.Values{"protocol": {"1"}, "sentences": {"99"}, "pace": {"1s"}}, "sentences"},
		{"a bad pace", url.Values{"protocol": {"1"}, "sentences": {"6"}, "pace": {"soon"}}, "pace"},
		{"a call too long", url.Values{"protocol": {"1"}, "sentences": {"6"}, "pace": {"4s"}, "goodbye-at": {"1h"}}, "goodbye-at"},
	} {
		if _, err := wire.ParseScript(tc.q); err == nil || !strings.Contains(err.Error(), tc.says) {
			t.Errorf("%s: got %v, want an error saying %q", tc.name, err, tc.says)
		}
	}
}

func TestServerURL(t *testing.T) {
	for in, want := range map[string]string{
		"http://192.168.1.20:8080":   "ws://192.168.1.20:8080",
		"192.168.1.20:8080":          "ws://192.168.1.20:8080",
		"http://teacher.local:8080/": "ws://teacher.local:8080",
		"ws://[::1]:8080":            "ws://[::1]:8080",
	} {
		if got, err := wire.ServerURL(in, "ws"); err != nil || got != want {
			t.Errorf("ServerURL(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"", "https://x:1", "ftp://x", "http://x:1/path", "http://u:p@x:1", "http://:8080"} {
		if got, err := wire.ServerURL(in, "http"); err == nil {
			t.Errorf("ServerURL(%q) = %q; want an error", in, got)
		}
	}
}

// FuzzDecodeRecord feeds grandma's record decoder anything: it must never
// panic, and what it accepts must be a sound timeline.
func FuzzDecodeRecord(f *testing.F) {
	f.Add([]byte(`{"protocol":1,"duration_ns":0,"events":[]}`))
	f.Add([]byte(`{"protocol":1,"duration_ns":5,"events":[{"at_ns":1,"kind":"want","msg":0,"label":"farewell","text":"Goodbye, sweetheart. Call me again soon."}]}`))
	f.Add([]byte(`{"protocol":1,"duration_ns":5,"events":[{"at_ns":1,"kind":"heard","msg":0,"label":"photo","text":"[a photo, 50KB]","bytes":50000}]}`))
	withPhoto := photoScript(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		tl, _, err := wire.DecodeRecord(data, story.Default())
		if err != nil {
			if tl, _, err = wire.DecodeRecord(data, withPhoto); err != nil {
				return
			}
		}
		var last time.Duration
		for _, e := range tl.Events {
			if e.At < last || e.At > tl.Duration {
				t.Fatalf("event at %v out of order or after the call (%v)", e.At, tl.Duration)
			}
			last = e.At
			if e.Msg != timeline.NoMsg && (e.Msg < 0 || int(e.Msg) >= len(tl.Messages)) {
				t.Fatalf("event names message %d of %d", e.Msg, len(tl.Messages))
			}
		}
		if _, err := json.Marshal(tl); err != nil {
			t.Fatal(err)
		}
		_ = tl.Spans()
		_ = tl.Overlap()
	})
}

// TestWriteFuzzSeeds, with -update-seeds, writes grandma's record of a whole
// call, and broken copies of it, to the fuzz corpus in testdata.
func TestWriteFuzzSeeds(t *testing.T) {
	if !*updateSeeds {
		t.Skip("run with -update-seeds to write the seed corpus")
	}
	log := string(grandmasLog(t))
	seeds := map[string]string{
		"whole-call":    log,
		"truncated":     log[:len(log)/2],
		"wrong-message": strings.Replace(log, `"msg":3`, `"msg":42`, 1),
		"heard-twice":   strings.Replace(log, `"msg":1,`, `"msg":0,`, 2),
	}
	for name, s := range seeds {
		body := "go test fuzz v1\n[]byte(" + strconv.Quote(s) + ")\n"
		if err := os.WriteFile(filepath.Join("testdata", "fuzz", "FuzzDecodeRecord", name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

var updateSeeds = flag.Bool("update-seeds", false, "write the fuzz seed corpus")
