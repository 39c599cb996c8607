package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"testing/synctest"
	"time"
	"unicode/utf8"

	"github.com/spf13/pflag"

	"github.com/duplexdemo/duplexdemo/pkg/lesson"
	"github.com/duplexdemo/duplexdemo/pkg/modes"
	"github.com/duplexdemo/duplexdemo/pkg/story"
	"github.com/duplexdemo/duplexdemo/pkg/view/report"
)

// runReal executes args on 127.0.0.1's real network and clock, as a pipe,
// and returns stdout, stderr and the error.
func runReal(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	deps, out, errOut := testDeps(false, nil)
	err := execute(deps, args...)
	return out.String(), errOut.String(), err
}

// run executes args inside a synctest bubble over an in-memory network,
// acting as a terminal or a pipe, and returns stdout, stderr and the error.
func run(t *testing.T, terminal bool, env map[string]string, args ...string) (string, string, error) {
	t.Helper()
	var out, errOut string
	var err error
	synctest.Test(t, func(t *testing.T) {
		deps, o, e := testDeps(terminal, env)
		deps.Network = inMemory
		err = execute(deps, args...)
		out, errOut = o.String(), e.String()
	})
	return out, errOut, err
}

func TestColour(t *testing.T) {
	for _, c := range []struct {
		name     string
		terminal bool
		env      map[string]string
		args     []string
		colour   bool
	}{
		{"terminal", true, nil, nil, true},
		{"pipe", false, nil, nil, false},
		{"terminal with NO_COLOR", true, map[string]string{"NO_COLOR": "1"}, nil, false},
		{"terminal with --color never", true, nil, []string{"--color", "never"}, false},
		{"pipe with --color always", false, nil, []string{"--color", "always"}, true},
		{"--color always with NO_COLOR", false, map[string]string{"NO_COLOR": "1"}, []string{"--color", "always"}, false},
	} {
		for _, mode := range []string{"walkie", "phone"} {
			out, _, err := run(t, c.terminal, c.env, append([]string{mode, "--speed", "4"}, c.args...)...)
			if err != nil {
				t.Fatalf("%s %s: %v", mode, c.name, err)
			}
			if got := strings.Contains(out, "\x1b["); got != c.colour {
				t.Errorf("%s, %s: colour %v, want %v", mode, c.name, got, c.colour)
			}
		}
	}
}

func TestJSON(t *testing.T) {
	for _, mode := range []string{"walkie", "phone"} {
		out, _, err := run(t, true, nil, mode, "--json")
		if err != nil {
			t.Fatal(err)
		}
		var r report.Call
		dec := json.NewDecoder(strings.NewReader(out))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&r); err != nil {
			t.Fatalf("%s --json: %v", mode, err)
		}
		if dec.More() {
			t.Errorf("%s --json printed more than one JSON object", mode)
		}
		if r.Mode != mode || r.LatencyMS != 40 || len(r.Events) == 0 || len(r.Spans) == 0 || r.Summary.Connections != 1 {
			t.Errorf("%s --json: mode %q, latency %v, %d events, %d spans, %d connections", mode, r.Mode, r.LatencyMS, len(r.Events), len(r.Spans), r.Summary.Connections)
		}
		i := r.Summary.Interruption
		if i.WantedAtMS == nil || i.SentAtMS == nil || i.HeardAtMS == nil || i.WaitedMS == nil || i.HeardAfterMS == nil {
			t.Fatalf("%s --json: the interruption is missing a time: %+v", mode, i)
		}
		near := func(a, b float64) bool { return math.Abs(a-b) < 0.002 } // each is rounded to the µs
		if !near(*i.WaitedMS, *i.SentAtMS-*i.WantedAtMS) || !near(*i.HeardAfterMS, *i.HeardAtMS-*i.WantedAtMS) {
			t.Errorf("%s --json: waited %v and heard after %v do not match the times %+v", mode, *i.WaitedMS, *i.HeardAfterMS, i)
		}
		if strings.Contains(out, "\x1b[") {
			t.Errorf("%s --json on a terminal printed colour codes", mode)
		}
		// The story is a different shape in each mode: only the walkie waits.
		if waited := *i.WaitedMS > 0; waited != (mode == "walkie") {
			t.Errorf("%s: the interruption waited %v ms", mode, *i.WaitedMS)
		}
	}
}

