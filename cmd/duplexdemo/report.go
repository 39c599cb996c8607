package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/duplexdemo/duplexdemo/pkg/class"
	"github.com/duplexdemo/duplexdemo/pkg/classroom/webpage"
	"github.com/duplexdemo/duplexdemo/pkg/modes"
	"github.com/duplexdemo/duplexdemo/pkg/result"
)

// reportOptions are the flags of the report command.
type reportOptions struct {
	// HTML, CSV and JSON are the files to write the record to; CSV and
	// JSON may be "-" for standard output.
	HTML, CSV, JSON string
	// Experiment is the experiment of a record file to report; 0 means
	// its last (--experiment).
	Experiment int
}

// newCmdReport builds the report command: a class record, after class.
func newCmdReport(deps *env) *cobra.Command {
	o := &reportOptions{}
	cmd := &cobra.Command{
		Use:   "report RECORD",
		Short: "Sum up a class experiment from its record, or turn it into a page for after class",
		Long: `report reads a class experiment's record, as the teacher's view of
duplexdemo serve downloads it (class-experiment-1.json) or as serve
--record keeps it (its last experiment, or --experiment N), and prints for
each mode how long the interruption and the afterthought waited and how
long after they were wanted they were heard: the median, the range, and
the calls in which they never were. A mode's calls that took more than one
connection (a browser's walkie opens a second to get a word in) are set
apart.

--html writes the teacher's view of the record as one self-contained page,
to open in any browser or print, with no server. --csv and --json write the
record again, one row per call or the whole record; - prints to standard
output. RECORD - reads standard input.`,
		Example: `  duplexdemo report class-experiment-1.json
  duplexdemo report class-experiment-1.json --html class.html
  duplexdemo report class.jsonl --csv - | column -s, -t`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return &usageError{fmt.Errorf("report takes one record, such as class-experiment-1.json (the teacher's view downloads it); got %d arguments", len(args))}
			}
			return nil
		},
		RunE: func(_ *cobra.Command, args []string) error {
			return runReport(deps, o, args[0])
		},
	}
	fs := cmd.Flags()
	fs.Var(&pathValue{&o.HTML}, "html", "write the teacher's view of the record as one self-contained page to FILE (such as class.html), for a browser or paper")
	fs.Var(&pathValue{&o.CSV}, "csv", "write the record as CSV, one row per call, to FILE (- for standard output)")
	fs.Var(&pathValue{&o.JSON}, "json", "write the record as one JSON document to FILE (- for standard output)")
	fs.Var(&intValue{&o.Experiment, 1, 1 << 30}, "experiment", "the experiment of a serve --record file to report, by its number (default its last)")
	return cmd
}

