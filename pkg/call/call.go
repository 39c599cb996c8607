// Package call is the life of one call, whatever carries it: it starts
// the call's clock, serves grandma, lets the grandchild call her through
// the emulated link, stops everything at once when told to, and finishes
// with the result. A mode (a transport package) brings only its two roles,
// grandma and the grandchild, and what is peculiar to it; Run and
// RunRemote do the rest, the same way for every mode.
package call

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/duplexdemo/duplexdemo/pkg/link"
	"github.com/duplexdemo/duplexdemo/pkg/result"
	"github.com/duplexdemo/duplexdemo/pkg/story"
	"github.com/duplexdemo/duplexdemo/pkg/timeline"
	"github.com/duplexdemo/duplexdemo/pkg/wire"
)

// Config describes one call.
type Config struct {
	// Script is what both sides say, and when they want to say it.
	Script story.Script
	// Latency is the one-way delay of the emulated link, in each direction.
	// 0 means plain loopback.
	Latency time.Duration
	// Bandwidth is the rate at which the link serialises bytes, in each
	// direction independently (link.Profile); 0 means unlimited. Jitter is
	// the most extra delay a write or datagram takes, drawn with Seed.
	Bandwidth link.Rate
	Jitter    time.Duration
	Seed      uint64
	// Every is how often the grandchild polls, for a mode that polls (see
	// Mode.Every); 0 means the mode's default. Other modes ignore it.
	Every time.Duration
	// Listener is where grandma answers. nil means a new TCP listener on
	// 127.0.0.1 with a port chosen by the system. The call closes it.
	Listener net.Listener
	// Dial makes the grandchild's connection to the Listener's address; nil
	// means a net.Dialer. Tests pass an in-memory network's dial.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// Observer, if not nil, is told of each event as it happens.
	Observer timeline.Observer
	// Student, for a call to a grandma elsewhere (RunRemote), is the
	// anonymous name (class.NewName) under which the call is reported to
	// her class experiment once it is over; empty reports nothing.
	Student string
}

// Mode is one way of carrying the call: what it is, for people and views,
// and its two roles. A transport package defines one (or a few); the
// registry (package modes) lists them all.
type Mode struct {
	result.Mode
	// Title, if not nil, heads the call's live log; nil heads it with
	// the mode's name.
	Title func(Config) string
	// Help is the mode's command-line help.
	Help Help
	// Every, if not nil, says the mode polls, and bounds its period
	// (Config.Every).
	Every *Bounds
	// Datagrams says the call rides UDP datagrams on sockets of its own on
	// 127.0.0.1 (Session.ListenPacket), not Config.Listener and
	// Config.Dial: an in-memory network cannot carry it, and a call on the
	// fake clock (testing/synctest) cannot wait on it.
	Datagrams bool
	// Photo says the mode carries the grandchild's photo (a script with
	// story.Options.Photo): its grandma reads a line as long as the photo.
	// Run refuses a script with a photo in a mode without it.
	Photo bool
	// Local sets up both roles of a call in this process.
	Local func(s *Session) Roles
	// Facts, if not nil, returns the counts of the mode that a call's
	// timeline alone gives (the requests of a call over HTTP), for a call
	// whose grandchild was elsewhere: duplexdemo serve's class experiment
	// counts them from the joined record of both sides.
	Facts func(tl *timeline.Timeline) []result.Fact
	// Remote, if not nil, sets up the grandchild's role of a call to a
	// grandma elsewhere (duplexdemo serve) at base, such as
	// http://192.168.1.20:8080. nil means the mode plays only in this
	// process.
	Remote func(s *Session, base string) RemoteRoles
}

// Help is a mode's command-line help, as cobra shows it.
type Help struct {
	Short, Long, Example string
}

// Bounds are a period's default and the range it may take.
type Bounds struct {
	Default, Min, Max time.Duration
}

