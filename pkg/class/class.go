// Package class is the class experiment: every student's call to a
// grandma served by duplexdemo serve, kept side by side. A Room holds the
// current experiment's calls (in memory, and in a file when asked), tells
// those watching it of each new call, and starts a new experiment when the
// teacher says so. Stats sets out, for each mode, the distribution of the
// four numbers that tell the modes apart; Record is what the teacher
// downloads, as JSON or CSV, and what duplexdemo report reads back.
//
// Students are anonymous: a call carries only a short random name (see
// NewName), never anything a student typed.
package class

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/duplexdemo/duplexdemo/pkg/result"
	"github.com/duplexdemo/duplexdemo/pkg/view/report"
)

// Format and Version name the class record's shape, in its JSON.
const (
	Format  = "duplexdemo-class"
	Version = 1
)

// MaxCalls bounds the calls one experiment keeps: a class of a few dozen
// plays a few hundred; past it the experiment is full and says so.
const MaxCalls = 20000

// Call is one student's call, as the class record keeps it: the same
// object that --json prints for a call, with the student's name and the
// call's number in the experiment.
type Call struct {
	// ID numbers the call in its experiment, from 1, in the order the
	// calls were reported.
	ID int `json:"id"`
	// Student is the caller's anonymous name, such as "calm-otter-42".
	Student string `json:"student"`
	// Ended is when grandma's side of the call ended, on the server's
	// wall clock, to the second.
	Ended time.Time `json:"ended"`
	// Script is the timing of the script the call played; Variant how it
	// differs from the experiment's ("" the same, "at 4x speed"), for the
	// calls to be set apart.
	Script  *Script `json:"script,omitempty"`
	Variant string  `json:"variant,omitempty"`
	report.Call
}

// RoundTripMS is the fastest line up plus the fastest line down of the
// call, as the alignment of the two clocks measured them: the student's
// own network and the emulated link together. nil for a call with no
// alignment.
func (c Call) RoundTripMS() *float64 {
	if c.ClockAlignment == nil {
		return nil
	}
	v := 2 * c.ClockAlignment.UncertaintyMS
	return &v
}

// Experiment is one run of the class experiment: it starts when serve
// starts with no record, and again whenever the teacher starts a new one.
type Experiment struct {
	Number  int       `json:"number"`
	Started time.Time `json:"started"`
	// Script is the class's script: the one the page plays.
	Script *Script `json:"script,omitempty"`
}

// Record is the class record: one experiment's calls, oldest first. It is
// what the teacher's view downloads as JSON, and what duplexdemo report
// reads.
type Record struct {
	Format     string     `json:"format"`
	Version    int        `json:"version"`
	Experiment Experiment `json:"experiment"`
	Calls      []Call     `json:"calls"`
}

// Stats returns the record's distributions, modes in order first (see
// Summarize).
func (r *Record) Stats(order []result.Mode) Stats { return Summarize(r.Experiment, r.Calls, order) }

