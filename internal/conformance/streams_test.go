package conformance

import "testing"

// TestH1full plays h1full calls with h1full.mjs, a client written from the
// h1full call's protocol notes alone with Node's http module: one HTTP/1.1
// POST whose chunked body streams the grandchild's lines while grandma's
// chunked answer streams hers.
func TestH1full(t *testing.T) { conform(t, "h1full") }

// TestH2 plays h2 calls with h2.mjs, a client written from the h2 call's
// protocol notes alone with Node's http2 module: HTTP/2 with prior
// knowledge, the call's stream both ways and the interruption on a stream
// of its own.
func TestH2(t *testing.T) { conform(t, "h2") }
