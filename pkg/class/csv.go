package class

import (
	"encoding/csv"
	"io"
	"strconv"
	"time"

	"github.com/duplexdemo/duplexdemo/pkg/view/report"
)

// CSVHeader is the CSV's first row: one column per number a call has.
func CSVHeader() []string {
	h := []string{"id", "student", "mode", "variant", "ended", "latency_ms", "server_latency_ms", "round_trip_ms", "connections", "pace_ms"}
	for _, m := range report.MomentMeasures() {
		h = append(h, m.Key)
	}
	return append(h, "bytes_client_to_server", "bytes_server_to_client", "duration_ms")
}

// WriteCSV writes the record as CSV, one row per call under CSVHeader:
// times in ms, bytes as grandma's side counted them, and an empty cell
// for what never happened.
func (r *Record) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(CSVHeader()); err != nil {
		return err
	}
	num := func(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }
	ptr := func(v *float64) string {
		if v == nil {
			return ""
		}
		return num(*v)
	}
	for _, c := range r.Calls {
		pace := ""
		if c.Script != nil {
			pace = num(c.Script.PaceMS)
		}
		row := []string{strconv.Itoa(c.ID), c.Student, c.Mode, c.Variant, c.Ended.UTC().Format(time.RFC3339),
			num(c.LatencyMS), num(c.ServerLatencyMS), ptr(c.RoundTripMS()), strconv.Itoa(c.Summary.Connections), pace}
		for _, m := range report.MomentMeasures() {
			row = append(row, ptr(m.Get(c.Call)))
		}
		row = append(row, strconv.FormatInt(c.Summary.Bytes.ClientToServer, 10), strconv.FormatInt(c.Summary.Bytes.ServerToClient, 10), num(c.DurationMS))
		if err := cw.Write(row); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}
