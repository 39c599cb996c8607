package report

import (
	"fmt"
	"math"
	"slices"
	"strings"
)

// Table sets any number of calls side by side, played with the same
// script on the same link: what `duplexdemo compare --json` prints, for
// two calls or for all of them. Calls are in the order they were played;
// each measure has a value per call, by mode.
type Table struct {
	Calls    []Call    `json:"calls"`
	Measures []Measure `json:"comparison"`
}

// Measure is one row of a Table: a value per mode, each a number, a
// string, or null when it did not happen or the mode does not count it.
type Measure struct {
	// Name is the measure's key, such as "interruption_waited_ms".
	Name string `json:"measure"`
	// Title is how the table names it.
	Title string `json:"title"`
	// Unit is "ms", "B", "%" or "" for a plain count or a word.
	Unit   string         `json:"unit,omitempty"`
	Values map[string]any `json:"values"`
}

// Compare sets the calls side by side with the measures that tell them
// apart: who may start, how long the interruption and the afterthought
// waited and when they were heard, each side's waiting, the overlap, on a
// limited link its busy time each way and how long the interruption
// queued behind a photo, the
// bytes and their overhead, and every fact a mode keeps that earns a row
// (the requests it took, the polls that brought nothing), with null for a
// call whose mode does not keep it.
func Compare(calls ...Call) Table {
	var rows []Measure
	add := func(name, title, unit string, get func(Call) any) {
		m := Measure{Name: name, Title: title, Unit: unit, Values: map[string]any{}}
		for _, c := range calls {
			m.Values[c.Mode] = get(c)
		}
		rows = append(rows, m)
	}
	ms := func(v *float64) any {
		if v == nil {
			return nil
		}
		return *v
	}
	add("transport", "transport", "", func(r Call) any { return r.Transport })
	add("connections", "connections", "", func(r Call) any { return r.Summary.Connections })
	add("setup_round_trips", "set-up round trips", "", func(r Call) any { return setupRoundTrips(r) })
	add("who_may_start", "who may start talking", "", func(r Call) any {
		if r.ServerMayStart {
			return "either"
		}
		return "client"
	})
	for _, m := range MomentMeasures() {
		add(m.Key, m.Title, "ms", func(r Call) any { return ms(m.Get(r)) })
	}
	add("client_waiting_ms", "grandchild waiting", "ms", func(r Call) any { return r.Summary.Client.WaitingMS })
	add("server_waiting_ms", "grandma waiting", "ms", func(r Call) any { return r.Summary.Server.WaitingMS })
	add("overlap_ms", "overlap", "ms", func(r Call) any { return r.Summary.OverlapMS })
	// A limited link's rows, only when some call had one: a photo, and
	// the time each direction was occupied.
	if slices.ContainsFunc(calls, func(c Call) bool { return c.Summary.Photo != nil && c.Summary.Photo.InterruptionBehindPhotoMS != nil }) {
		add("interruption_behind_photo_ms", "interruption behind photo", "ms", func(r Call) any {
			if p := r.Summary.Photo; p != nil {
				return ms(p.InterruptionBehindPhotoMS)
			}
			return nil
		})
	}
	if slices.ContainsFunc(calls, func(c Call) bool { return c.Summary.LinkBusyMS != nil }) {
		busy := func(r Call, way func(*BusyMS) float64) any {
			if b := r.Summary.LinkBusyMS; b != nil {
				return way(b)
			}
			return nil
		}
		add("link_busy_client_to_server_ms", "link busy up", "ms", func(r Call) any {
			return busy(r, func(b *BusyMS) float64 { return b.ClientToServer })
		})
		add("link_busy_server_to_client_ms", "link busy down", "ms", func(r Call) any {
			return busy(r, func(b *BusyMS) float64 { return b.ServerToClient })
		})
	}
	var facts []Fact // every compared fact, in the order the calls name them
	for _, c := range calls {
		for _, f := range c.Summary.Facts {
			if f.Compared && !hasFact(facts, f.Key) {
				facts = append(facts, f)
			}
		}
	}
	for _, f := range facts {
		add(f.Key, f.Title, f.Unit, func(r Call) any {
			if v, ok := r.Summary.Fact(f.Key); ok {
				return v.Value
			}
			return nil
		})
	}
	add("bytes_client_to_server", "bytes to server", "B", func(r Call) any { return r.Summary.Bytes.ClientToServer })
	add("bytes_server_to_client", "bytes to client", "B", func(r Call) any { return r.Summary.Bytes.ServerToClient })
	add("overhead_client_to_server_pct", "overhead to server", "%", func(r Call) any {
		return overheadPct(r.Summary.Bytes.ClientToServer, r.Summary.PayloadBytes.ClientToServer)
	})
	add("overhead_server_to_client_pct", "overhead to client", "%", func(r Call) any {
		return overheadPct(r.Summary.Bytes.ServerToClient, r.Summary.PayloadBytes.ServerToClient)
	})
	add("overhead_bytes_per_line", "overhead per line", "B", func(r Call) any {
		s := r.Summary
		if s.Messages == 0 {
			return nil
		}
		over := s.Bytes.ClientToServer + s.Bytes.ServerToClient - s.PayloadBytes.ClientToServer - s.PayloadBytes.ServerToClient
		return float64(int64(float64(over)/float64(s.Messages) + 0.5))
	})
	add("messages", "messages", "", func(r Call) any { return r.Summary.Messages })
	return Table{Calls: calls, Measures: rows}
}

