package htmlreport

import (
	"html/template"
	"math/rand/v2"
	"strings"
	"testing"
)

// naiveRows is the placement waitRows must agree with: each extent on the
// first row where it overlaps nothing.
func naiveRows(extents []box) []int {
	var rows [][]box
	var out []int
	for _, e := range extents {
		row := len(rows)
		for r, placed := range rows {
			if !overlapsAny(e, placed) {
				row = r
				break
			}
		}
		if row == len(rows) {
			rows = append(rows, nil)
		}
		rows[row] = append(rows[row], e)
		out = append(out, row)
	}
	return out
}

// TestWaitRows checks the fast placement against the naive one, for waits
// left to right (the fast path), out of order (the fallback), touching
// and tied.
func TestWaitRows(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for trial := range 300 {
		n := 1 + rng.IntN(400)
		extents := make([]box, n)
		x := 0.0
		for i := range extents {
			switch {
			case trial%3 == 0: // out of order now and then
				x = rng.Float64() * 1000
			case rng.IntN(4) > 0:
				x += float64(rng.IntN(5)) // ties and small steps
			}
			w := float64(1 + rng.IntN(60))
			if rng.IntN(5) == 0 {
				w = float64(rng.IntN(3)) * 4 // touching its neighbour exactly
			}
			extents[i] = box{x, 0, x + w + 0.5, 1}
		}
		want := naiveRows(extents)
		var r waitRows
		for i, e := range extents {
			if got := r.place(e); got != want[i] {
				t.Fatalf("trial %d: extent %d (%v) on row %d, want %d", trial, i, e, got, want[i])
			}
		}
	}
}

// TestEscape checks that the figure's writer escapes text exactly as
// html/template does, in text, a title and an attribute value.
func TestEscape(t *testing.T) {
	tmpl := template.Must(template.New("").Parse(`<svg><text x="{{.}}">{{.}}</text><title>{{.}}</title></svg>`))
	for _, s := range []string{"", "plain", `<a href="x">'b' & c+d</a>`, "nul\x00here", "é ü 日本 \xff\xfe bad", "&amp; &#34; ++", "\u2028\u2029 –"} {
		var want strings.Builder
		if err := tmpl.Execute(&want, s); err != nil {
			t.Fatal(err)
		}
		var w svgWriter
		w.raw(`<svg><text x="`)
		w.escape(s)
		w.raw(`">`)
		w.escape(s)
		w.raw(`</text><title>`)
		w.escape(s)
		w.raw(`</title></svg>`)
		if got := w.b.String(); got != want.String() {
			t.Errorf("escaping %q:\n got %q\nwant %q", s, got, want.String())
		}
	}
}