// Roles are a mode's two sides of a call in this process.
type Roles struct {
	// Grandma answers the call: Run serves her on the call's listener.
	Grandma http.Handler
	// Serve, if not nil, is grandma for a mode whose grandma is not an
	// HTTP handler: Run calls it instead of serving Grandma, with the
	// call's listener, and it must return when ctx ends, having closed
	// every connection it accepted. Each connection records its closing,
	// as HTTP's do, and has a CloseWrite that half-closes it, or returns
	// errors.ErrUnsupported where the network cannot.
	Serve func(ctx context.Context, ln net.Listener) error
	// Think, if not nil, is what grandma does on her own (remembering the
	// county fair): Run runs it beside her server until the call is over.
	Think func(ctx context.Context)
	// Grandchild places the call and returns when she has hung up.
	Grandchild func(ctx context.Context) error
	// Facts, if not nil, returns the mode's own counts once the call is
	// over.
	Facts func(tl *timeline.Timeline) []result.Fact
}

// RemoteRoles are a mode's side of a call to a grandma elsewhere.
type RemoteRoles struct {
	// Prepare, if not nil, is what the grandchild does before she places
	// the call, as a page is loaded before its script calls: look up where
	// and how grandma answers. RunRemote calls it before the call's clock
	// starts; it must not use the session's DialContext, for its time,
	// bytes and connections are not the call's.
	Prepare func(ctx context.Context) error
	// Grandchild places the call and returns when she has hung up.
	Grandchild func(ctx context.Context) error
	// Record returns grandma's record of the call as she handed it over
	// (wire.EncodeRecord); nil if she did not hand it over.
	Record func() []byte
	// HandOver, if not nil, returns a new watcher for each connection the
	// grandchild opens, to find the bytes on it that carried her record.
	HandOver func() HandOver
	// RecordApart says her record comes apart from the call, after it, on
	// a connection of its own outside the emulated link (WebTransport's:
	// QUIC's packets are sealed, and no count could find the record's
	// bytes in them): the call's counts hold none of it, and none is
	// looked for on the call's connections.
	RecordApart bool
	// Facts, as in Roles.
	Facts func(tl *timeline.Timeline) []result.Fact
	// CallID is the id the grandchild gave the call (wire.NewCallID), by
	// which she may report it to the class (Config.Student).
	CallID string
}

// HandOver finds, among the bytes that arrive on one of the grandchild's
// connections, those that carried grandma's record of the call: the line
// or message that holds it, framing included. Her record is not part of
// the conversation, so the call's counts (Result.WireBytes and the
// connection's Result.PerConnection entry) leave those bytes out: counted
// where they crossed the link, never worked out from the record's length.
type HandOver interface {
	// Write is given every byte that arrives on the connection, in order,
	// as the link counts it (link.WrapTapped). It keeps only what it needs
	// and never fails. The session calls it and Bytes under one lock.
	io.Writer
	// Bytes returns how many of the bytes given to Write carried her
	// record; 0 if it did not come on this connection.
	Bytes() int64
}

// MaxLatency bounds the emulated latency: slower than this, a call would
// take minutes, and nobody waits that long in front of a class. MaxJitter
// bounds the jitter the same way.
const (
	MaxLatency = 5 * time.Second
	MaxJitter  = 2 * time.Second
)

// MaxLine is the largest line either side accepts, in bytes, in every
// mode; MaxAnswer bounds one whole HTTP answer (a story, and what rides on
// it).
const (
	MaxLine   = 4 << 10
	MaxAnswer = 64 << 10
)

// closeWait bounds how long a finished call waits for the grandchild's HTTP
// or WebSocket client to close its connections before closing them itself.
const closeWait = time.Second

