package webpage_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/duplexdemo/duplexdemo/internal/calltest"
	"github.com/duplexdemo/duplexdemo/pkg/class"
	"github.com/duplexdemo/duplexdemo/pkg/classroom"
	"github.com/duplexdemo/duplexdemo/pkg/classroom/webpage"
	"github.com/duplexdemo/duplexdemo/pkg/fullduplex"
	"github.com/duplexdemo/duplexdemo/pkg/halfduplex"
	"github.com/duplexdemo/duplexdemo/pkg/story"
	"github.com/duplexdemo/duplexdemo/pkg/view/report"
)

// classView returns an experiment of n calls, walkie and phone in turn,
// played on the fake clock over links from 5 to 200 ms, so that their
// numbers spread as a class's do; every seventh call's afterthought is
// marked as never heard, so that the view has "never"s to count.
func classView(t *testing.T, n int) class.View {
	t.Helper()
	latencies := []time.Duration{5, 20, 40, 80, 120, 200}
	var played [2][]report.Call
	synctest.Test(t, func(t *testing.T) {
		for _, l := range latencies {
			played[0] = append(played[0], report.Build(calltest.InMemory(t, halfduplex.Mode(), story.Default(), l*time.Millisecond)))
			played[1] = append(played[1], report.Build(calltest.InMemory(t, fullduplex.Mode(), story.Default(), l*time.Millisecond)))
		}
	})
	room, _, err := class.Open(class.Options{Modes: classroom.ClassModes(), Now: func() time.Time { return time.Date(2026, 3, 9, 10, 15, 0, 0, time.UTC) }})
	if err != nil {
		t.Fatal(err)
	}
	defer room.Close()
	for i := range n {
		c := played[i%2][(i/2)%len(latencies)]
		if i%7 == 6 {
			c.Summary.Afterthought.HeardAtMS, c.Summary.Afterthought.HeardAfterMS = nil, nil
		}
		if _, err := room.Add(class.Call{Student: fmt.Sprintf("%s-%s-%d", class.Adjectives[i%len(class.Adjectives)], class.Animals[(i*7)%len(class.Animals)], 10+i%90), Call: c}); err != nil {
			t.Fatal(err)
		}
	}
	return class.ViewOf(room.Record(), room.Stats(), -1)
}

// dataOf returns the JSON a saved report embeds, as it is written there.
func dataOf(t *testing.T, page string) string {
	t.Helper()
	const open = `<script type="application/json" id="class-data">`
	if n := strings.Count(page, open); n != 1 {
		t.Fatalf("%d data elements in the report, want 1", n)
	}
	rest := page[strings.Index(page, open)+len(open):]
	end := strings.Index(rest, "</script>")
	if end < 0 {
		t.Fatal("the data element is not closed")
	}
	return rest[:end]
}

func writeReport(t *testing.T, v class.View) string {
	t.Helper()
	var buf bytes.Buffer
	if err := webpage.ClassReport(&buf, v); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

// TestClassReportIsOneFile checks the saved report's shape: one HTML
// document that loads nothing (its style and script inline, no link, no
// src), whose policy allows only its own script and style by their hashes,
// and which holds the view, marked static, as it was given.
func TestClassReportIsOneFile(t *testing.T) {
	v := classView(t, 12)
	page := writeReport(t, v)
	if !strings.HasPrefix(page, "<!doctype html>\n") || !strings.HasSuffix(strings.TrimSpace(page), "</html>") {
		t.Errorf("the report is not one HTML document: it begins %q and ends %q", page[:min(40, len(page))], page[max(0, len(page)-40):])
	}
	for _, tag := range []string{"<html", "<head>", "</head>", "<body>", "</body>", "<style>", "</style>", "<main>", "</main>"} {
		if n := strings.Count(page, tag); n != 1 {
			t.Errorf("%d %s in the report, want 1", n, tag)
		}
	}
	for _, bad := range []string{`<link rel="stylesheet"`, " src=", `href="/class.`, "<script src"} {
		if strings.Contains(page, bad) {
			t.Errorf("the report holds %q: it should load nothing", bad)
		}
	}
	if n := strings.Count(page, "<script"); n != 2 {
		t.Errorf("%d script elements, want 2: the data and the script", n)
	}
	if n := strings.Count(page, "</script>"); n != 2 {
		t.Errorf("%d </script>, want 2", n)
	}
	// The policy names the inline script and style by their hashes.
	script := between(t, page, "<script>", "</script>")
	style := between(t, page, "<style>", "</style>")
	for _, c := range []struct{ what, body string }{{"script-src", script}, {"style-src", style}} {
		sum := sha256.Sum256([]byte(c.body))
		want := c.what + " 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
		if !strings.Contains(page, want) {
			t.Errorf("the report's policy does not allow its %s by hash: want %q", c.what, want)
		}
	}
	var got class.View
	if err := json.Unmarshal([]byte(dataOf(t, page)), &got); err != nil {
		t.Fatal(err)
	}
	if !got.Static {
		t.Error("the embedded view is not marked static")
	}
	v.Static = true
	wantJSON, _ := json.Marshal(v)
	gotJSON, _ := json.Marshal(got)
	if !bytes.Equal(gotJSON, wantJSON) {
		t.Errorf("the embedded view does not read back as written:\ngot  %.300s\nwant %.300s", gotJSON, wantJSON)
	}
	if len(got.Calls) != 12 || got.Stats.Calls != 12 {
		t.Errorf("the report holds %d calls (stats %d), want 12", len(got.Calls), got.Stats.Calls)
	}
}

// TestClassReportEscapesItsData checks that no text in the view can end
// the data's element or start markup, whatever it holds: names are
// checked when calls are added, but the report does not rely on it.
func TestClassReportEscapesItsData(t *testing.T) {
	v := classView(t, 2)
	evil := []string{"</script><script>alert(1)</script>", "<!--", "</SCRIPT >", "a&b>c<d", "\u2028\u2029", `"quoted"`}
	for i, s := range evil {
		r := v.Calls[i%len(v.Calls)]
		r.Student = s
		r.Interruption.Text = s
		v.Calls = append(v.Calls, r)
	}
	v.Stats.Modes[0].Name = "</script><b>bold</b>"
	page := writeReport(t, v)
	data := dataOf(t, page)
	for _, c := range []string{"<", ">", "&", "\u2028", "\u2029"} {
		if strings.Contains(data, c) {
			t.Errorf("the embedded JSON holds %q unescaped", c)
		}
	}
	if n := strings.Count(strings.ToLower(page), "</script"); n != 2 {
		t.Errorf("%d </script in the report, want 2: a student's name closed the data", n)
	}
	var got class.View
	if err := json.Unmarshal([]byte(data), &got); err != nil {
		t.Fatal(err)
	}
	for i, s := range evil {
		if r := got.Calls[len(got.Calls)-len(evil)+i]; r.Student != s || r.Interruption.Text != s {
			t.Errorf("name %q read back as %q, %q", s, r.Student, r.Interruption.Text)
		}
	}
}

func between(t *testing.T, s, open, end string) string {
	t.Helper()
	i := strings.Index(s, open)
	if i < 0 {
		t.Fatalf("no %s", open)
	}
	rest := s[i+len(open):]
	j := strings.Index(rest, end)
	if j < 0 {
		t.Fatalf("no %s after %s", end, open)
	}
	return rest[:j]
}
