package clients_test

import (
	"context"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/dialguard/dialguard/dialer/dialtest"
)

// TestCountSynSent checks countSynSent against dialtest.CountSynSent:
// with n dials waiting on a Stalled, both count n, and 0 once they ended.
func TestCountSynSent(t *testing.T) {
	st := dialtest.NewStalled(t, "[::1]:0")
	port := st.Addr().Port()
	const n = 5
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			var d net.Dialer
			if c, err := d.DialContext(ctx, "tcp", st.String()); err == nil {
				c.Close()
			}
		})
	}
	// Wait (bounded) until the kernel shows all n, by the /proc count.
	deadline := time.Now().Add(5 * time.Second)
	for {
		got, err := dialtest.CountSynSent(port)
		if err != nil {
			t.Fatal(err)
		}
		if got == n || time.Now().After(deadline) {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	got, err := countSynSent(port)
	want, err2 := dialtest.CountSynSent(port)
	if err != nil || err2 != nil {
		t.Fatal(err, err2)
	}
	if got != n || want != n {
		t.Errorf("with %d dials waiting: countSynSent = %d, dialtest.CountSynSent = %d, want %d", n, got, want, n)
	}
	cancel()
	wg.Wait()
	if got, err := countSynSent(port); err != nil || got != 0 {
		t.Errorf("after the dials ended: countSynSent = %d, %v, want 0", got, err)
	}
}
