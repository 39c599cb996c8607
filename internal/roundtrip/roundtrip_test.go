package roundtrip

import (
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestEcho carries a few lines on the gorilla echo, and leaves nothing
// running once its cleanup has run (goleak).
func TestEcho(t *testing.T) { Check(t, Echo(t)) }