// WriteJSON writes the record as one indented JSON document.
func (r *Record) WriteJSON(w io.Writer) error {
	out := *r
	out.Format, out.Version = Format, Version
	if out.Calls == nil {
		out.Calls = []Call{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

// line is one line of a record file: the start of an experiment, or a call
// in it.
type line struct {
	Format     string      `json:"format,omitempty"`
	Version    int         `json:"version,omitempty"`
	Experiment *Experiment `json:"experiment,omitempty"`
	Call       *Call       `json:"call,omitempty"`
}

// Read reads a class record: the JSON document the teacher's view
// downloads (Record.WriteJSON), or the file serve --record keeps (one JSON
// object a line: each experiment's start, then its calls). From a file it
// returns the last experiment, and says how many torn lines at its end (a
// write cut short by a power cut) it left out. The error says what is
// wrong, and where.
func Read(r io.Reader) (rec *Record, torn int, err error) {
	all, torn, err := ReadAll(r)
	if err != nil {
		return nil, 0, err
	}
	return all[len(all)-1], torn, nil
}

// ReadAll is Read, returning every experiment a record file holds, oldest
// first (a document holds one).
func ReadAll(r io.Reader) (recs []*Record, torn int, err error) {
	data, err := io.ReadAll(io.LimitReader(r, maxFile+1))
	if err != nil {
		return nil, 0, err
	}
	if len(data) > maxFile {
		return nil, 0, fmt.Errorf("the record is over %d MB, more than any class plays", maxFile>>20)
	}
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 {
		return nil, 0, errors.New("the record is empty: want a class record, as the teacher's view downloads it (class-experiment-1.json) or serve --record keeps it")
	}
	if trimmed[0] != '{' {
		return nil, 0, errors.New("not a class record: want the JSON the teacher's view downloads (class-experiment-1.json) or the file serve --record keeps")
	}
	if !bytes.Contains(trimmed, []byte("\n")) || bytes.HasPrefix(trimmed, []byte("{\n")) {
		var doc Record
		dec := json.NewDecoder(bytes.NewReader(trimmed))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&doc); err != nil {
			return nil, 0, fmt.Errorf("not a class record (want the JSON the teacher's view downloads, not one call's --json): %v", err)
		}
		if err := doc.check(); err != nil {
			return nil, 0, err
		}
		return []*Record{&doc}, 0, nil
	}
	recs, torn, _, err = readLines(data)
	return recs, torn, err
}

// maxFile bounds a record read back, in bytes.
const maxFile = 512 << 20

func (r *Record) check() error {
	if r.Format != Format {
		return fmt.Errorf("not a class record: its format is %q, want %q", r.Format, Format)
	}
	if r.Version != Version {
		return fmt.Errorf("a class record of version %d; this duplexdemo reads version %d", r.Version, Version)
	}
	for i, c := range r.Calls {
		if err := c.check(); err != nil {
			return fmt.Errorf("call %d of the record: %w", i+1, err)
		}
	}
	return nil
}

func (c *Call) check() error {
	if c.Mode == "" {
		return errors.New("it names no mode")
	}
	if !ValidName(c.Student) {
		return fmt.Errorf("its student %q is not a name duplexdemo gives", c.Student)
	}
	return nil
}

// readLines reads a record file, every experiment in it. good is the
// length of data up to the end of its last whole line.
func readLines(data []byte) (recs []*Record, torn, good int, err error) {
	var rec *Record
	lines := strings.SplitAfter(string(data), "\n")
	for i, text := range lines {
		if strings.TrimSpace(text) == "" {
			good += len(text)
			continue
		}
		var l line
		dec := json.NewDecoder(strings.NewReader(text))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&l); err != nil || !strings.HasSuffix(text, "\n") {
			if rest(lines[i+1:]) {
				torn++ // the last line, cut short
				continue
			}
			return nil, 0, 0, fmt.Errorf("line %d of the record: %v", i+1, err)
		}
		good += len(text)
		switch {
		case l.Experiment != nil:
			if l.Format != Format || l.Version != Version {
				return nil, 0, 0, fmt.Errorf("line %d of the record: format %q version %d, want %q version %d", i+1, l.Format, l.Version, Format, Version)
			}
			rec = &Record{Format: Format, Version: Version, Experiment: *l.Experiment}
			recs = append(recs, rec)
		case l.Call != nil:
			if rec == nil {
				return nil, 0, 0, fmt.Errorf("line %d of the record: a call before any experiment began (is it a --record file?)", i+1)
			}
			if err := l.Call.check(); err != nil {
				return nil, 0, 0, fmt.Errorf("line %d of the record: %w", i+1, err)
			}
			rec.Calls = append(rec.Calls, *l.Call)
		default:
			return nil, 0, 0, fmt.Errorf("line %d of the record: neither an experiment nor a call", i+1)
		}
	}
	if len(recs) == 0 {
		return nil, 0, 0, errors.New("the record holds no experiment")
	}
	return recs, torn, good, nil
}

// rest says whether only blank lines follow.
func rest(lines []string) bool {
	for _, l := range lines {
		if strings.TrimSpace(l) != "" {
			return false
		}
	}
	return true
}