// Run plays one call in mode m in this process and returns what it
// measured. Grandma serves on cfg.Listener and the grandchild calls her
// through the emulated link. Run returns when the grandchild has hung up
// and grandma's server has stopped, or when ctx ends; either way nothing
// it started is left running, and a call stopped by ctx returns ctx's
// error whatever else broke on the way out.
func Run(ctx context.Context, m Mode, cfg Config) (*result.Result, error) {
	if b := m.Every; b != nil && cfg.Every != 0 && (cfg.Every < b.Min || cfg.Every > b.Max) {
		return nil, &story.OptionError{Option: "every", Value: cfg.Every.String(), Want: fmt.Sprintf("must be from %v to %v", b.Min, b.Max)}
	}
	if m.Datagrams && cfg.Dial != nil {
		return nil, fmt.Errorf("%s rides UDP datagrams on 127.0.0.1 of its own: it cannot play on another network (Config.Dial)", m.Key)
	}
	if err := CheckPhoto(m, cfg); err != nil {
		return nil, err
	}
	s, err := start(cfg, true)
	if err != nil {
		return nil, err
	}
	defer context.AfterFunc(ctx, s.Abort)() // stop at once when told to, however slow the link
	parent := ctx
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	roles := m.Local(s)
	var stop func() error
	if roles.Serve != nil {
		stop = s.serveConns(ctx, roles.Serve)
	} else {
		stop = s.serve(ctx, roles.Grandma)
	}
	thought := make(chan struct{})
	go func() {
		defer close(thought)
		if roles.Think != nil {
			roles.Think(ctx)
		}
	}()
	err = roles.Grandchild(ctx)
	cancel()
	<-thought
	if serr := stop(); err == nil {
		err = serr
	}
	res := s.finish(m, roles.Facts)
	if parent.Err() != nil {
		err = parent.Err()
	}
	return res, err
}

// RunRemote plays the grandchild's side of a call in mode m to a grandma
// elsewhere (duplexdemo serve) at server, a URL such as
// http://192.168.1.20:8080, through the emulated link. The grandchild asks
// her for cfg.Script (its photo, if any, by its size: she builds the same
// one); at the end her record of the call is joined with the
// grandchild's, her clock aligned (Result.Alignment). cfg.Listener is not
// used. It returns when the call is over or ctx ends, leaving nothing
// running.
func RunRemote(ctx context.Context, m Mode, cfg Config, server string) (*result.Result, error) {
	if m.Remote == nil {
		return nil, fmt.Errorf("%s plays only in this process: it cannot call a grandma elsewhere", m.Key)
	}
	if err := CheckPhoto(m, cfg); err != nil {
		return nil, err // she builds the photo from its size (wire.ScriptQuery)
	}
	base, err := wire.ServerURL(server, "http")
	if err != nil {
		return nil, err
	}
	s, err := start(cfg, false)
	if err != nil {
		return nil, err
	}
	defer context.AfterFunc(ctx, s.Abort)()
	parent := ctx
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	roles := m.Remote(s, base)
	if roles.Prepare != nil {
		if err := roles.Prepare(ctx); err != nil {
			s.Abort()
			return nil, err
		}
		s.Rec.Reset() // the call starts now
	}
	s.handOver = roles.HandOver // before the grandchild dials
	err = roles.Grandchild(ctx)
	cancel()
	record := roles.Record()
	var hers *timeline.Timeline
	var facts wire.Facts
	if record != nil && err == nil {
		hers, facts, err = wire.DecodeRecord(record, cfg.Script)
	}
	res := s.finish(m, roles.Facts)
	res.Server, res.ServerLatency = base, facts.Latency
	if err != nil && parent.Err() == nil {
		err = photoUnknown(err, res.Timeline, base)
	}
	if err == nil && record != nil && s.handedOver == 0 && !roles.RecordApart {
		// Her record came, but the bytes that carried it were not found
		// where they crossed: the counts would hold them, and a count is
		// never worked out instead.
		err = errors.New("grandma's record of the call arrived, but the bytes that carried it were not found on the grandchild's connections")
	}
	own := res.Timeline // the grandchild's side alone, before the join
	if err == nil {
		err = s.join(res, hers, base)
	}
	if err == nil && cfg.Student != "" && parent.Err() == nil {
		res.Reported, err = report(parent, cfg, base, wire.Report{Protocol: wire.Version, Call: roles.CallID, Student: cfg.Student},
			own, wire.Facts{Connections: res.Connections, Latency: cfg.Latency})
	}
	if parent.Err() != nil {
		err = parent.Err()
	}
	return res, err
}

