package bench

import (
	"os"
	"testing"

	"go.uber.org/goleak"

	"github.com/dialguard/dialguard/dialer/dialtest/netlab"
)

// TestMain runs the benchmarks in a network namespace of their own where
// the lab can run (netlab.Isolate), so that nothing they dial can leave
// the machine, and checks that none of them leaves a goroutine behind.
func TestMain(m *testing.M) {
	if code, done := netlab.Isolate(); done {
		os.Exit(code)
	}
	goleak.VerifyTestMain(m)
}