func runReport(deps *env, o *reportOptions, path string) error {
	if o.CSV == "-" && o.JSON == "-" {
		return &usageError{errors.New("--csv - and --json - both want standard output: write one of them to a file")}
	}
	if o.HTML == "-" {
		return &usageError{errors.New("--html -: want a file name, such as class.html")}
	}
	var in io.Reader = deps.In
	name := "standard input"
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return fmt.Errorf("%s: %w", path, errors.Unwrap(err))
		}
		defer f.Close()
		in, name = f, path
	}
	all, torn, err := class.ReadAll(in)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	rec := all[len(all)-1]
	if o.Experiment > 0 {
		i := slices.IndexFunc(all, func(r *class.Record) bool { return r.Experiment.Number == o.Experiment })
		if i < 0 {
			return &usageError{fmt.Errorf("--experiment %d: %s holds %s", o.Experiment, name, experiments(all))}
		}
		rec = all[i]
	} else if len(all) > 1 {
		fmt.Fprintf(deps.ErrOut, "duplexdemo: %s holds %s; this is experiment %d (--experiment N for another)\n", name, experiments(all), rec.Experiment.Number)
	}
	if torn > 0 {
		fmt.Fprintf(deps.ErrOut, "duplexdemo: warning: %s: its last line was cut short and is left out\n", name)
	}
	order := recordModes(rec)
	stats := rec.Stats(order)

	ex := &exporter{}
	defer ex.discard()
	seen := map[string]string{}
	files := []*export{
		{flag: "html", path: o.HTML, done: "wrote the class report to %s: open it in a browser, or print it",
			write: func(w io.Writer, _ ...*result.Result) error {
				return webpage.ClassReport(w, class.ViewOf(*rec, stats, -1))
			}},
		{flag: "csv", path: o.CSV, done: "wrote the record as CSV to %s",
			write: func(w io.Writer, _ ...*result.Result) error { return rec.WriteCSV(w) }},
		{flag: "json", path: o.JSON, done: "wrote the record as JSON to %s",
			write: func(w io.Writer, _ ...*result.Result) error { return rec.WriteJSON(w) }},
	}
	var stdout *export
	for _, e := range files {
		switch e.path {
		case "":
		case "-":
			stdout = e
		default:
			if err := ex.open(e, seen); err != nil {
				return err
			}
		}
	}
	var b bytes.Buffer
	if stdout != nil {
		if err := stdout.write(&b); err != nil {
			return err
		}
	} else {
		writeClassSummary(&b, stats)
	}
	if _, err := deps.Out.Write(b.Bytes()); err != nil {
		return fmt.Errorf("printing: %w", err)
	}
	return ex.finish(deps.Out, deps.ErrOut)
}

// experiments says which experiments a record holds.
func experiments(all []*class.Record) string {
	if len(all) == 1 {
		return fmt.Sprintf("experiment %d only", all[0].Experiment.Number)
	}
	var n []string
	for _, r := range all {
		n = append(n, strconv.Itoa(r.Experiment.Number))
	}
	return "experiments " + strings.Join(n[:len(n)-1], ", ") + " and " + n[len(n)-1]
}

// recordModes returns the modes of a record's calls, in the registry's
// order (Summarize puts any the registry does not know after them).
func recordModes(rec *class.Record) []result.Mode {
	var out []result.Mode
	for _, m := range modes.All() {
		if slices.ContainsFunc(rec.Calls, func(c class.Call) bool { return c.Mode == m.Key }) {
			out = append(out, m.Mode)
		}
	}
	return out
}

// writeClassSummary prints an experiment's numbers, a block per group of
// calls, in plain ASCII within 80 columns.
func writeClassSummary(w io.Writer, st class.Stats) {
	calls := func(n int) string {
		if n == 1 {
			return "1 call"
		}
		return fmt.Sprintf("%d calls", n)
	}
	fmt.Fprintf(w, "Class experiment %d, started %s: %s\n", st.Experiment.Number, st.Experiment.Started.UTC().Format("2006-01-02 15:04 UTC"), calls(st.Calls))
	if st.Calls == 0 {
		fmt.Fprintln(w, "No call was reported in it.")
		return
	}
	for _, m := range st.Modes {
		if m.Calls == 0 {
			continue // a group no call of this record is in: nothing to print
		}
		fmt.Fprintf(w, "\n%s (%s): %s\n", m.Mode, m.Name, calls(m.Calls))
		for _, d := range m.Measures {
			var parts []string
			if d.Median != nil {
				parts = append(parts, "median "+result.MSText(*d.Median))
				if result.MSText(*d.Min) != result.MSText(*d.Max) {
					parts = append(parts, fmt.Sprintf("%s to %s", strings.TrimSuffix(result.MSText(*d.Min), " ms"), result.MSText(*d.Max)))
				}
			}
			if d.Never > 0 {
				parts = append(parts, fmt.Sprintf("never in %s", calls(d.Never)))
			}
			fmt.Fprintf(w, "  %-26s %s\n", d.Title, strings.Join(parts, ", "))
		}
	}
	fmt.Fprintln(w, "\nTimes are ms since the grandchild wanted to say the line; --html draws every call.")
}
