package webtransport

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/duplexdemo/duplexdemo/pkg/call"
	"github.com/duplexdemo/duplexdemo/pkg/wire"
)

// maxInfo bounds the answer at InfoPath, in bytes.
const maxInfo = 4 << 10

// elsewhere is the grandchild's side of a call to a grandma elsewhere
// (duplexdemo serve). Before she calls, she asks at InfoPath, over HTTP on
// the server's TCP port, where the WebTransport is and which certificate
// is grandma's, as a page is loaded before it calls; after the call she
// fetches grandma's record at RecordPath, the same way. Neither is part of
// the call, whose one connection is QUIC's, and neither side counts them:
// they go on connections of their own, outside the call's emulated link
// (call.RemoteRoles.RecordApart).
type elsewhere struct {
	base, callID string
	query        url.Values   // the script and the call's id, for the session's CONNECT
	client       *http.Client // before and after the call, off its link
	found        target       // where the look-up found grandma
	record       []byte
}

// apartWait bounds each request apart from the call.
const apartWait = 10 * time.Second

// remote sets up the grandchild's side of a call to grandma at base.
func remote(s *call.Session, base string) call.RemoteRoles {
	id := wire.NewCallID()
	q := wire.ScriptQuery(s.Script)
	q.Set(wire.QueryCall, id)
	r := &elsewhere{
		base:   base,
		callID: id,
		query:  q,
		client: &http.Client{Timeout: apartWait, Transport: &http.Transport{DisableCompression: true, DisableKeepAlives: true}},
	}
	kid := &grandchild{
		script:    s.Script,
		rec:       s.Rec,
		session:   s,
		reach:     func(context.Context) (target, error) { return r.found, nil },
		readWait:  s.Silence(readWait),
		closeWait: remoteSlack * (closeWait + s.RoundTrip()),
		handshake: remoteSlack * (handshakeTimeout + 2*s.RoundTrip()),
	}
	return call.RemoteRoles{
		Prepare: func(ctx context.Context) (err error) {
			r.found, err = r.reach(ctx)
			return err
		},
		Grandchild: func(ctx context.Context) error {
			if err := kid.call(ctx); err != nil {
				return err
			}
			return r.fetchRecord(ctx)
		},
		Record:      func() []byte { return r.record },
		RecordApart: true,
		Facts:       kid.facts,
		CallID:      id,
	}
}

// get asks grandma for path, naming the call, and returns her answer,
// checked to be hers.
func (r *elsewhere) get(ctx context.Context, path string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.base+path+"?"+url.Values{wire.QueryCall: {r.callID}}.Encode(), nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set(wire.HeaderVersion, strconv.Itoa(wire.Version))
	resp, err := r.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("asking grandma at %s for her WebTransport: %w", r.base, err)
	}
	if err := wire.CheckVersion(resp.Header.Get(wire.HeaderVersion), "server"); err != nil {
		resp.Body.Close()
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		b, _ := io.ReadAll(io.LimitReader(resp.Body, call.MaxLine))
		why, _, _ := strings.Cut(strings.TrimSpace(string(b)), "\n")
		return nil, fmt.Errorf("grandma at %s answered %s at %s: %s", r.base, resp.Status, path, why)
	}
	return resp, nil
}

// reach asks grandma where her WebTransport is and which certificate is
// hers.
func (r *elsewhere) reach(ctx context.Context) (target, error) {
	resp, err := r.get(ctx, InfoPath)
	if err != nil {
		return target{}, err
	}
	defer resp.Body.Close()
	var info Info
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxInfo+1))
	if err == nil && len(body) > maxInfo {
		err = fmt.Errorf("over %d bytes", maxInfo)
	}
	if err == nil {
		err = json.Unmarshal(body, &info)
	}
	if err != nil {
		return target{}, fmt.Errorf("grandma's answer at %s: %w", InfoPath, err)
	}
	u, err := url.Parse(info.URL)
	if err != nil || u.Scheme != "https" || u.Port() == "" || u.Path != Path {
		return target{}, fmt.Errorf("grandma's WebTransport address %q: want https://host:port%s", info.URL, Path)
	}
	addr, err := net.ResolveUDPAddr("udp", u.Host)
	if err != nil {
		return target{}, fmt.Errorf("grandma's WebTransport address %q: %w", info.URL, err)
	}
	tlsConf, err := pinnedHashes(info.CertificateHashes, time.Now)
	if err != nil {
		return target{}, err
	}
	tlsConf.ServerName = u.Hostname()
	u.RawQuery = r.query.Encode()
	return target{addr: addr, url: u.String(), tls: tlsConf}, nil
}

// fetchRecord fetches grandma's record of the call, once it is over.
func (r *elsewhere) fetchRecord(ctx context.Context) error {
	resp, err := r.get(ctx, RecordPath)
	if err != nil {
		return fmt.Errorf("fetching grandma's record of the call: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, wire.MaxRecord+1))
	switch {
	case err != nil:
		return fmt.Errorf("fetching grandma's record of the call: %w", err)
	case len(b) > wire.MaxRecord:
		return fmt.Errorf("grandma's record of the call is over %d bytes", wire.MaxRecord)
	case !bytes.HasPrefix(b, []byte(wire.RecordPrefix)):
		return errors.New("grandma's answer at " + RecordPath + " is not her record of the call")
	}
	r.record = b
	return nil
}
