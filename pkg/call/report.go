package call

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/duplexdemo/duplexdemo/pkg/timeline"
	"github.com/duplexdemo/duplexdemo/pkg/wire"
)

// ReportWait bounds a report to the class, from dialling to its answer.
const ReportWait = 10 * time.Second

// ReportError says a call to a grandma elsewhere went well, but reporting
// it to her class experiment did not: the call's result stands.
type ReportError struct {
	Server string
	Err    error
}

func (e *ReportError) Error() string {
	return fmt.Sprintf("the call went well, but it could not be reported to the class at %s: %v", e.Server, e.Err)
}

func (e *ReportError) Unwrap() error { return e.Err }

// report reports a call to the class experiment of grandma at base (a
// POST of rep to wire.ReportPath), with the grandchild's own record of it,
// and returns the call's number there. It does not go through the
// emulated link: it is not part of the call.
func report(ctx context.Context, cfg Config, base string, rep wire.Report, own *timeline.Timeline, f wire.Facts) (int, error) {
	fail := func(err error) (int, error) { return 0, &ReportError{Server: base, Err: err} }
	if rep.Call == "" {
		return fail(errors.New("this mode does not name its calls"))
	}
	var err error
	if rep.Record, err = wire.EncodeSideRecord(own, timeline.Client, f); err != nil {
		return fail(err)
	}
	body, err := json.Marshal(rep)
	if err != nil {
		return fail(err)
	}
	ctx, cancel := context.WithTimeout(ctx, ReportWait)
	defer cancel()
	dial := cfg.Dial
	if dial == nil {
		dial = (&net.Dialer{}).DialContext
	}
	tr := &http.Transport{DialContext: dial, DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+wire.ReportPath, bytes.NewReader(body))
	if err != nil {
		return fail(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(wire.HeaderVersion, fmt.Sprint(wire.Version))
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		return fail(err)
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	if err != nil {
		return fail(err)
	}
	if resp.StatusCode != http.StatusCreated {
		return fail(fmt.Errorf("grandma answered %s: %s", resp.Status, strings.TrimSpace(string(answer))))
	}
	var got struct {
		ID int `json:"id"`
	}
	if err := json.Unmarshal(answer, &got); err != nil || got.ID <= 0 {
		return fail(fmt.Errorf("grandma's answer names no call: %q", answer))
	}
	return got.ID, nil
}
