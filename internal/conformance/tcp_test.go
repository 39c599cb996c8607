package conformance

import "testing"

// TestTCP plays raw TCP calls with tcp.mjs, a client written from the raw
// TCP call's protocol notes alone with Node's net module.
func TestTCP(t *testing.T) { conform(t, "tcp") }