func TestBadInput(t *testing.T) {
	for _, c := range []struct {
		args []string
		says string
	}{
		{[]string{"walkie", "--latency", "banana"}, "--latency"},
		{[]string{"phone", "--latency", "-5ms"}, "--latency"},
		{[]string{"walkie", "--pace", "0"}, "--pace"},
		{[]string{"walkie", "--pace", "banana"}, "such as 250ms or 1.5s"},
		{[]string{"walkie", "--interrupt-at", "5s"}, "--interrupt-at"},
		{[]string{"phone", "--afterthought-at", "1s"}, "--afterthought-at"},
		{[]string{"phone", "--goodbye-at", "1.9s"}, "--goodbye-at"},
		{[]string{"walkie", "--speed", "fast"}, "--speed"},
		{[]string{"walkie", "--speed", "0"}, "--speed"},
		{[]string{"walkie", "--sentences", "99"}, "--sentences"},
		{[]string{"walkie", "--width", "20"}, "--width"},
		{[]string{"phone", "--color", "sometimes"}, "--color"},
		{[]string{"phone", "--bogus"}, "--bogus"},
		{[]string{"walkie", "extra"}, "extra"},
		{[]string{"telephone"}, "telephone"},
		{[]string{"poll", "--server", "http://127.0.0.1:1"}, "plays only in this process"},
		{[]string{"phone", "--bandwidth", "1MB/s"}, "8Mbit"},
		{[]string{"phone", "--bandwidth", "fast"}, "--bandwidth"},
		{[]string{"phone", "--jitter", "5s"}, "--jitter"},
		{[]string{"phone", "--seed", "-1"}, "--seed"},
		{[]string{"walkie", "--photo", "200KB", "--bandwidth", "512kbit"}, "takes 3.125s to cross at 512kbit"},
		{[]string{"compare", "--all", "--photo", "200KB", "--bandwidth", "64kbit"}, "--goodbye-at"},
		{[]string{"phone", "--photo", "200KB", "--bandwidth", "64kbit"}, "--goodbye-at"},
		{[]string{"phone", "--photo", "20MB"}, "--photo"},
		{[]string{"walkie", "--trace-out", "/no/such/dir/w.json"}, "does not exist"},
		{[]string{"phone", "--html", "-"}, "--html"},
		{[]string{"phone", "--trace-out", "-"}, "--trace-out"},
		{[]string{"compare", "--mermaid", "-", "--json"}, "standard output"},
		{[]string{"walkie", "--html", os.DevNull + "/x.html"}, "--html"},
		{[]string{"walkie", "--html", os.TempDir()}, "directory"},
		{[]string{"walkie", "--html", "same.html", "--mermaid", "./same.html"}, "give each its own name"},
		{[]string{"walkie", "--html", ""}, "want a file name"},
		{[]string{"walkthrough", "--html", "x.html"}, "compare --html x.html"},
		{[]string{"walkthrough", "--mermaid", "-"}, "writes no files"},
		{[]string{"compare", "--modes", "walkie,pigeon"}, "no mode \"pigeon\""},
		{[]string{"compare", "--modes", "poll,poll"}, "named twice"},
		{[]string{"compare", "--modes", "sse"}, "at least two"},
		{[]string{"compare", "--all", "--modes", "poll,sse"}, "give one of them"},
		{[]string{"compare", "--every", "1s"}, "--every is for a mode that polls"},
		{[]string{"poll", "--every", "1ms"}, "--every"},
		{[]string{"sse", "--every", "1s"}, "--every"},
		{[]string{"longpoll", "--server", "http://127.0.0.1:1"}, "--server"},
		{[]string{"walkie", "--server", "http://127.0.0.1:99999"}, "from 1 to 65535"},
		{[]string{"walkie", "--ascii=maybe"}, "want true or false"},
		{[]string{"compare", "--all=perhaps"}, "want true or false"},
		{[]string{"walkie", "--pace", "100us"}, "use at least 1ms"},
		{[]string{"walkee"}, "did you mean walkie?"},
		{[]string{"help", "walkee"}, "did you mean walkie?"},
		{[]string{"completion", "tcsh"}, "want one of bash, zsh, fish or powershell"},
		{[]string{"walkie", "--server", "http://127.0.0.1:1", "--student", "Alice Smith"}, "never your own"},
		{[]string{"report"}, "takes one record"},
		{[]string{"report", "a.json", "b.json"}, "takes one record"},
		{[]string{"report", "a.json", "--csv", "-", "--json", "-"}, "standard output"},
		{[]string{"report", "a.json", "--html", "-"}, "--html"},
		{[]string{"serve", "--record", ""}, "want a file name"},
	} {
		out, _, err := run(t, false, nil, c.args...)
		if err == nil {
			t.Errorf("%v: got no error", c.args)
			continue
		}
		var stderr bytes.Buffer
		code := exitCode(err, &stderr)
		msg := stderr.String()
		if code != 2 || strings.Count(msg, "\n") != 1 || !strings.Contains(msg, c.says) {
			t.Errorf("%v: exit %d, message %q; want exit 2 and one line naming %s", c.args, code, msg, c.says)
		}
		if out != "" {
			t.Errorf("%v: printed %q on stdout before failing", c.args, out)
		}
	}
}

