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
// is grandma's, as a page is loaded before it calls: that look-up is not
// part of the call, and neither side counts it. After the call she fetches
// grandma's record at RecordPath, on a connection through the call's
// emulated link, which both sides count, the record's answer left out.
type elsewhere struct {
	base, callID string
	query        url.Values // the script and the call's id, for the session's CONNECT
	lookup       *http.Client // before the call, off its link
	client       *http.Client // the record's fetch, through the link
	found        target       // where the look-up found grandma
	record       []byte
}

// lookupWait bounds the look-up before the call.
const lookupWait = 10 * time.Second

// remote sets up the grandchild's side of a call to grandma at base.
func remote(s *call.Session, base string) call.RemoteRoles {
	id := wire.NewCallID()
	q := wire.ScriptQuery(s.Script)
	q.Set(wire.QueryCall, id)
	r := &elsewhere{
		base:   base,
		callID: id,
		query:  q,
		lookup: &http.Client{Timeout: lookupWait, Transport: &http.Transport{DisableCompression: true, DisableKeepAlives: true}},
		client: &http.Client{Transport: &http.Transport{
			DialContext:           s.DialContext,
			MaxConnsPerHost:       1,
			MaxIdleConnsPerHost:   1,
			DisableCompression:    true,
			IdleConnTimeout:       s.Silence(call.IdleTimeout),
			ResponseHeaderTimeout: remoteSlack * (handshakeTimeout + 2*s.RoundTrip()),
		}},
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
			defer r.client.CloseIdleConnections()
			if err := kid.call(ctx); err != nil {
				return err
			}
			return r.fetchRecord(ctx)
		},
		Record:   func() []byte { return r.record },
		HandOver: newHandOverWatch,
		Facts:    kid.facts,
		CallID:   id,
	}
}

// get asks grandma for path, naming the call, and returns her answer,
// checked to be hers.
func (r *elsewhere) get(ctx context.Context, client *http.Client, path string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.base+path+"?"+url.Values{wire.QueryCall: {r.callID}}.Encode(), nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set(wire.HeaderVersion, strconv.Itoa(wire.Version))
	resp, err := client.Do(req)
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
	resp, err := r.get(ctx, r.lookup, InfoPath)
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
	resp, err := r.get(ctx, r.client, RecordPath)
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

// handOverWatch finds grandma's record of the call among the bytes that
// arrive on one of the grandchild's HTTP/1.1 connections, as they cross
// the link (call.HandOver): it follows her answers one by one (a status
// line and headers up to the blank line, then Content-Length bytes of
// body; grandma sends every answer here with one) and takes the whole of
// the first answer whose body starts with wire.RecordPrefix, head
// included, from its first byte to its last. It keeps the header line
// under way (at most call.MaxHeaderBytes) and nothing of a body.
type handOverWatch struct {
	seen  int64 // bytes given to Write so far
	start int64 // where the answer under way began
	line  []byte
	// length is the answer's Content-Length, -1 until its header comes;
	// left is what is still to come of its body, once its head is over.
	length, left int64
	inBody       bool
	matched      int // how much of the prefix the body matched; -1 once it did not
	handed       int64
	done         bool
}

func newHandOverWatch() call.HandOver { return &handOverWatch{length: -1} }

func (w *handOverWatch) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 && !w.done {
		if !w.inBody {
			c := p[0]
			p, w.seen = p[1:], w.seen+1
			if c != '\n' {
				if len(w.line) >= call.MaxHeaderBytes {
					w.done, w.handed = true, 0 // not an answer of grandma's: give up
				}
				w.line = append(w.line, c)
				continue
			}
			line := strings.TrimSuffix(string(w.line), "\r")
			w.line = w.line[:0]
			if line != "" {
				if name, v, ok := strings.Cut(line, ":"); ok && strings.EqualFold(strings.TrimSpace(name), "Content-Length") {
					if l, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64); err == nil && l >= 0 {
						w.length = l
					}
				}
				continue
			}
			if w.length < 0 { // no length: not an answer this watch can follow
				w.done, w.handed = true, 0
				break
			}
			w.inBody, w.left, w.matched = true, w.length, 0
			if w.left == 0 {
				w.answerEnd()
			}
			continue
		}
		k := int(min(w.left, int64(len(p))))
		for _, c := range p[:k] {
			if w.matched < 0 || w.matched == len(wire.RecordPrefix) {
				break
			}
			if c == wire.RecordPrefix[w.matched] {
				w.matched++
			} else {
				w.matched = -1
			}
		}
		p, w.seen, w.left = p[k:], w.seen+int64(k), w.left-int64(k)
		if w.left == 0 {
			w.answerEnd()
		}
	}
	return n, nil
}

// answerEnd is called when an answer's last byte has come.
func (w *handOverWatch) answerEnd() {
	if w.matched == len(wire.RecordPrefix) {
		w.handed, w.done = w.seen-w.start, true
		return
	}
	w.start, w.length, w.inBody = w.seen, -1, false
}

// Bytes returns the bytes of the answer that carried her record, once its
// last byte has come; 0 before, or if it did not come on this connection.
func (w *handOverWatch) Bytes() int64 {
	if !w.done {
		return 0
	}
	return w.handed
}
