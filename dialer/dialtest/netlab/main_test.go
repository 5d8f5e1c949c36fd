package netlab_test

import (
	"os"
	"testing"

	"go.uber.org/goleak"

	"github.com/dialguard/dialguard/dialer/dialtest/netlab"
)

func TestMain(m *testing.M) {
	if code, done := netlab.Isolate(); done {
		os.Exit(code)
	}
	goleak.VerifyTestMain(m)
}