// TestFitsWidth: no line of any golden output is wider than the width it
// was drawn for.
func TestFitsWidth(t *testing.T) {
	files, err := filepath.Glob("testdata/*.golden")
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden files: %v", err)
	}
	for _, f := range files {
		if strings.Contains(f, "json") {
			continue
		}
		width := 80
		if strings.Contains(f, "-60") {
			width = 60
		}
		if strings.Contains(f, "color") {
			width = 100 // the terminal's width in testDeps
		}
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for i, line := range strings.Split(string(data), "\n") {
			if w := visibleColumns(line); w > width {
				t.Errorf("%s:%d is %d columns wide, more than %d: %q", f, i+1, w, width, line)
			}
		}
	}
}

// visibleColumns counts the columns a line takes, skipping colour codes.
func visibleColumns(s string) int {
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] == 0x1b {
			for i < len(s) && s[i] != 'm' {
				i++
			}
			continue
		}
		if s[i]&0xC0 != 0x80 { // count the first byte of each rune
			n++
		}
	}
	return n
}

func TestHelpTeaches(t *testing.T) {
	for _, cmd := range []string{"walkie", "phone"} {
		out, _, err := run(t, false, nil, cmd, "--help")
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"Examples:", "duplexdemo " + cmd, "--latency", "--json", "--interrupt-at"} {
			if !strings.Contains(out, want) {
				t.Errorf("%s --help does not mention %q", cmd, want)
			}
		}
	}
	out, _, err := run(t, false, nil, "completion", "bash")
	if err != nil || !strings.Contains(out, "bash completion") {
		t.Errorf("completion bash: %v", err)
	}
}

// TestInterrupt runs the real program (this test binary, re-executed as
// main) and sends it Ctrl-C (SIGINT) or SIGTERM mid-call: it must stop
// within a second, say so on one line, and exit 130 or 143, as shells do.
func TestInterrupt(t *testing.T) {
	if os.Getenv("DUPLEXDEMO_AS_MAIN") == "1" {
		return
	}
	for _, tc := range []struct {
		mode string
		sig  syscall.Signal
		code int
	}{{"walkie", syscall.SIGINT, 130}, {"phone", syscall.SIGINT, 130}, {"walkie", syscall.SIGTERM, 143}} {
		mode := tc.mode
		cmd := exec.Command(os.Args[0], "-test.run=^TestMainProgram$")
		cmd.Env = append(os.Environ(), "DUPLEXDEMO_AS_MAIN=1", "DUPLEXDEMO_ARGS="+mode)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// Wait for the call to be under way: the first line grandma hears.
		lines := bufio.NewScanner(stdout)
		for lines.Scan() && !strings.Contains(lines.Text(), "hears") {
		}
		drained := make(chan struct{})
		go func() {
			defer close(drained)
			io.Copy(io.Discard, stdout) // keep the pipe flowing until it closes
		}()
		sent := time.Now()
		if err := cmd.Process.Signal(tc.sig); err != nil {
			t.Fatal(err)
		}
		<-drained // all reads from the pipe are done before Wait, as os/exec asks
		err = cmd.Wait()
		if d := time.Since(sent); d > time.Second {
			t.Errorf("%s: took %v to stop after Ctrl-C; want under a second", mode, d)
		}
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != tc.code {
			t.Errorf("%s, %v: got %v, want exit status %d", mode, tc.sig, err, tc.code)
		}
		if msg := stderr.String(); strings.Count(msg, "\n") != 1 || !strings.Contains(msg, "interrupted") {
			t.Errorf("%s: stderr %q, want one line saying it was interrupted", mode, msg)
		}
	}
}

