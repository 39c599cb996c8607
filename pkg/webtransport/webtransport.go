// Package webtransport plays the call over WebTransport: one session on
// HTTP/3, over one QUIC connection, over UDP. The conversation rides on
// one bidirectional stream, the call's, a line of text each, ended by a
// newline; each side has one goroutine that only reads it (it hears) and
// one that only writes it (it speaks), as on the phone. An urgent line
// (story.Script.Urgent: the interruption) goes on a bidirectional stream
// of its own in the same session, and grandma answers it there: QUIC
// delivers each stream's bytes apart, so it need not wait behind what the
// call's stream still carries, such as a photo.
//
// The streams are independent, but the link is not: every stream's
// packets queue for the one UDP path, in the order quic-go sends them.
// quic-go's congestion controller runs above the emulated link and sees
// its rate and its delay, so it keeps about a congestion window of the
// photo in flight (its first burst: ten packets), and an urgent line sent
// behind it queues behind that much, not behind the whole photo. Grandma
// leaves QUIC's stream windows as quic-go sets them: at 1 Mbit/s the
// congestion window stays under call.StreamWindow, so capping a stream's
// window to it (as HTTP/2 needs, whose congestion control is TCP's, in the
// kernel beneath the emulated link) changes nothing here, and on a faster
// link it would only slow the photo.
//
// The emulated link delays and counts the grandchild's UDP datagrams
// (link.WrapPacket), so QUIC's handshake costs its real round trips and
// the bytes counted are the UDP payloads that crossed. Grandma proves who
// she is with a self-signed ECDSA certificate made in memory when she
// answers, valid for less than 14 days, as a browser's
// serverCertificateHashes requires; the grandchild trusts nothing but
// that certificate's SHA-256 hash.
//
// Every wait on the timeline is measured: a line is sent when its side's
// writer starts writing it on the stream, and heard when its side's
// reader has read all of it, newline included.
package webtransport

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"time"

	"github.com/quic-go/quic-go"
	wt "github.com/quic-go/webtransport-go"

	"github.com/duplexdemo/duplexdemo/pkg/call"
	"github.com/duplexdemo/duplexdemo/pkg/link"
	"github.com/duplexdemo/duplexdemo/pkg/result"
	"github.com/duplexdemo/duplexdemo/pkg/timeline"
)

const (
	// Path is where grandma takes WebTransport sessions.
	Path = "/call"
	// InfoPath is where duplexdemo serve says, over HTTP on its TCP port,
	// where its WebTransport is and which certificate is hers (Info), and
	// RecordPath where she hands over her record of a call once it is over.
	InfoPath   = "/webtransport/session"
	RecordPath = "/webtransport/record"

	// writeWait bounds one write; a peer that stops reading (QUIC's flow
	// control stops the writer) is dropped.
	writeWait = 5 * time.Second
	// readWait bounds the silence between two lines from the peer, beyond
	// the script's own silences and one round trip of the link.
	readWait = 10 * time.Second
	// closeWait bounds how long a side that has said its last line waits
	// for the peer's, and for the end of the peer's side of the stream;
	// one round trip of the emulated link is added to it.
	closeWait = time.Second
	// handshakeTimeout bounds opening the session, beyond its two round
	// trips on the emulated link: QUIC's handshake, and the CONNECT
	// request that opens the session on HTTP/3. quic-go's own handshake
	// bound (quic.Config.HandshakeIdleTimeout) is set from it: its default
	// of 5 s is less than one round trip on the slowest link.
	handshakeTimeout = 5 * time.Second
	// certValidity is how long grandma's certificate is valid, from an
	// hour before she answers: Chromium accepts a certificate pinned by
	// serverCertificateHashes only if it is valid for at most 14 days.
	certValidity = 13 * 24 * time.Hour
	// renewBefore is how long before its end a certificate of a server
	// that keeps running (duplexdemo serve) is replaced by a new one: a
	// caller that has just been told its hash still finds it presented.
	renewBefore = 24 * time.Hour
	// maxCertValidity is the longest validity a pinned certificate may
	// have, as Chromium requires of serverCertificateHashes.
	maxCertValidity = 14 * 24 * time.Hour
	// remoteSlack multiplies the handshake's and the goodbye's bounds for
	// a grandma elsewhere: a classroom server may be busy with hundreds of
	// calls, and hands over her record over HTTP after her farewell.
	remoteSlack = 5
)

