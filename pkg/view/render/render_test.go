package render

import (
	"bytes"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/duplexdemo/duplexdemo/pkg/timeline"
	"github.com/duplexdemo/duplexdemo/pkg/view/report"
)

func TestFit(t *testing.T) {
	for _, c := range []struct {
		in   string
		n    int
		want string
	}{
		{"abc", 5, "abc  "},
		{"abcdef", 5, "abcd…"},
		{"abcdef", 1, "a"},
		{"", 2, "  "},
	} {
		if got := fit(c.in, c.n, "…"); got != c.want {
			t.Errorf("fit(%q, %d) = %q, want %q", c.in, c.n, got, c.want)
		}
	}
}

func TestVisibleWidth(t *testing.T) {
	s := Style{Color: true}
	if got := visibleWidth(s.paint(sgrBoldRed, "‖ waits")); got != 7 {
		t.Errorf("visibleWidth of a painted 7-rune string = %d", got)
	}
}

// lines returns the lines of out, checking that none is wider than width
// and, for ASCII, that none holds anything but ASCII.
func lines(t *testing.T, out string, width int, ascii bool) []string {
	t.Helper()
	ls := strings.Split(strings.TrimRight(out, "\n"), "\n")
	for i, l := range ls {
		if w := visibleWidth(l); w > width {
			t.Errorf("line %d is %d columns, wider than %d: %q", i+1, w, width, l)
		}
		if ascii {
			for _, r := range l {
				if r >= utf8.RuneSelf {
					t.Errorf("line %d holds %q, not ASCII: %q", i+1, r, l)
					break
				}
			}
		}
	}
	return ls
}

func TestSwimlanes(t *testing.T) {
	spans := []timeline.Span{
		{Side: timeline.Client, State: timeline.Listening, Start: 100 * time.Millisecond, End: 900 * time.Millisecond},
		{Side: timeline.Client, State: timeline.Waiting, Start: 300 * time.Millisecond, End: 600 * time.Millisecond},
		{Side: timeline.Client, State: timeline.Talking, Start: 950 * time.Millisecond, End: 950 * time.Millisecond},
		{Side: timeline.Server, State: timeline.Talking, Start: 60 * time.Millisecond, End: 860 * time.Millisecond},
	}
	lanes := []Lane{{Name: "grandchild", Side: timeline.Client, Spans: spans}, {Name: "grandma", Side: timeline.Server, Spans: spans}}
	for _, width := range []int{60, 80, 132} {
		for _, ascii := range []bool{false, true} {
			var b bytes.Buffer
			style := Style{Width: width, ASCII: ascii}
			if err := Swimlanes(&b, lanes, time.Second, style); err != nil {
				t.Fatal(err)
			}
			ls := lines(t, b.String(), width, ascii)
			g := style.glyphs()
			client := []rune(ls[2])[laneLabel:]
			server := []rune(ls[3])[laneLabel:]
			cols := width - laneLabel
			step := (time.Second + time.Duration(cols)*time.Millisecond - 1) / time.Duration(cols) / time.Millisecond * time.Millisecond
			at := func(row []rune, d time.Duration) string {
				i := min(int(d/step), len(row)-1)
				return string(row[i])
			}
			// Waiting wins over listening; an instant still shows.
			for _, c := range []struct {
				row  []rune
				t    time.Duration
				want string
			}{
				{client, 450 * time.Millisecond, g.wait},
				{client, 750 * time.Millisecond, g.listen},
				{client, 950 * time.Millisecond, g.talk},
				{client, 20 * time.Millisecond, g.idle},
				{server, 450 * time.Millisecond, g.talk},
				{server, 980 * time.Millisecond, g.idle},
			} {
				if got := at(c.row, c.t); got != c.want {
					t.Errorf("width %d ascii %v: at %v got %q, want %q\n%s", width, ascii, c.t, got, c.want, b.String())
				}
			}
		}
	}
}

func TestLiveLog(t *testing.T) {
	var b bytes.Buffer
	l := NewLiveLog(&b, Style{Width: 80, ASCII: true})
	l.Header("title")
	l.Observe(timeline.Event{At: 600 * time.Millisecond, Side: timeline.Client, Kind: timeline.KindWant, Text: "hush"})
	// A wait is noticed a millisecond in, and stamped when the line was wanted.
	l.Observe(timeline.Event{At: 601 * time.Millisecond, Side: timeline.Client, Kind: timeline.KindWaiting, Label: "hush", Reason: "channel busy", Waited: time.Millisecond})
	l.Observe(timeline.Event{At: 1330 * time.Millisecond, Side: timeline.Client, Kind: timeline.KindSend, Text: "hush", Waited: 730 * time.Millisecond})
	l.Observe(timeline.Event{At: 1370 * time.Millisecond, Side: timeline.Server, Kind: timeline.KindHeard, Text: "hush"})
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	ls := lines(t, b.String(), 80, true)
	want := []string{
		"title",
		"    ms GRANDCHILD (client)                 | GRANDMA (server)",
		"   600 || WAITS to say the hush            |",
		"         because: channel busy             |",
		"  1330 >> wait over after 730 ms           |",
		`  1330 says --> "hush"                     |`,
		`  1370                                     | hears --> "hush"`,
	}
	if strings.Join(ls, "\n") != strings.Join(want, "\n") {
		t.Errorf("got:\n%s\nwant:\n%s", strings.Join(ls, "\n"), strings.Join(want, "\n"))
	}
}

func TestSummarySaysWhatNeverHappened(t *testing.T) {
	waited, wanted := 640.0, 2000.0
	r := report.Call{Mode: "walkie", Transport: "HTTP", Summary: report.Summary{
		Afterthought: report.Moment{WantedAtMS: &wanted, WaitedMS: &waited, Reason: "no request to answer"},
	}}
	var b bytes.Buffer
	if err := Summary(&b, r, Style{Width: 80}); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	lines(t, out, 80, false)
	for _, want := range []string{"never", "2000 ms", "640 ms", "no request to answer"} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
}

// TestLiveSwimlanesLeaveTheFutureBlank: a call still going on is drawn up
// to now on the whole axis; the columns after now are blank, not idle.
func TestLiveSwimlanesLeaveTheFutureBlank(t *testing.T) {
	spans := []timeline.Span{
		{Side: timeline.Client, State: timeline.Talking, Start: 0, End: 100 * time.Millisecond},
		{Side: timeline.Server, State: timeline.Idle, Start: 0, End: 500 * time.Millisecond},
	}
	lanes := []Lane{{Name: "grandchild", Side: timeline.Client, Spans: spans}, {Name: "grandma", Side: timeline.Server, Spans: spans}}
	var b bytes.Buffer
	if err := LiveSwimlanes(&b, lanes, time.Second, 500*time.Millisecond, Style{Width: 72, ASCII: true}); err != nil {
		t.Fatal(err)
	}
	rows := strings.Split(b.String(), "\n")
	grandma := rows[3][laneLabel:]
	drawn := strings.TrimRight(grandma, " ")
	// 60 columns for 1 s: 17 ms a column, 59 of them; now (500 ms) is in
	// the 30th.
	if len(drawn) != 30 || strings.Trim(drawn, ".") != "" || len(grandma) != 59 {
		t.Errorf("grandma's lane %q: want 30 idle columns up to now, then blanks to the 59th", grandma)
	}
}