// photoUnknown adds to err, a call to the grandma at server that failed
// once the grandchild had sent her photo, what may be why: a duplexdemo
// serve older than the photo builds a script without it, whatever the
// query says (wire.QueryPhoto), and refuses it as a line too long, each
// mode in its own words (a 413, a close with 1009, a connection reset).
func photoUnknown(err error, tl *timeline.Timeline, server string) error {
	if p, ok := tl.Message(story.LabelPhoto); !ok || !p.Sent {
		return err
	}
	return fmt.Errorf("%w (if grandma at %s runs an older duplexdemo, it knows no photo and refuses one as a line too long: run the same version on both, or call without a photo)", err, server)
}

// join aligns grandma's clock with the grandchild's, from the lines they
// exchanged, and puts her record of the call on the grandchild's timeline.
func (s *Session) join(res *result.Result, hers *timeline.Timeline, server string) error {
	if hers == nil {
		return fmt.Errorf("grandma at %s did not hand over her record of the call", server)
	}
	a, err := timeline.Align(res.Timeline, hers)
	if err != nil {
		return err
	}
	merged, err := timeline.Merge(res.Timeline, hers, a)
	if err != nil {
		return fmt.Errorf("grandma's record of the call does not fit the grandchild's: %w", err)
	}
	res.Timeline, res.Alignment = merged, &a
	return nil
}

// Session is one call in progress, as its roles see it: the script, the
// recorder both sides share, the listener grandma answers on and the
// emulated link the grandchild calls through.
type Session struct {
	// Script is what both sides say, and when.
	Script story.Script
	// Rec records the call, on its one clock.
	Rec *timeline.Recorder

	cfg      Config
	listener net.Listener
	dialer   *link.Dialer
	open     sync.WaitGroup // the grandchild's connections not yet closed

	// handOver, set for a call to a grandma elsewhere, watches each
	// connection for her record (RemoteRoles.HandOver); handedOver is the
	// bytes finish found it took, on all of them.
	handOver   func() HandOver
	handedOver int64

	mu      sync.Mutex
	closing bool            // finish is waiting for the connections: no more may open
	conns   []link.Counted  // every connection the grandchild opened
	watches []*watch        // conns[i]'s watcher, or nil
	aborted context.Context // done once Abort is called: no connection opens after it
	abort   context.CancelFunc

	// packets is every UDP socket the grandchild opened (ListenPacket).
	packets []*link.PacketConn
}

// watch is a connection's HandOver behind a lock: the link gives it bytes
// from the connection's reader, and finish asks it for its count.
type watch struct {
	mu sync.Mutex
	h  HandOver
}

func (w *watch) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.h.Write(p)
}

func (w *watch) bytes() int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.h.Bytes()
}

// CheckPhoto says what is wrong with the photo of cfg's script in mode m,
// if anything: the mode carries none (Mode.Photo), or the link cannot
// carry it before the goodbye is due. Run checks it first; a command
// checks it before it prints anything.
func CheckPhoto(m Mode, cfg Config) error {
	if cfg.Script.Photo == "" {
		return nil
	}
	if !m.Photo {
		return photoError(cfg.Script, m.Key+" carries no photo yet")
	}
	return photoFits(cfg)
}

// photoError refuses the photo of script, saying why.
func photoError(script story.Script, why string) error {
	return &story.OptionError{Option: "photo", Value: story.PhotoSize(len(script.Photo)), Want: why}
}