func hasFact(facts []Fact, key string) bool {
	for _, f := range facts {
		if f.Key == key {
			return true
		}
	}
	return false
}

// Only returns t with only the measures named, in t's order.
func (t Table) Only(names ...string) Table {
	out := Table{Calls: t.Calls}
	for _, m := range t.Measures {
		for _, n := range names {
			if m.Name == n {
				out.Measures = append(out.Measures, m)
			}
		}
	}
	return out
}

// setupRoundTrips is how many round trips of the link the grandchild's
// first line waited before it could be sent (the connection's set-up: a
// TCP handshake, an upgrade, a preface): its measured wait over the link's
// round trip, to the nearest whole one. A set-up is made of whole round
// trips; what a machine adds to them (its timers, its scheduling, a few
// ms) shows in the waiting rows, and would read here as "TCP takes 1.1
// round trips". null on a link with no latency, or when the first line
// was never sent.
func setupRoundTrips(r Call) any {
	rt := 2 * (r.LatencyMS + r.ServerLatencyMS)
	if rt <= 0 {
		return nil
	}
	var first *Event
	for i, e := range r.Events {
		if e.Side == "client" && e.Kind == "send" {
			first = &r.Events[i]
			break
		}
	}
	if first == nil || first.WaitedMS == nil {
		return nil
	}
	return math.Round(*first.WaitedMS / rt)
}

// overheadPct is the share of wire bytes that was not payload, in percent
// to one decimal, or null when nothing crossed.
func overheadPct(wire, payload int64) any {
	if wire == 0 {
		return nil
	}
	return float64(int64(float64(wire-payload)/float64(wire)*1000+0.5)) / 10
}

// ValueText formats one value of measure m by its unit: "731 ms", "80%",
// "607 B", a transport's first word ("HTTP/1.1"); null is "never" for a
// time that did not happen, and "–" (or dash) for a count the mode does
// not keep.
func (m Measure) ValueText(v any, dash string) string {
	switch x := v.(type) {
	case nil:
		if m.Unit == "ms" {
			return "never"
		}
		return dash
	case float64:
		return UnitText(x, m.Unit)
	case int:
		return UnitText(float64(x), m.Unit)
	case int64:
		return UnitText(float64(x), m.Unit)
	case string:
		if m.Name == "transport" {
			if f := strings.Fields(x); len(f) > 0 {
				return strings.TrimRight(f[0], ",")
			}
		}
		return x
	}
	return fmt.Sprint(v)
}