// Session error codes grandma closes a session with when she cannot go on;
// 0 is a normal end.
const (
	codeNormal      wt.SessionErrorCode = 0
	codeNotInScript wt.SessionErrorCode = 1 // a line she does not know or does not answer
	codeTooLong     wt.SessionErrorCode = 2 // a line over call.MaxLine
	codeSilent      wt.SessionErrorCode = 3 // no line for too long
	codeGoingAway   wt.SessionErrorCode = 4 // the call was stopped
	codeTooMany     wt.SessionErrorCode = 5 // more lines than a call says
	codeOutlasted   wt.SessionErrorCode = 6 // the call outlasted its script
)

// Stream error codes grandma resets an urgent line's stream with (both
// ways) when she will not take it; the call goes on. They share the
// session codes' numbers where they mean the same.
const (
	streamGone      wt.StreamErrorCode = 0 // her answer could not be written: the stream is given up
	streamNotUrgent wt.StreamErrorCode = 1 // no line of the script, or one that goes on the call's stream
	streamTooLong   wt.StreamErrorCode = 2 // a line over call.MaxLine
	streamSilent    wt.StreamErrorCode = 3 // no whole line and end of stream within the silence bound
	streamTooMany   wt.StreamErrorCode = 5 // more urgent streams than the script has urgent lines, or lines than a call says
	streamNotALine  wt.StreamErrorCode = 7 // not one line then the stream's end
)

// Mode is the call over WebTransport: what it is, and its two roles.
func Mode() call.Mode {
	return call.Mode{
		Mode: result.Mode{
			Key:            "webtransport",
			Name:           "WebTransport",
			Transport:      "WebTransport over HTTP/3 and QUIC (UDP), one session",
			ServerMayStart: true, // either side may write on the stream whenever it likes
		},
		Datagrams: true,
		Photo:     true, // grandma reads a line as long as the photo
		Title:     func(call.Config) string { return "WEBTRANSPORT: HTTP/3 over QUIC, both sides talk at once" },
		Help: call.Help{
			Short: "WebTransport: HTTP/3 over QUIC (UDP), a stream for the call, one for the interruption",
			Long: `webtransport plays the same call over WebTransport: an HTTP/3 session
over one QUIC connection, on UDP, the way a browser's WebTransport API
reaches a server. The conversation rides on one bidirectional QUIC
stream, a line of text each way whenever a side likes; the interruption,
urgent, goes on a stream of its own in the same session, and grandma
answers it there, so it need not wait behind a photo on the call's stream.

QUIC's handshake and the session's CONNECT request cost two round trips
before the first line. Then it is a phone call: grandma's story and the
grandchild's interruption cross at the same time, and her afterthought is
simply said. The emulated link delays every UDP datagram, and the bytes
counted are the UDP payloads that crossed it: QUIC's packets, encrypted.`,
			Example: `  duplexdemo webtransport
  duplexdemo webtransport --latency 150ms --pace 400ms
  duplexdemo webtransport --json`,
		},
		Local:  local,
		Remote: remote,
	}
}

// local sets up a call in this process. Grandma answers on a UDP socket of
// her own; the grandchild calls her from one behind the emulated link, and
// waits for her number and her certificate's hash, as a page waits for the
// server to tell it both.
func local(s *call.Session) call.Roles {
	return roles(s, &answering{ready: make(chan struct{})})
}

// roles are local's, with grandma telling the grandchild where she answers
// through answered.
func roles(s *call.Session, answered *answering) call.Roles {
	g := &Grandma{
		script:    s.Script,
		rec:       s.Rec,
		readWait:  s.Silence(readWait),
		closeWait: closeWait + s.RoundTrip(),
		handshake: handshakeTimeout + 2*s.RoundTrip(),
		idle:      s.Silence(readWait),
	}
	kid := &grandchild{
		script:    s.Script,
		rec:       s.Rec,
		session:   s,
		reach:     reachLocal(answered),
		readWait:  s.Silence(readWait),
		closeWait: closeWait + s.RoundTrip(),
		handshake: handshakeTimeout + 2*s.RoundTrip(),
	}
	return call.Roles{
		Serve: func(ctx context.Context, _ net.Listener) error {
			return g.serve(ctx, answered) // she answers on UDP, not on the call's TCP listener
		},
		Grandchild: kid.call,
		Facts:      kid.facts,
	}
}

