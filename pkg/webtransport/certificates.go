package webtransport

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/http3"
	wt "github.com/quic-go/webtransport-go"
)

// Certificates is the certificate of a grandma who keeps answering
// (duplexdemo serve), made in memory and replaced by a new one a day
// before it expires: a browser accepts a certificate pinned by its hash
// only if it is valid for at most 14 days, and a class may run longer.
// Its methods are safe for concurrent use.
type Certificates struct {
	now func() time.Time

	mu   sync.Mutex
	cert tls.Certificate
	leaf *x509.Certificate
}

// NewCertificates makes the first certificate. now is the clock the
// certificates follow; nil means time.Now.
func NewCertificates(now func() time.Time) (*Certificates, error) {
	if now == nil {
		now = time.Now
	}
	c := &Certificates{now: now}
	if _, err := c.current(); err != nil {
		return nil, err
	}
	return c, nil
}

// current returns the certificate to present now, making a new one first
// if the one in use ends within renewBefore.
func (c *Certificates) current() (tls.Certificate, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	if c.leaf != nil && now.Add(renewBefore).Before(c.leaf.NotAfter) {
		return c.cert, nil
	}
	cert, leaf, err := newCertificate(now)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("grandma cannot make her certificate: %w", err)
	}
	c.cert, c.leaf = cert, leaf
	return cert, nil
}

// Hash returns the SHA-256 hash of the certificate presented now, in hex,
// and when it expires: what a caller pins (Info).
func (c *Certificates) Hash() (string, time.Time, error) {
	cert, err := c.current()
	if err != nil {
		return "", time.Time{}, err
	}
	h := sha256.Sum256(cert.Leaf.Raw)
	return hex.EncodeToString(h[:]), cert.Leaf.NotAfter, nil
}

// TLSConfig returns grandma's TLS configuration for HTTP/3: each handshake
// presents the certificate of the moment.
func (c *Certificates) TLSConfig() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS13, // QUIC's only version
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			cert, err := c.current()
			if err != nil {
				return nil, err
			}
			return &cert, nil
		},
	}
}

// pinnedHashes returns the TLS configuration of a grandchild who knows
// grandma's certificate only by its SHA-256 hashes (hex), as a browser
// does with serverCertificateHashes: the certificate presented must have
// one of them, be valid now, for at most 14 days, and be signed by its own
// key; its names are not checked (a classroom server is reached by any
// address). crypto/tls still checks that grandma holds the certificate's
// key (TLS 1.3's CertificateVerify) before VerifyConnection is called;
// InsecureSkipVerify only stops it looking for an authority that vouches
// for the certificate, which nobody does.
func pinnedHashes(hashes []string, now func() time.Time) (*tls.Config, error) {
	want := map[[sha256.Size]byte]bool{}
	for _, h := range hashes {
		b, err := hex.DecodeString(h)
		if err != nil || len(b) != sha256.Size {
			return nil, fmt.Errorf("grandma's certificate hash %q is not a SHA-256 hash in hex", h)
		}
		want[[sha256.Size]byte(b)] = true
	}
	if len(want) == 0 {
		return nil, errors.New("grandma named no certificate hash to pin")
	}
	return &tls.Config{
		MinVersion:         tls.VersionTLS13,
		InsecureSkipVerify: true, // see above: VerifyConnection pins the certificate
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("grandma presented no certificate")
			}
			leaf := cs.PeerCertificates[0]
			if got := sha256.Sum256(leaf.Raw); !want[got] {
				return fmt.Errorf("grandma's certificate has SHA-256 %x, not one she named", got)
			}
			if leaf.NotAfter.Sub(leaf.NotBefore) > maxCertValidity {
				return fmt.Errorf("grandma's certificate is valid for %v, more than a pinned certificate may be (%v)", leaf.NotAfter.Sub(leaf.NotBefore), maxCertValidity)
			}
			roots := x509.NewCertPool()
			roots.AddCert(leaf)
			_, err := leaf.Verify(x509.VerifyOptions{Roots: roots, CurrentTime: now(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
			return err
		},
	}, nil
}

// Info is what duplexdemo serve says at InfoPath: where to open a
// WebTransport session (URL, https://host:port/call, the host as the
// caller named it), and the SHA-256 hashes, in hex, of the certificates
// grandma may present there, for serverCertificateHashes.
//
// Its JSON begins with the URL: never with wire.RecordPrefix, which only
// her record begins with.
type Info struct {
	URL               string    `json:"url"`
	CertificateHashes []string  `json:"certificate_hashes"`
	Expires           time.Time `json:"expires"`
	Protocol          int       `json:"protocol"`
}

// NewServer returns the WebTransport server of a grandma who keeps
// answering (duplexdemo serve): HTTP/3 with certs' certificate of the
// moment, every request to h. handshake bounds QUIC's handshake and idle
// is a connection's idle timeout. It accepts every origin: h must check
// the Origin before it upgrades a request (Server.Upgrade), as only it
// knows which pages may call. The caller Serves it on a UDP socket and
// Closes it.
func NewServer(certs *Certificates, h http.Handler, handshake, idle time.Duration) *wt.Server {
	srv := &wt.Server{
		H3: &http3.Server{
			TLSConfig:  http3.ConfigureTLSConfig(certs.TLSConfig()),
			QUICConfig: quicConfig(handshake, idle),
			Handler:    h,
			ConnContext: func(ctx context.Context, c *quic.Conn) context.Context {
				return context.WithValue(ctx, quicConnKey{}, c)
			},
		},
		CheckOrigin: func(*http.Request) bool { return true }, // h checks: see above
	}
	return srv
}

// quicConnKey keys a request's QUIC connection in its context.
type quicConnKey struct{}

// QUICConn returns the QUIC connection a request to NewServer's handler
// came on.
func QUICConn(r *http.Request) (*quic.Conn, bool) {
	c, ok := r.Context().Value(quicConnKey{}).(*quic.Conn)
	return c, ok
}
