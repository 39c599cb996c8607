package classroom

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"time"

	wt "github.com/quic-go/webtransport-go"

	"github.com/duplexdemo/duplexdemo/pkg/link"
	"github.com/duplexdemo/duplexdemo/pkg/timeline"
	"github.com/duplexdemo/duplexdemo/pkg/webtransport"
	"github.com/duplexdemo/duplexdemo/pkg/wire"
)

// WebTransport's limits.
const (
	// RecordWait bounds how long grandma keeps a WebTransport call's record
	// for its grandchild to fetch (webtransport.RecordPath) once her
	// farewell is said, and how long a fetch that comes early waits for it.
	RecordWait = 5 * time.Second
	// SetUpWait bounds how long a WebTransport call named at
	// webtransport.InfoPath is awaited at the UDP port.
	SetUpWait = time.Minute
	// maxUDPPeers bounds the UDP peers counted at once: past it, a new
	// peer's datagrams still pass, uncounted (its call logs 0 bytes).
	maxUDPPeers = 4096
)

// webTransport is the server's WebTransport: HTTP/3 on the UDP socket of
// Config.Packet, with a certificate made in memory when Serve starts.
type webTransport struct {
	certs *webtransport.Certificates
	srv   *wt.Server
	meter *udpMeter
	port  int

	mu       sync.Mutex
	stopping bool
	handlers sync.WaitGroup
	calls    map[string]*wtCall // by the call's id
}

// wtCall is one WebTransport call as the TCP side sees it: the requests
// that set it up (webtransport.InfoPath) and fetch its record
// (webtransport.RecordPath), which name it, and the record.
type wtCall struct {
	created time.Time
	// recorded is closed once the record is kept, or the call is over
	// without one; fetched gets a token when the record's answer has gone
	// out in full.
	recorded chan struct{}
	fetched  chan struct{}

	mu     sync.Mutex
	begun  bool
	record []byte
	over   bool
}

// keep keeps the record, or with nil says there will be none.
func (c *wtCall) keep(record []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.over {
		return
	}
	c.over, c.record = true, record
	close(c.recorded)
}

// recordOwner is told when the record's answer has gone out in full
// (requestOwner). Neither the record's fetch nor the look-up at
// webtransport.InfoPath is part of the call, which is its QUIC connection
// alone: the grandchild looks grandma up before she calls, as a page is
// loaded before it calls, and fetches the record after, apart from the
// call (QUIC's packets are sealed: no count could find the record's bytes
// in them, so it never rides there).
type recordOwner struct{ c *wtCall }

func (o recordOwner) answered(int64, int64) {
	select {
	case o.c.fetched <- struct{}{}:
	default:
	}
}

// serveWebTransport makes the certificate and starts the WebTransport
// server on Config.Packet, behind the server's emulated link. The returned
// stop, called once phone calls have been told to hang up (phoneCtx),
// waits at most ShutdownTimeout for the calls to end, closes every QUIC
// connection and the socket, and returns once all is over.
func (s *Server) serveWebTransport() (stop func(), err error) {
	certs, err := webtransport.NewCertificates(nil)
	if err != nil {
		return nil, err
	}
	meter := newUDPMeter(s.cfg.Packet)
	pc := link.WrapPacket(meter, s.cfg.Latency, nil)
	rt := 2 * s.cfg.Latency
	w := &webTransport{certs: certs, meter: meter, calls: map[string]*wtCall{}}
	if a, ok := s.cfg.Packet.LocalAddr().(*net.UDPAddr); ok {
		w.port = a.Port
	}
	w.srv = webtransport.NewServer(certs, http.HandlerFunc(s.webTransportCall), call0Handshake+rt, IdleTimeout+rt)
	s.wt = w
	served := make(chan error, 1)
	go func() { served <- w.srv.Serve(pc) }()
	return func() {
		w.mu.Lock()
		w.stopping = true
		w.mu.Unlock()
		ended := make(chan struct{})
		go func() {
			w.handlers.Wait()
			close(ended)
		}()
		t := time.NewTimer(ShutdownTimeout)
		select {
		case <-ended:
		case <-t.C:
		}
		t.Stop()
		_ = w.srv.Close() // every QUIC connection closes, its CONNECTION_CLOSE sent
		<-ended
		_ = pc.Close()
		if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) && !errors.Is(err, net.ErrClosed) && !errors.Is(err, context.Canceled) {
			s.log.Warn("the WebTransport server stopped", "error", err.Error())
		}
	}, nil
}

