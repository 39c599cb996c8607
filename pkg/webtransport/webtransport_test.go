package webtransport

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/http3"
	wt "github.com/quic-go/webtransport-go"
	"go.uber.org/goleak"

	"github.com/duplexdemo/duplexdemo/internal/calltest"
	"github.com/duplexdemo/duplexdemo/pkg/call"
	"github.com/duplexdemo/duplexdemo/pkg/story"
	"github.com/duplexdemo/duplexdemo/pkg/timeline"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// slack bounds what a busy 2-core machine adds to a measured time.
const slack = 250 * time.Millisecond

// lines returns the labels of side's messages, in the order they were
// sent, failing the test unless each was sent and heard once, and heard in
// the order it was sent.
func lines(t *testing.T, tl *timeline.Timeline, side timeline.Side) []string {
	t.Helper()
	var ms []timeline.Message
	for _, m := range tl.Messages {
		if m.From != side {
			continue
		}
		if !m.Sent || !m.Heard {
			t.Errorf("the %s was not both sent and heard: %+v", m.Label, m)
		}
		ms = append(ms, m)
	}
	slices.SortStableFunc(ms, func(a, b timeline.Message) int { return int(a.SentAt - b.SentAt) })
	var labels []string
	for i, m := range ms {
		if i > 0 && m.HeardAt < ms[i-1].HeardAt {
			t.Errorf("the %s was heard at %v, before the %s sent before it (heard at %v)", m.Label, m.HeardAt, ms[i-1].Label, ms[i-1].HeardAt)
		}
		labels = append(labels, m.Label)
	}
	return labels
}

// TestRealUDP plays the call on loopback through the emulated link and
// checks what WebTransport's one stream gives: orderings and bounds that
// hold on a slow, busy machine.
func TestRealUDP(t *testing.T) {
	const latency = 60 * time.Millisecond
	s := calltest.Script(t, story.Options{Sentences: story.MaxSentences, Pace: 50 * time.Millisecond})
	res, err := call.Run(context.Background(), Mode(), call.Config{Script: s, Latency: latency})
	if err != nil {
		t.Fatal(err)
	}
	tl := res.Timeline
	if got, want := lines(t, tl, timeline.Client), []string{story.LabelQuestion, story.LabelInterruption, story.LabelGoodbye}; !slices.Equal(got, want) {
		t.Errorf("the grandchild said %v, want %v", got, want)
	}
	said := lines(t, tl, timeline.Server)
	count := func(label string) int {
		n := 0
		for _, l := range said {
			if l == label {
				n++
			}
		}
		return n
	}
	if count(story.LabelStory) != len(s.Story) || count(story.LabelAnswer) != 1 || count(story.LabelAfterthought) != 1 ||
		said[0] != story.LabelStory || said[len(said)-1] != story.LabelFarewell {
		t.Errorf("grandma said %v; want her story, one answer, one afterthought, and her farewell last", said)
	}

	// The question waits for the session: QUIC's handshake (a round trip)
	// and the CONNECT request that opens the session (another).
	q := calltest.Said(t, tl, story.LabelQuestion)
	if q.Reason != timeline.ReasonConnecting || q.Waited() < 4*latency || q.Waited() > 4*latency+2*slack {
		t.Errorf("the question waited %v (%s); want two round trips, %v, for %s", q.Waited(), q.Reason, 4*latency, timeline.ReasonConnecting)
	}
	// The interruption goes at once, mid-story, and is heard a latency
	// later; grandma answers before her story is over.
	lastSentence := calltest.Last(tl, story.LabelStory)
	i := calltest.Said(t, tl, story.LabelInterruption)
	if i.Waited() > s.Pace/2 {
		t.Errorf("the interruption waited %v; on one WebTransport stream it is sent at once", i.Waited())
	}
	if flight := i.HeardAt - i.SentAt; flight < latency || flight > latency+slack {
		t.Errorf("the interruption took %v to be heard; want about one latency, %v", flight, latency)
	}
	if i.HeardAt >= lastSentence.SentAt {
		t.Errorf("grandma heard the interruption at %v, after her story ended at %v", i.HeardAt, lastSentence.SentAt)
	}
	if a := calltest.Said(t, tl, story.LabelAnswer); a.SentAt >= lastSentence.SentAt {
		t.Errorf("grandma answered at %v, after her story; she should answer mid-story", a.SentAt)
	}
	// Her afterthought needs no question: she says it, and it is heard a
	// latency later.
	a := calltest.Said(t, tl, story.LabelAfterthought)
	if a.Waited() > s.Pace/2 || a.HeardAfter() < latency || a.HeardAfter() > latency+slack {
		t.Errorf("the afterthought waited %v and was heard %v after she wanted it; want no wait and one latency (%v)", a.Waited(), a.HeardAfter(), latency)
	}

	if res.Connections != 1 || len(res.PerConnection) != 1 {
		t.Errorf("connections: got %d (%d counted), want 1", res.Connections, len(res.PerConnection))
	}
	payload := res.PayloadBytes()
	for side := range res.WireBytes {
		if res.WireBytes[side] <= payload[side] {
			t.Errorf("side %d: %d bytes on the wire, not more than its %d bytes of lines", side, res.WireBytes[side], payload[side])
		}
	}
	if res.WireBytes != res.PerConnection[0].Bytes {
		t.Errorf("wire bytes %v are not the connection's %v", res.WireBytes, res.PerConnection[0].Bytes)
	}
	sent, received := calltest.Fact(t, res, "datagrams_sent"), calltest.Fact(t, res, "datagrams_received")
	if sent < 3 || received < 3 {
		t.Errorf("datagrams sent/received: %v/%v; QUIC's handshake alone takes more", sent, received)
	}
}

