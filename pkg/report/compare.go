package report

import (
	"fmt"
	"strings"
)

// Comparison is what `duplexdemo compare --json` prints: both calls, played
// with the same script on the same link, and the measures that tell them
// apart side by side.
type Comparison struct {
	Walkie   Report    `json:"walkie"`
	Phone    Report    `json:"phone"`
	Measures []Measure `json:"comparison"`
}

// Measure is one row of the comparison. A value is a number, a string, or
// null when it did not happen.
type Measure struct {
	// Name is the measure's key, such as "interruption_waited_ms".
	Name string `json:"measure"`
	// Title is how the table names it.
	Title  string `json:"title"`
	Walkie any    `json:"walkie"`
	Phone  any    `json:"phone"`
}

// Compare sets two calls' reports side by side.
func Compare(walkie, phone Report) Comparison {
	var rows []Measure
	add := func(name, title string, get func(Report) any) {
		rows = append(rows, Measure{Name: name, Title: title, Walkie: get(walkie), Phone: get(phone)})
	}
	ms := func(v *float64) any {
		if v == nil {
			return nil
		}
		return *v
	}
	add("transport", "transport", func(r Report) any { return r.Transport })
	add("connections", "connections", func(r Report) any { return r.Summary.Connections })
	add("who_may_start", "who may start talking", func(r Report) any {
		if r.ServerMayStart {
			return "either side"
		}
		return "the client only"
	})
	add("interruption_waited_ms", "interruption waited", func(r Report) any { return ms(r.Summary.Interruption.WaitedMS) })
	add("interruption_heard_after_ms", "interruption heard after", func(r Report) any { return ms(r.Summary.Interruption.HeardAfterMS) })
	add("afterthought_waited_ms", "afterthought waited", func(r Report) any { return ms(r.Summary.Afterthought.WaitedMS) })
	add("afterthought_heard_after_ms", "afterthought heard after", func(r Report) any { return ms(r.Summary.Afterthought.HeardAfterMS) })
	add("client_waiting_ms", "grandchild waiting", func(r Report) any { return r.Summary.Client.WaitingMS })
	add("server_waiting_ms", "grandma waiting", func(r Report) any { return r.Summary.Server.WaitingMS })
	add("overlap_ms", "overlap", func(r Report) any { return r.Summary.OverlapMS })
	add("bytes_client_to_server", "bytes to server", func(r Report) any { return r.Summary.Bytes.ClientToServer })
	add("bytes_server_to_client", "bytes to client", func(r Report) any { return r.Summary.Bytes.ServerToClient })
	add("overhead_client_to_server_pct", "overhead to server", func(r Report) any {
		return overheadPct(r.Summary.Bytes.ClientToServer, r.Summary.PayloadBytes.ClientToServer)
	})
	add("overhead_server_to_client_pct", "overhead to client", func(r Report) any {
		return overheadPct(r.Summary.Bytes.ServerToClient, r.Summary.PayloadBytes.ServerToClient)
	})
	add("messages", "messages", func(r Report) any { return r.Summary.Messages })
	return Comparison{Walkie: walkie, Phone: phone, Measures: rows}
}

// overheadPct is the share of wire bytes that was not payload, in percent
// to one decimal, or null when nothing crossed.
func overheadPct(wire, payload int64) any {
	if wire == 0 {
		return nil
	}
	return float64(int64(float64(wire-payload)/float64(wire)*1000+0.5)) / 10
}

// ValueText formats one value of the measure called name by its unit, read
// off the name: "731 ms", "80%", "607 B", "never" for null, and a
// transport's first word ("HTTP/1.1").
func ValueText(name string, v any) string {
	switch x := v.(type) {
	case nil:
		if name == "requests" || name == "empty_replies" {
			return "–" // not a polling mode
		}
		return "never"
	case float64:
		switch {
		case strings.HasSuffix(name, "_ms"):
			return MSText(x)
		case strings.HasSuffix(name, "_pct"):
			return fmt.Sprintf("%.0f%%", x)
		}
		return fmt.Sprint(x)
	case int64:
		if strings.HasPrefix(name, "bytes") {
			return fmt.Sprintf("%d B", x)
		}
		return fmt.Sprint(x)
	case string:
		if name == "transport" {
			if f := strings.Fields(x); len(f) > 0 {
				return strings.TrimRight(f[0], ",")
			}
		}
		return x
	}
	return fmt.Sprint(v)
}

// Table sets any number of calls side by side: what `duplexdemo compare
// --all --json` prints. Calls are in the order they were played; each
// measure has a value per call, by mode.
type Table struct {
	Calls    []Report `json:"calls"`
	Measures []Row    `json:"comparison"`
}

// Row is one measure of a Table: a value per mode, null when it did not
// happen.
type Row struct {
	Name   string         `json:"measure"`
	Title  string         `json:"title"`
	Values map[string]any `json:"values"`
}

// CompareAll sets the calls side by side with the measures that tell the
// tricks apart: when the interruption and the afterthought were heard, the
// requests and connections they took, and the bytes and their overhead.
func CompareAll(calls []Report) Table {
	var rows []Row
	add := func(name, title string, get func(Report) any) {
		r := Row{Name: name, Title: title, Values: map[string]any{}}
		for _, c := range calls {
			r.Values[c.Mode] = get(c)
		}
		rows = append(rows, r)
	}
	ms := func(v *float64) any {
		if v == nil {
			return nil
		}
		return *v
	}
	add("transport", "transport", func(r Report) any { return r.Transport })
	add("interruption_heard_after_ms", "interruption heard after", func(r Report) any { return ms(r.Summary.Interruption.HeardAfterMS) })
	add("afterthought_heard_after_ms", "afterthought heard after", func(r Report) any { return ms(r.Summary.Afterthought.HeardAfterMS) })
	add("requests", "HTTP requests", func(r Report) any {
		if r.Summary.Requests > 0 {
			return r.Summary.Requests
		}
		return nil
	})
	add("empty_replies", "polls with nothing", func(r Report) any {
		if r.Mode == "poll" || r.Mode == "longpoll" {
			return r.Summary.EmptyReplies
		}
		return nil
	})
	add("connections", "connections", func(r Report) any { return r.Summary.Connections })
	add("bytes_client_to_server", "bytes to server", func(r Report) any { return r.Summary.Bytes.ClientToServer })
	add("bytes_server_to_client", "bytes to client", func(r Report) any { return r.Summary.Bytes.ServerToClient })
	add("overhead_pct", "overhead, both ways", func(r Report) any {
		return overheadPct(r.Summary.Bytes.ClientToServer+r.Summary.Bytes.ServerToClient, r.Summary.PayloadBytes.ClientToServer+r.Summary.PayloadBytes.ServerToClient)
	})
	return Table{Calls: calls, Measures: rows}
}