// call0Handshake bounds a QUIC handshake and a session's set-up, beyond
// two round trips of the emulated link.
const call0Handshake = 5 * time.Second

// webTransportInfo answers at webtransport.InfoPath: where the
// WebTransport is, on the host the caller named, and the hash of the
// certificate presented there. A request that names a call
// (wire.QueryCall) counts to it.
func (s *Server) webTransportInfo(w http.ResponseWriter, r *http.Request) {
	mode := webtransport.Mode().Key
	if s.wt == nil {
		s.refuse(w, r, mode, http.StatusNotFound, "grandma takes no WebTransport calls here")
		return
	}
	callID := r.URL.Query().Get(wire.QueryCall)
	var c *wtCall
	if callID != "" {
		if !wire.ValidCallID(callID) {
			s.refuse(w, r, mode, http.StatusBadRequest, "the call's id ("+wire.QueryCall+") must be 32 hex digits")
			return
		}
		if c = s.wt.named(callID, false); c == nil {
			w.Header().Set("Retry-After", "1")
			s.refuse(w, r, mode, http.StatusServiceUnavailable, "grandma is setting up too many WebTransport calls: try again in a moment")
			return
		}
	}
	hash, expires, err := s.wt.certs.Hash()
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	host := r.Host
	if h, _, err := net.SplitHostPort(r.Host); err == nil {
		host = h
	}
	body, err := json.Marshal(webtransport.Info{
		Protocol:          wire.Version,
		URL:               "https://" + net.JoinHostPort(host, strconv.Itoa(s.wt.port)) + webtransport.Path,
		CertificateHashes: []string{hash},
		Expires:           expires.UTC(),
	})
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	_, _ = w.Write(body)
}

// webTransportRecord hands over grandma's record of a WebTransport call
// at webtransport.RecordPath, once her farewell is said: its answer alone
// carries it, with a Content-Length, and closes the connection.
func (s *Server) webTransportRecord(w http.ResponseWriter, r *http.Request) {
	mode := webtransport.Mode().Key
	callID := r.URL.Query().Get(wire.QueryCall)
	if !wire.ValidCallID(callID) {
		s.refuse(w, r, mode, http.StatusBadRequest, "name the call ("+wire.QueryCall+"=its id) whose record you want")
		return
	}
	var c *wtCall
	if s.wt != nil {
		s.wt.mu.Lock()
		c = s.wt.calls[callID]
		s.wt.mu.Unlock()
	}
	if c == nil {
		s.refuse(w, r, mode, http.StatusNotFound, "no such call: it ended over "+RecordWait.String()+" ago, or never began")
		return
	}
	t := time.NewTimer(RecordWait)
	defer t.Stop()
	select {
	case <-c.recorded:
	case <-t.C:
		s.refuse(w, r, mode, http.StatusNotFound, "the call is not over: fetch its record once grandma has said her farewell")
		return
	case <-r.Context().Done():
		return
	}
	c.mu.Lock()
	record := c.record
	c.mu.Unlock()
	if record == nil {
		s.refuse(w, r, mode, http.StatusNotFound, "grandma has no record of that call: it did not end with her farewell")
		return
	}
	if conn, ok := r.Context().Value(connKey{}).(*meteredConn); ok {
		conn.serving(recordOwner{c})
	}
	w.Header().Set("Connection", "close") // the call is over: keep no file idle for it
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Length", strconv.Itoa(len(record)))
	_, _ = w.Write(record)
}

// webTransport answers under /webtransport/ on the TCP port.
func (s *Server) webTransport(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case webtransport.InfoPath:
		s.webTransportInfo(w, r)
	case webtransport.RecordPath:
		s.webTransportRecord(w, r)
	default:
		http.NotFound(w, r)
	}
}

// named returns the call named id, made now if it is not known yet;
// begin marks it taken by a session, and returns nil if one has taken it
// already. It returns nil too when too many calls are being set up.
func (w *webTransport) named(id string, begin bool) *wtCall {
	w.mu.Lock()
	defer w.mu.Unlock()
	c := w.calls[id]
	if c == nil {
		now := time.Now()
		if len(w.calls) >= MaxAwaiting {
			for k, o := range w.calls {
				o.mu.Lock()
				stale := !o.begun && now.Sub(o.created) > SetUpWait
				o.mu.Unlock()
				if stale {
					delete(w.calls, k)
				}
			}
			if len(w.calls) >= MaxAwaiting {
				return nil
			}
		}
		c = &wtCall{created: now, recorded: make(chan struct{}), fetched: make(chan struct{}, 1)}
		w.calls[id] = c
	}
	if begin {
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.begun {
			return nil
		}
		c.begun = true
	}
	return c
}