// photoFits refuses a photo that the link cannot carry before the
// goodbye is due: the goodbye would queue behind it, and the call end
// before grandma could answer.
func photoFits(cfg Config) error {
	if cfg.Script.Photo == "" || cfg.Bandwidth == 0 {
		return nil
	}
	takes, before := cfg.Bandwidth.TimeFor(int64(len(cfg.Script.Photo))), cfg.Script.PhotoTime()
	if takes <= before {
		return nil
	}
	return photoError(cfg.Script, fmt.Sprintf("takes %v to cross at %v, and the goodbye is due %v after it: send a smaller one, or use a faster --bandwidth or a later --goodbye-at",
		takes.Round(time.Millisecond), cfg.Bandwidth, before.Round(time.Millisecond)))
}

// start validates cfg, starts the call's clock and, for a call in this
// process, opens grandma's listener. A call to a grandma elsewhere records
// only the grandchild's side, with the script's labels for grandma's lines.
func start(cfg Config, local bool) (*Session, error) {
	if cfg.Latency < 0 || cfg.Latency > MaxLatency {
		return nil, &story.OptionError{Option: "latency", Value: cfg.Latency.String(), Want: fmt.Sprintf("must be from 0 (plain loopback) to %v", MaxLatency)}
	}
	if cfg.Jitter < 0 || cfg.Jitter > MaxJitter {
		return nil, &story.OptionError{Option: "jitter", Value: cfg.Jitter.String(), Want: fmt.Sprintf("must be from 0 (none) to %v", MaxJitter)}
	}
	if cfg.Bandwidth != 0 && (cfg.Bandwidth < link.MinRate || cfg.Bandwidth > link.MaxRate) {
		return nil, &story.OptionError{Option: "bandwidth", Value: cfg.Bandwidth.String(), Want: fmt.Sprintf("must be from %v to %v, or 0 for unlimited", link.MinRate, link.MaxRate)}
	}
	if len(cfg.Script.Story) == 0 {
		return nil, fmt.Errorf("the script has no story: build it with story.New")
	}
	abortCtx, abort := context.WithCancel(context.Background())
	s := &Session{Script: cfg.Script, cfg: cfg, listener: cfg.Listener, aborted: abortCtx, abort: abort}
	if local {
		s.Rec = timeline.NewRecorder(cfg.Observer)
		if s.listener == nil {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				return nil, fmt.Errorf("grandma cannot listen on 127.0.0.1: %w", err)
			}
			s.listener = ln
		}
	} else {
		s.Rec = timeline.NewSideRecorder(timeline.Client, cfg.Script.LineLabel, cfg.Observer)
	}
	s.dialer = &link.Dialer{
		Latency:   cfg.Latency,
		Bandwidth: cfg.Bandwidth,
		Jitter:    cfg.Jitter,
		Seed:      cfg.Seed,
		Meter:     new(link.Meter), // the counts are read per connection (finish); its link is the grandchild's one line
		Dial:      cfg.Dial,
		OnClose: func() {
			s.Rec.Record(timeline.Client, timeline.KindClose, "hangs up the connection")
			s.open.Done()
		},
	}
	return s, nil
}

