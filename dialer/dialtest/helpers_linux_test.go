package dialtest_test

import (
	"testing"
	"time"

	"github.com/dialguard/dialguard/dialer/dialtest"
)

// waitSynSent polls CountSynSent(port) until cond holds, failing the test
// after a generous bound.
func waitSynSent(t *testing.T, port uint16, what string, cond func(n int) bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		n, err := dialtest.CountSynSent(port)
		if err != nil {
			t.Fatal(err)
		}
		if cond(n) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("SYN_SENT toward port %d: %d, want %s", port, n, what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}