// TestBytesAreUDPPayloads: what the grandchild's side of the link counts
// is what grandma's socket took and gave, datagram by datagram. Her last
// datagrams may still be on their way when the grandchild's socket closes
// (her acknowledgements of his CONNECTION_CLOSE), and his last ones may
// arrive after her server stopped reading: so each count is at most the
// other side's, and short of it by a few datagrams at most.
func TestBytesAreUDPPayloads(t *testing.T) {
	var grandma *answering
	m := Mode()
	m.Local = func(s *call.Session) call.Roles {
		grandma = &answering{ready: make(chan struct{})}
		return roles(s, grandma)
	}
	res, err := call.Run(context.Background(), m, call.Config{Script: story.Default(), Latency: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	const few = 4 * 1500 // four full datagrams
	sent, taken := res.WireBytes[timeline.Client], grandma.socket.BytesRead()
	if taken > sent || taken < sent-few {
		t.Errorf("the grandchild sent %d bytes of UDP payload, grandma took %d", sent, taken)
	}
	given, received := grandma.socket.BytesWritten(), res.WireBytes[timeline.Server]
	if received > given || received < given-few {
		t.Errorf("grandma gave %d bytes of UDP payload, the grandchild received %d", given, received)
	}
	if d := calltest.Fact(t, res, "datagrams_sent"); int64(d) < grandma.socket.DatagramsRead() {
		t.Errorf("grandma took %d datagrams, the grandchild sent only %v", grandma.socket.DatagramsRead(), d)
	}
}

func TestCancel(t *testing.T) { calltest.Cancelled(t, Mode()) }

// TestSlowLink: at 400ms each way, QUIC's first retransmission timer
// (about three times its initial 100ms estimate of the round trip) fires
// before grandma's first reply can come back: the handshake carries
// retransmitted packets, and still completes, in two round trips.
func TestSlowLink(t *testing.T) {
	const latency = 400 * time.Millisecond
	res, err := call.Run(context.Background(), Mode(), call.Config{Script: story.Default(), Latency: latency})
	if err != nil {
		t.Fatal(err)
	}
	q := calltest.Said(t, res.Timeline, story.LabelQuestion)
	if q.Waited() < 4*latency || q.Waited() > 4*latency+2*slack {
		t.Errorf("the question waited %v; want two round trips, %v", q.Waited(), 4*latency)
	}
	lines(t, res.Timeline, timeline.Client)
	lines(t, res.Timeline, timeline.Server)
}

func TestCertificate(t *testing.T) {
	now := time.Now()
	cert, leaf, err := newCertificate(now)
	if err != nil {
		t.Fatal(err)
	}
	key, ok := leaf.PublicKey.(*ecdsa.PublicKey)
	if !ok || key.Curve != elliptic.P256() {
		t.Errorf("the key is %T, want ECDSA P-256, as serverCertificateHashes requires", leaf.PublicKey)
	}
	if d := leaf.NotAfter.Sub(leaf.NotBefore); d > 14*24*time.Hour {
		t.Errorf("valid for %v; serverCertificateHashes accepts at most 14 days", d)
	}
	if now.Before(leaf.NotBefore) || now.After(leaf.NotAfter) {
		t.Errorf("valid from %v to %v, not now (%v)", leaf.NotBefore, leaf.NotAfter, now)
	}
	if cfg := pinned(leaf); cfg.InsecureSkipVerify {
		t.Error("the pinned configuration skips verification")
	}
	verify := pinned(leaf).VerifyConnection
	if err := verify(tls.ConnectionState{PeerCertificates: []*x509.Certificate{leaf}}); err != nil {
		t.Errorf("her own certificate: %v", err)
	}
	// The pin holds: a certificate made the same way, but not hers, fails.
	_, other, err := newCertificate(now)
	if err != nil {
		t.Fatal(err)
	}
	if err := verify(tls.ConnectionState{PeerCertificates: []*x509.Certificate{other}}); err == nil {
		t.Error("another certificate passed the pin")
	}
	if len(cert.Certificate) != 1 || !bytes.Equal(cert.Certificate[0], leaf.Raw) {
		t.Error("grandma's TLS certificate is not the one the grandchild pins")
	}
}

// grandmaAlone serves grandma on her own, with a short silence bound; the
// test plays the grandchild by hand. With the afterthought an hour away,
// only what the test sends is answered.
func grandmaAlone(t *testing.T, readWait time.Duration) (*answering, *timeline.Recorder) {
	t.Helper()
	rec := timeline.NewRecorder(nil)
	s := calltest.Script(t, story.Options{AfterthoughtAt: time.Minute})
	g := &Grandma{script: s, rec: rec, readWait: readWait, closeWait: time.Second, handshake: 5 * time.Second, idle: time.Minute}
	a := &answering{ready: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- g.serve(ctx, a) }()
	t.Cleanup(func() {
		cancel()
		if err := <-served; err != nil {
			t.Errorf("grandma's server: %v", err)
		}
		rec.Finish()
	})
	<-a.ready
	if a.err != nil {
		t.Fatal(a.err)
	}
	return a, rec
}

// dialAlone opens a session to grandma and a stream on it, on a plain
// UDP socket; the test closes them.
func dialAlone(t *testing.T, a *answering) (*wt.Session, *wt.Stream) {
	t.Helper()
	udp, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	tr := &quic.Transport{Conn: udp}
	wtr := &wt.Transport{}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	tlsConf := pinned(a.cert)
	tlsConf.NextProtos = []string{http3.NextProtoH3}
	qconn, err := tr.Dial(ctx, a.addr, tlsConf, quicConfig(5*time.Second, time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		qconn.CloseWithError(0, "")
		wtr.Close()
		tr.Close()
		udp.Close()
	})
	cc, err := wtr.NewClientConn(qconn)
	if err != nil {
		t.Fatal(err)
	}
	_, sess, err := cc.Dial(ctx, "https://"+a.addr.String()+Path, nil)
	if err != nil {
		t.Fatal(err)
	}
	str, err := sess.OpenStream()
	if err != nil {
		t.Fatal(err)
	}
	return sess, str
}

// closedWith reads str until grandma closes the session, and returns her
// code and reason.
func closedWith(t *testing.T, str *wt.Stream) (wt.SessionErrorCode, string) {
	t.Helper()
	if err := str.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	_, err := io.Copy(io.Discard, str)
	var se *wt.SessionError
	if !errors.As(err, &se) || !se.Remote {
		t.Fatalf("the stream ended with %v, not grandma closing the session", err)
	}
	return se.ErrorCode, se.Message
}

// TestGrandmaClosesOnBadLines: each line grandma cannot take closes that
// session with a clear code.
func TestGrandmaClosesOnBadLines(t *testing.T) {
	a, rec := grandmaAlone(t, 10*time.Second)
	for _, c := range []struct {
		name string
		send func(*wt.Stream) error
		code wt.SessionErrorCode
	}{
		{"too long", func(s *wt.Stream) error { return writeLine(s, strings.Repeat("x", call.MaxLine+1), 0) }, codeTooLong},
		{"never sent", func(s *wt.Stream) error { return writeLine(s, "hello?", 0) }, codeNotInScript},
		{"not in the script", func(s *wt.Stream) error {
			rec.Sent(rec.Want(timeline.Client, "chatter", "nice weather", ""))
			return writeLine(s, "nice weather", 0)
		}, codeNotInScript},
		{"no goodbye", func(s *wt.Stream) error { return s.Close() }, codeNotInScript},
	} {
		_, str := dialAlone(t, a)
		if err := c.send(str); err != nil {
			t.Fatal(err)
		}
		if code, reason := closedWith(t, str); code != c.code {
			t.Errorf("%s: closed with %d (%s), want %d", c.name, code, reason, c.code)
		}
	}
}

// TestGrandmaDropsASilentCaller: a grandchild who opens the stream and says
// nothing is dropped after grandma's silence bound.
func TestGrandmaDropsASilentCaller(t *testing.T) {
	const quiet = 300 * time.Millisecond
	a, rec := grandmaAlone(t, quiet)
	_, str := dialAlone(t, a)
	// The stream reaches grandma with its first bytes: the question.
	rec.Sent(rec.Want(timeline.Client, story.LabelQuestion, story.Question, ""))
	if err := writeLine(str, story.Question, 0); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	code, reason := closedWith(t, str)
	if code != codeSilent {
		t.Errorf("closed with %d (%s), want %d", code, reason, codeSilent)
	}
	if d := time.Since(start); d < quiet/2 || d > quiet+2*time.Second {
		t.Errorf("dropped after %v; want about %v", d, quiet)
	}
}

// TestCallerGoneMidCall: a grandchild whose connection closes mid-story
// leaves grandma's server with nothing running (goleak) and no error.
func TestCallerGoneMidCall(t *testing.T) {
	a, rec := grandmaAlone(t, 10*time.Second)
	sess, str := dialAlone(t, a)
	rec.Sent(rec.Want(timeline.Client, story.LabelQuestion, story.Question, ""))
	if err := writeLine(str, story.Question, 0); err != nil {
		t.Fatal(err)
	}
	r := newLineReader(str)
	if err := str.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := readLine(r); err != nil {
		t.Fatalf("reading her first sentence: %v", err)
	}
	_ = sess.CloseWithError(0, "")
}