// forget drops the call named id.
func (w *webTransport) forget(id string) {
	w.mu.Lock()
	delete(w.calls, id)
	w.mu.Unlock()
}

// enter counts a session's handler in, unless the server is stopping.
func (w *webTransport) enter() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.stopping {
		return false
	}
	w.handlers.Add(1)
	return true
}

// webTransportCall takes one WebTransport call, on the UDP port: the
// session's CONNECT request, its script and id in the query, then the
// whole call, bounded by its script, as the phone's.
func (s *Server) webTransportCall(w http.ResponseWriter, r *http.Request) {
	mode := webtransport.Mode()
	if !s.wt.enter() {
		s.refuse(w, r, mode.Key, http.StatusServiceUnavailable, "grandma is going away: the server is stopping")
		return
	}
	defer s.wt.handlers.Done()
	if r.URL.Path != webtransport.Path {
		s.refuse(w, r, mode.Key, http.StatusNotFound, "WebTransport calls go to "+webtransport.Path)
		return
	}
	// The page that calls is served on the TCP port: its origin and host
	// are checked as the phone's are, on that port.
	tcp := *r
	tcp.Host = s.tcpHost(r.Host)
	if !s.hostServed(tcp.Host) {
		s.refuse(w, r, mode.Key, http.StatusMisdirectedRequest, s.wrongHost(r.Host))
		return
	}
	if !s.checkOrigin(&tcp) {
		s.refuse(w, r, mode.Key, http.StatusForbidden, "a page from "+r.Header.Get("Origin")+" may not call grandma here")
		return
	}
	script, err := wire.ParseScript(r.URL.Query())
	if err != nil {
		s.refuse(w, r, mode.Key, http.StatusBadRequest, "grandma cannot play that script: "+err.Error())
		return
	}
	callID := r.URL.Query().Get(wire.QueryCall)
	if !wire.ValidCallID(callID) {
		s.refuse(w, r, mode.Key, http.StatusBadRequest, "a WebTransport call must name itself in the query ("+wire.QueryCall+"=32 hex digits): its record is fetched by it")
		return
	}
	c := s.wt.named(callID, true)
	if c == nil {
		s.refuse(w, r, mode.Key, http.StatusConflict, "that call has begun already, or too many are being set up: call again with a new id")
		return
	}
	defer s.wt.forget(callID)
	id, ok := s.begin()
	if !ok {
		w.Header().Set("Retry-After", "1")
		s.refuse(w, r, mode.Key, http.StatusServiceUnavailable, fmt.Sprintf("grandma is on %d calls, as many as she takes: try again in a moment", s.maxCalls))
		c.keep(nil)
		return
	}
	defer s.end()
	s.calls.Add(1)
	defer s.calls.Done()
	awaited := s.begun(callID, id, mode, script)
	start := time.Now()
	rec := timeline.NewSideRecorder(timeline.Server, script.LineLabel, nil)
	qc, _ := webtransport.QUICConn(r)
	sess, err := s.wt.srv.Upgrade(w, r)
	if err != nil {
		c.keep(nil)
		s.finish(awaited, false, rec.Finish(), 0, 0, 1, nil)
		s.refuse(w, r, mode.Key, http.StatusBadRequest, "grandma cannot open that session: "+err.Error())
		return
	}
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	defer context.AfterFunc(s.phoneCtx, cancel)()
	silence, whole := s.cfg.Bounds(script)
	rt := 2 * s.cfg.Latency
	g := webtransport.NewGrandma(script, rec, webtransport.Served{
		Latency:   s.cfg.Latency,
		MaxLines:  MaxLines,
		Silence:   silence,
		Limit:     whole,
		CloseWait: CloseWait + rt,
		HandOver: func(tl *timeline.Timeline) {
			record, err := wire.EncodeRecord(tl, wire.Facts{Connections: 1, Latency: s.cfg.Latency})
			if err != nil {
				record = nil
			}
			c.keep(record)
		},
	})
	outcome := g.Talk(ctx, sess)
	c.keep(nil) // if she said no farewell, there is no record to wait for
	if outcome == "ok" {
		// The grandchild fetches the record over TCP once she has closed
		// the session.
		t := time.NewTimer(RecordWait + rt)
		select {
		case <-c.fetched:
		case <-t.C:
		case <-s.phoneCtx.Done():
		}
		t.Stop()
	}
	// The QUIC connection carried this call alone: its last datagrams
	// count to it once it is closed, by the grandchild or here.
	if qc != nil {
		t := time.NewTimer(CloseWait + rt)
		select {
		case <-qc.Context().Done():
		case <-t.C:
		}
		t.Stop()
		_ = qc.CloseWithError(0, "")
	}
	var udpIn, udpOut int64
	if qc != nil {
		udpIn, udpOut = s.wt.meter.take(qc.RemoteAddr())
	}
	in, out := udpIn, udpOut // the QUIC connection's: the call's one connection
	hers := rec.Finish()
	s.finish(awaited, outcome == "ok", hers, in, out, 1, nil)
	s.logCall(id, mode.Key, r.RemoteAddr, time.Since(start), in, out, linesHeard(hers), outcome)
}

