package webtransport

import (
	"crypto/ecdsa"
	"crypto/tls"
	"crypto/x509"
	"sync"
	"testing"
	"time"
)

// TestCertificatesRenewed: a grandma who keeps answering presents one
// certificate, ECDSA and valid at most 14 days, until a day before it
// ends; then a new one, whose hash she names from then on. A grandchild
// pinning the old hash is refused by the new certificate, in one line.
func TestCertificatesRenewed(t *testing.T) {
	var mu sync.Mutex
	now := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	c, err := NewCertificates(clock)
	if err != nil {
		t.Fatal(err)
	}
	presented := func() *tls.Certificate {
		t.Helper()
		cert, err := c.TLSConfig().GetCertificate(&tls.ClientHelloInfo{})
		if err != nil {
			t.Fatal(err)
		}
		return cert
	}
	first, _, err := c.Hash()
	if err != nil {
		t.Fatal(err)
	}
	leaf := presented().Leaf
	if _, ok := leaf.PublicKey.(*ecdsa.PublicKey); !ok || leaf.NotAfter.Sub(leaf.NotBefore) > maxCertValidity {
		t.Fatalf("certificate: key %T, valid %v; want ECDSA, at most %v", leaf.PublicKey, leaf.NotAfter.Sub(leaf.NotBefore), maxCertValidity)
	}
	advance(10 * 24 * time.Hour) // still over a day left
	if h, _, _ := c.Hash(); h != first {
		t.Errorf("renewed after 10 days; want the same certificate until a day before its end")
	}
	advance(3 * 24 * time.Hour) // less than a day left
	second, expires, err := c.Hash()
	if err != nil {
		t.Fatal(err)
	}
	if second == first || !expires.After(clock().Add(12*24*time.Hour)) {
		t.Fatalf("after 13 days: hash %s (first %s), expires %v; want a new certificate, valid for days", second, first, expires)
	}
	if got := presented(); got.Leaf.NotAfter != expires {
		t.Errorf("the certificate presented ends %v, the one named %v", got.Leaf.NotAfter, expires)
	}
	// The old hash no longer fits; the new one does, until its end.
	newLeaf := []*x509.Certificate{presented().Leaf}
	old, err := pinnedHashes([]string{first}, clock)
	if err != nil {
		t.Fatal(err)
	}
	if err := old.VerifyConnection(tls.ConnectionState{PeerCertificates: newLeaf}); err == nil {
		t.Error("a grandchild pinning the old hash accepted the new certificate")
	}
	fresh, err := pinnedHashes([]string{second}, clock)
	if err != nil {
		t.Fatal(err)
	}
	if err := fresh.VerifyConnection(tls.ConnectionState{PeerCertificates: newLeaf}); err != nil {
		t.Errorf("the new hash: %v", err)
	}
	late, err := pinnedHashes([]string{second}, func() time.Time { return expires.Add(time.Minute) })
	if err != nil {
		t.Fatal(err)
	}
	if err := late.VerifyConnection(tls.ConnectionState{PeerCertificates: newLeaf}); err == nil {
		t.Error("a certificate past its end was accepted")
	}
}