// finish closes the listener, waits for the grandchild's connections to
// close (each is closed by its HTTP or WebSocket client as the call ends;
// any still open after closeWait is closed here), stops the clock and
// returns the result.
func (s *Session) finish(m Mode, facts func(*timeline.Timeline) []result.Fact) *result.Result {
	// Closing stops new calls only; its error changes nothing measured.
	if s.listener != nil {
		_ = s.listener.Close()
	}
	// No connection opens once finish waits for them (an HTTP client may
	// still be dialing for later): each open one was counted before.
	s.mu.Lock()
	s.closing = true
	s.mu.Unlock()
	closed := make(chan struct{})
	go func() {
		s.open.Wait()
		close(closed)
	}()
	t := time.NewTimer(closeWait + s.RoundTrip())
	select {
	case <-closed:
	case <-t.C:
		s.Abort()
		<-closed
	}
	t.Stop()
	res := &result.Result{
		Mode:     m.Mode,
		Latency:  s.cfg.Latency,
		Timeline: s.Rec.Finish(),
		Link:     result.Link{Bandwidth: int64(s.cfg.Bandwidth), Jitter: s.cfg.Jitter},
	}
	if s.cfg.Jitter > 0 {
		res.Link.Seed = s.cfg.Seed // what replays its draws; nothing without any
	}
	s.mu.Lock()
	res.Connections = len(s.conns)
	for i, c := range s.conns {
		// Grandma's record is not part of the conversation: the bytes that
		// carried it, as they crossed on this connection, come off its
		// count and the total. The link counts bytes before it taps them,
		// so asked first, the watch never holds more than the count.
		var handedOver int64
		if w := s.watches[i]; w != nil {
			handedOver = w.bytes()
		}
		cb := result.ConnBytes{Bytes: [2]int64{timeline.Client: c.BytesWritten(), timeline.Server: c.BytesRead() - handedOver}}
		if a, ok := c.LocalAddr().(*net.TCPAddr); ok {
			cb.ClientPort = a.Port
		}
		res.WireBytes[timeline.Client] += cb.Bytes[timeline.Client]
		res.WireBytes[timeline.Server] += cb.Bytes[timeline.Server]
		s.handedOver += handedOver
		res.PerConnection = append(res.PerConnection, cb)
	}
	s.countPacketsLocked(res)
	s.countBusyLocked(res)
	s.mu.Unlock()
	if facts != nil {
		res.Facts = facts(res.Timeline)
	}
	return res
}

// Abort closes every connection the grandchild opened at once, dropping
// bytes still in flight on the emulated link: a cancelled call stops
// within a second however slow the link.
func (s *Session) Abort() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.abort()
	for _, conn := range s.conns {
		_ = link.Abort(conn) // already closed is as good as closed
	}
	for _, pc := range s.packets {
		_ = pc.Abort() // already closed is as good as closed
	}
}

// Addr returns the address grandma listens on, for a call in this process.
func (s *Session) Addr() string { return s.listener.Addr().String() }

// Every returns how often the grandchild polls: Config.Every, or def.
func (s *Session) Every(def time.Duration) time.Duration {
	if s.cfg.Every > 0 {
		return s.cfg.Every
	}
	return def
}

// Silence returns how long a side may hear nothing on a connection before
// giving up on it: base, plus the longest silence the script can hold (all
// of it, up to the goodbye), plus a round trip of the emulated link.
func (s *Session) Silence(base time.Duration) time.Duration {
	return base + s.Script.GoodbyeAt + s.RoundTrip()
}

// RoundTrip returns how long one round trip over the emulated link adds:
// timeouts for anything that waits on the peer add it, so that a slow link
// is never mistaken for a dead peer.
func (s *Session) RoundTrip() time.Duration { return 2 * s.cfg.Latency }

// DialContext opens the grandchild's connection through the emulated link
// and records it. Every connection the grandchild makes goes through it.
//
// A dial still under way when the call is aborted gives up: an HTTP client
// may dial on without its request's context, to keep the connection for
// later, and a call that is over keeps nothing.
func (s *Session) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer context.AfterFunc(s.aborted, cancel)()
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		return nil, net.ErrClosed
	}
	s.open.Add(1)
	s.mu.Unlock()
	var w *watch
	var tap io.Writer // a nil *watch in it would not be a nil tap
	if s.handOver != nil {
		w = &watch{h: s.handOver()}
		tap = w
	}
	conn, err := s.dialer.DialTapped(ctx, network, addr, tap)
	if err != nil {
		s.open.Done()
		return nil, err
	}
	s.mu.Lock()
	select {
	case <-s.aborted.Done():
		s.mu.Unlock()
		_ = link.Abort(conn)
		return nil, net.ErrClosed
	default:
	}
	s.conns = append(s.conns, conn)
	s.watches = append(s.watches, w)
	s.mu.Unlock()
	s.Rec.Record(timeline.Client, timeline.KindConnect, "opens a connection")
	return conn, nil
}