// answering is how grandma tells the grandchild where she answers and
// which certificate is hers, once she does: ready is closed when addr and
// cert are set, or err if she cannot answer.
type answering struct {
	ready chan struct{}
	addr  net.Addr
	cert  *x509.Certificate
	err   error
	// socket is grandma's, counting what crossed on her side.
	socket *link.PacketConn
}

// newCertificate makes grandma's self-signed certificate for 127.0.0.1
// and localhost: an ECDSA P-256 key, valid from an hour before now for
// certValidity. It returns it for her TLS configuration, and parsed, for
// the grandchild to pin.
func newCertificate(now time.Time) (tls.Certificate, *x509.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	notBefore := now.Add(-time.Hour) // a client's clock a little behind
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "grandma"},
		NotBefore:             notBefore,
		NotAfter:              notBefore.Add(certValidity),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, leaf, nil
}

// pinned returns the grandchild's TLS configuration: she trusts one
// certificate, grandma's, and checks on every handshake that the one
// presented is it, by its SHA-256 hash, as a browser does with
// serverCertificateHashes. crypto/tls verifies it first as usual (its
// dates, its name, its use), with it as the only root: no authority
// vouches for it, and InsecureSkipVerify is never set.
func pinned(cert *x509.Certificate) *tls.Config {
	roots := x509.NewCertPool()
	roots.AddCert(cert)
	hash := sha256.Sum256(cert.Raw)
	return &tls.Config{
		MinVersion: tls.VersionTLS13, // QUIC's only version
		RootCAs:    roots,
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("grandma presented no certificate")
			}
			if got := sha256.Sum256(cs.PeerCertificates[0].Raw); got != hash {
				return fmt.Errorf("grandma's certificate has SHA-256 %x, not the pinned %x", got, hash)
			}
			return nil
		},
	}
}

// quicConfig is both sides' QUIC configuration: WebTransport needs
// datagrams and partial stream resets; the handshake is bounded by
// handshake (quic-go allows twice HandshakeIdleTimeout for all of it) and
// the connection may sit idle as long as the script can be silent.
func quicConfig(handshake, idle time.Duration) *quic.Config {
	return &quic.Config{
		HandshakeIdleTimeout:             handshake,
		MaxIdleTimeout:                   idle,
		EnableDatagrams:                  true,
		EnableStreamResetPartialDelivery: true,
	}
}

// errTooLong: a line longer than call.MaxLine.
var errTooLong = fmt.Errorf("a line longer than %d bytes", call.MaxLine)

// readLine reads one line from r (a reader of size call.MaxLine+1),
// without its newline. io.EOF means the peer ended its side of the stream
// between two lines; a line cut short by it is io.ErrUnexpectedEOF.
func readLine(r *bufio.Reader) (string, error) {
	line, err := r.ReadSlice('\n')
	switch {
	case errors.Is(err, bufio.ErrBufferFull):
		return "", errTooLong
	case err != nil && len(line) > 0 && errors.Is(err, io.EOF):
		return "", io.ErrUnexpectedEOF
	case err != nil:
		return "", err
	}
	return string(bytes.TrimSuffix(line, []byte{'\n'})), nil
}

// newLineReader returns a reader for readLine on a stream.
func newLineReader(str io.Reader) *bufio.Reader { return newLineReaderSize(str, call.MaxLine) }

// newLineReaderSize returns a reader for readLine of lines up to maxLine
// bytes: the grandchild's, whose photo may be longer than call.MaxLine
// (story.Script.MaxGrandchildLine).
func newLineReaderSize(str io.Reader, maxLine int) *bufio.Reader {
	return bufio.NewReaderSize(str, maxLine+1)
}

// writeLine writes text and its newline on str, in one write, bounded by
// writeWait and more, the time a line as long as the photo may take to
// cross (0 for any other). Only a side's writer goroutine may call it.
func writeLine(str interface {
	io.Writer
	SetWriteDeadline(time.Time) error
}, text string, more time.Duration) error {
	if err := str.SetWriteDeadline(time.Now().Add(writeWait + more)); err != nil {
		return err
	}
	_, err := str.Write(append([]byte(text), '\n'))
	return err
}

// utterance is a line someone wants to say, and the message it was
// recorded as.
type utterance struct {
	id    timeline.MsgID
	label string
	text  string
}