// TestMainProgram is not a test: TestInterrupt runs the test binary with
// DUPLEXDEMO_AS_MAIN=1 to use it as the real program.
func TestMainProgram(t *testing.T) {
	if os.Getenv("DUPLEXDEMO_AS_MAIN") != "1" {
		t.Skip("runs only as the program under TestInterrupt")
	}
	os.Args = []string{"duplexdemo", os.Getenv("DUPLEXDEMO_ARGS")}
	main()
}

func TestDefaultsMatchTheScript(t *testing.T) {
	var o callOptions
	addCallFlags(pflag.NewFlagSet("test", pflag.ContinueOnError), &o)
	s, err := story.New(o.Story)
	if err != nil || len(s.Story) != story.DefaultSentences || o.Latency != defaultLatency {
		t.Errorf("default flags give %d sentences, latency %v, %v", len(s.Story), o.Latency, err)
	}
}

// TestCompareModes: --modes plays the modes named, in that order, in the
// one shape compare --all has; --every reaches the poll.
func TestCompareModes(t *testing.T) {
	out, _, err := run(t, false, nil, "compare", "--modes", "sse,poll", "--every", "50ms", "--speed", "4", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var c report.Table
	if err := json.Unmarshal([]byte(out), &c); err != nil {
		t.Fatal(err)
	}
	if len(c.Calls) != 2 || c.Calls[0].Mode != "sse" || c.Calls[1].Mode != "poll" {
		t.Fatalf("got %d calls; want sse then poll", len(c.Calls))
	}
	requests, ok := c.Calls[1].Summary.Fact("requests")
	// Its three lines and a poll at most every 50ms, some skipped while a
	// line holds the one connection: well over the lines alone.
	if !ok || requests.Value < 3+float64(c.Calls[1].DurationMS/50)/4 {
		t.Errorf("poll made %v requests in %v ms; polling every 50ms it makes about one a period", requests.Value, c.Calls[1].DurationMS)
	}
	for _, m := range c.Measures {
		if len(m.Values) != 2 {
			t.Errorf("measure %s has %d values, want one per mode", m.Name, len(m.Values))
		}
	}
}

// TestCompareAllOnRealSockets plays every mode at once, the one on UDP
// datagrams too (the golden compare runs the others on the fake clock):
// each is in the table, in the registry's order, with the columns that
// tell them apart, and every mode whose grandma may speak unasked heard the
// interruption sooner than the walkie-talkie, where it waited for the
// story.
func TestCompareAllOnRealSockets(t *testing.T) {
	out, _, err := runReal(t, "compare", "--all", "--speed", "4", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var c report.Table
	if err := json.Unmarshal([]byte(out), &c); err != nil {
		t.Fatal(err)
	}
	all := modes.All()
	if len(c.Calls) != len(all) {
		t.Fatalf("%d calls, want %d", len(c.Calls), len(all))
	}
	for i, m := range all {
		if c.Calls[i].Mode != m.Key {
			t.Errorf("call %d is %s, want %s", i, c.Calls[i].Mode, m.Key)
		}
	}
	values := map[string]map[string]any{}
	for _, m := range c.Measures {
		values[m.Name] = m.Values
	}
	for _, name := range []string{"connections", "setup_round_trips", "overhead_bytes_per_line"} {
		if len(values[name]) != len(all) {
			t.Errorf("measure %s has %d values, want one per mode", name, len(values[name]))
		}
	}
	half := modes.Ends()[0].Key
	heard := func(key string) float64 {
		for _, call := range c.Calls {
			if call.Mode == key && call.Summary.Interruption.HeardAfterMS != nil {
				return *call.Summary.Interruption.HeardAfterMS
			}
		}
		t.Fatalf("%s: the interruption was never heard", key)
		return 0
	}
	for _, m := range modes.Beneath() {
		if heard(m.Key) >= heard(half) {
			t.Errorf("%s heard the interruption after %v ms, no sooner than %s (%v ms), where it waits for the story", m.Key, heard(m.Key), half, heard(half))
		}
	}
	text, _, err := runReal(t, "compare", "--all", "--speed", "4", "--ascii", "--width", "80")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range all {
		if !strings.Contains(text, m.Key) {
			t.Errorf("compare --all does not show %s:\n%s", m.Key, text)
		}
	}
	for i, line := range strings.Split(text, "\n") {
		if n := utf8.RuneCountInString(line); n > 80 {
			t.Errorf("line %d is %d columns wide, over --width 80: %q", i+1, n, line)
		}
	}
}

// TestCompareJSON: one object holding both reports and the comparison,
// whose numbers are the reports' own.
func TestCompareJSON(t *testing.T) {
	out, _, err := run(t, false, nil, "compare", "--json", "--speed", "4")
	if err != nil {
		t.Fatal(err)
	}
	var c report.Table
	dec := json.NewDecoder(strings.NewReader(out))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		t.Fatal(err)
	}
	if len(c.Calls) != 2 || c.Calls[0].Mode != "walkie" || c.Calls[1].Mode != "phone" || len(c.Measures) == 0 {
		t.Fatalf("%d calls, %d measures; want walkie and phone, and measures", len(c.Calls), len(c.Measures))
	}
	walkie, phone := c.Calls[0], c.Calls[1]
	for _, m := range c.Measures {
		if m.Name != "interruption_waited_ms" {
			continue
		}
		w, p := m.Values["walkie"], m.Values["phone"]
		if w != *walkie.Summary.Interruption.WaitedMS || p != *phone.Summary.Interruption.WaitedMS {
			t.Errorf("interruption waited: table %v / %v, reports %v / %v", w, p,
				*walkie.Summary.Interruption.WaitedMS, *phone.Summary.Interruption.WaitedMS)
		}
		if w.(float64) <= p.(float64) {
			t.Errorf("the walkie's interruption waited %v, no longer than the phone's %v", w, p)
		}
		return
	}
	t.Error("no interruption_waited_ms measure")
}

// TestConventions: what a Go command-line user expects of any tool.
func TestConventions(t *testing.T) {
	t.Run("version", func(t *testing.T) {
		for _, args := range [][]string{{"version"}, {"--version"}} {
			out, _, err := run(t, false, nil, args...)
			if err != nil || !strings.HasPrefix(out, "duplexdemo ") || !strings.Contains(out, "built with go") || strings.Count(out, "\n") != 1 {
				t.Errorf("%v: got %q, %v; want one line naming duplexdemo's version and its Go", args, out, err)
			}
		}
	})
	t.Run("help fits 80 columns on a pipe", func(t *testing.T) {
		for _, cmd := range []string{"walkie", "compare", "walkthrough", "serve", "poll"} {
			out, _, err := run(t, false, nil, cmd, "--help")
			if err != nil {
				t.Fatal(err)
			}
			for _, line := range strings.Split(out, "\n") {
				if n := len([]rune(line)); n > 80 {
					t.Errorf("%s --help: a line of %d columns: %q", cmd, n, line)
				}
			}
		}
	})
	t.Run("the root's help starts with the lesson; --server shows its URL", func(t *testing.T) {
		out, _, err := run(t, false, nil, "--help")
		if err != nil {
			t.Fatal(err)
		}
		if i, j := strings.Index(out, "duplexdemo walkthrough"), strings.Index(out, "  walkie "); i < 0 || j < 0 || i > j {
			t.Errorf("the root's help should name the lesson before the modes:\n%s", out)
		}
		out, _, err = run(t, false, nil, "walkie", "--help")
		if err != nil || !strings.Contains(out, "--server URL") {
			t.Errorf("walkie --help should show --server URL; got %v:\n%s", err, out)
		}
	})
	t.Run("--width 60 and --ascii hold everywhere", func(t *testing.T) {
		for _, args := range [][]string{
			{"walkie"}, {"phone"}, {"poll"}, {"longpoll"}, {"sse"},
			{"h1full"}, {"h2"}, {"tcp"},
			{"compare"}, {"compare", "--modes", strings.Join(streamKeys(), ",")}, {"walkthrough", "--no-pause"},
		} {
			out, _, err := run(t, false, nil, append(args, "--width", "60", "--ascii")...)
			if err != nil {
				t.Fatalf("%v: %v", args, err)
			}
			for _, line := range strings.Split(out, "\n") {
				if n := len([]rune(line)); n > 60 {
					t.Errorf("%v: a line of %d columns: %q", args, n, line)
				}
				for _, r := range line {
					if r > 127 {
						t.Errorf("%v --ascii: %q in %q", args, r, line)
						break
					}
				}
			}
		}
	})
	t.Run("man pages", func(t *testing.T) {
		dir := t.TempDir()
		if _, _, err := run(t, false, nil, "man", dir); err != nil {
			t.Fatal(err)
		}
		for _, page := range []string{"duplexdemo.1", "duplexdemo-walkie.1", "duplexdemo-compare.1", "duplexdemo-walkthrough.1"} {
			b, err := os.ReadFile(filepath.Join(dir, page))
			if err != nil || !bytes.Contains(b, []byte(".TH")) {
				t.Errorf("%s: %v; want a man page", page, err)
			}
		}
	})
	t.Run("walkthrough help names every chapter", func(t *testing.T) {
		out, _, err := run(t, false, nil, "walkthrough", "--help")
		if err != nil {
			t.Fatal(err)
		}
		for i, c := range lesson.Chapters() {
			if want := fmt.Sprintf("%d. %s", i+1, c.Title); !strings.Contains(out, want) {
				t.Errorf("walkthrough --help does not list %q", want)
			}
		}
	})
	t.Run("completion offers each flag's words", func(t *testing.T) {
		for _, c := range []struct {
			args []string
			want []string
		}{
			{[]string{"__complete", "walkie", "--color", ""}, []string{"auto", "always", "never"}},
			{[]string{"__complete", "serve", "--log-format", ""}, []string{"text", "json"}},
			{[]string{"__complete", "walkthrough", "--chapter", ""}, []string{"1\tTaking turns", "10\tWhere this matters"}},
			{[]string{"__complete", "compare", "--modes", ""}, modes.Keys()},
			{[]string{"__complete", "help", ""}, []string{"walkie", "compare", "walkthrough"}},
		} {
			out, _, err := run(t, false, nil, c.args...)
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range c.want {
				if !strings.Contains(out, w+"\n") {
					t.Errorf("%v: got %q, want %q among them", c.args, out, w)
				}
			}
		}
	})
	t.Run("a story shorter than a round trip is warned about", func(t *testing.T) {
		_, errOut, err := run(t, false, nil, "walkie", "--pace", "10ms", "--latency", "100ms", "--json")
		if err != nil || !strings.Contains(errOut, "less than a round trip") || strings.Count(errOut, "\n") != 1 {
			t.Errorf("got %q, %v; want one line warning that the story is over before an interruption can arrive", errOut, err)
		}
		_, errOut, _ = run(t, false, nil, "walkie", "--json")
		if errOut != "" {
			t.Errorf("the default story: got %q on stderr, want nothing", errOut)
		}
	})
	t.Run("an export's leftovers are cleaned up", func(t *testing.T) {
		dir := t.TempDir()
		gone := filepath.Join(dir, ".r.html.999999999.1.tmp") // no such process
		mine := filepath.Join(dir, fmt.Sprintf(".r.html.%d.2.tmp", os.Getpid()))
		for _, f := range []string{gone, mine} {
			if err := os.WriteFile(f, nil, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		if _, _, err := run(t, false, nil, "walkie", "--speed", "4", "--html", filepath.Join(dir, "r.html")); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(gone); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("a killed run's temporary file is still there: %v", err)
		}
		if _, err := os.Stat(mine); err != nil {
			t.Errorf("a live process's temporary file was removed: %v", err)
		}
	})
}