// tcpHost returns host (as a WebTransport request names it) with the TCP
// listener's port: the page's origin, and the names grandma answers to,
// are on that port.
func (s *Server) tcpHost(host string) string {
	h := host
	if hh, _, err := net.SplitHostPort(host); err == nil {
		h = hh
	}
	port := ""
	if a, ok := s.cfg.Listener.Addr().(*net.TCPAddr); ok {
		port = strconv.Itoa(a.Port)
	}
	return net.JoinHostPort(h, port)
}

// udpMeter counts the payloads of the datagrams a UDP socket reads and
// writes, per peer: each QUIC connection, with one WebTransport session,
// is one peer. It sits under the emulated link, so it counts a datagram
// where it crosses.
type udpMeter struct {
	net.PacketConn
	mu    sync.Mutex
	peers map[netip.AddrPort]*udpCount
}

type udpCount struct {
	in, out int64
	last    time.Time
}

func newUDPMeter(c net.PacketConn) *udpMeter {
	return &udpMeter{PacketConn: c, peers: map[netip.AddrPort]*udpCount{}}
}

// udpStale is how long a peer's count is kept without a datagram, for a
// call to take it.
const udpStale = 2 * time.Minute

func (m *udpMeter) count(addr net.Addr, in, out int) {
	ua, ok := addr.(*net.UDPAddr)
	if !ok {
		return
	}
	key := ua.AddrPort()
	key = netip.AddrPortFrom(key.Addr().Unmap(), key.Port())
	now := time.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	c := m.peers[key]
	if c == nil {
		if len(m.peers) >= maxUDPPeers {
			for k, o := range m.peers {
				if now.Sub(o.last) > udpStale {
					delete(m.peers, k)
				}
			}
			if len(m.peers) >= maxUDPPeers {
				return
			}
		}
		c = &udpCount{}
		m.peers[key] = c
	}
	c.in += int64(in)
	c.out += int64(out)
	c.last = now
}

func (m *udpMeter) ReadFrom(p []byte) (int, net.Addr, error) {
	n, addr, err := m.PacketConn.ReadFrom(p)
	if n > 0 || err == nil {
		m.count(addr, n, 0)
	}
	return n, addr, err
}

func (m *udpMeter) WriteTo(p []byte, addr net.Addr) (int, error) {
	n, err := m.PacketConn.WriteTo(p, addr)
	if err == nil {
		m.count(addr, 0, n)
	}
	return n, err
}

// take returns what crossed to and from addr, and forgets it.
func (m *udpMeter) take(addr net.Addr) (in, out int64) {
	ua, ok := addr.(*net.UDPAddr)
	if !ok {
		return 0, 0
	}
	key := ua.AddrPort()
	key = netip.AddrPortFrom(key.Addr().Unmap(), key.Port())
	m.mu.Lock()
	defer m.mu.Unlock()
	c := m.peers[key]
	if c == nil {
		return 0, 0
	}
	delete(m.peers, key)
	return c.in, c.out
}

// SetReadBuffer and SetWriteBuffer size the socket's buffers, as quic-go
// asks.
func (m *udpMeter) SetReadBuffer(bytes int) error {
	if s, ok := m.PacketConn.(interface{ SetReadBuffer(int) error }); ok {
		return s.SetReadBuffer(bytes)
	}
	return nil
}

func (m *udpMeter) SetWriteBuffer(bytes int) error {
	if s, ok := m.PacketConn.(interface{ SetWriteBuffer(int) error }); ok {
		return s.SetWriteBuffer(bytes)
	}
	return nil
}
