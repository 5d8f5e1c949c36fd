package dialtest_test

import (
	"fmt"
	"testing"

	"github.com/dialguard/dialguard/dialer/dialtest"
	"go.uber.org/goleak"
)

func TestOpenFDsCountsListeners(t *testing.T) {
	// Let stragglers of earlier tests (such as the losing attempt of a
	// net.Dialer fallback race, which closes its socket after the dial has
	// returned) finish, so that mostly this test opens and closes fds.
	goleak.VerifyNone(t)
	// Warm up: the first socket of the process also opens the runtime's
	// network poller.
	warm, err := dialtest.ListenHealthy("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	warm.Close()

	// The process may still open or close an fd of its own (pipes under
	// the race detector were seen on a loaded machine) between two counts,
	// so a mismatch is retried before failing.
	var err2 error
	for range 5 {
		if err2 = countListenerFDs(); err2 == nil {
			return
		}
		t.Log(err2)
	}
	t.Fatal(err2)
}

func countListenerFDs() error {
	before, err := dialtest.OpenFDs()
	if err != nil {
		return err
	}
	h, err := dialtest.ListenHealthy("127.0.0.1:0")
	if err != nil {
		return err
	}
	withHealthy, _ := dialtest.OpenFDs()
	h.Close()
	afterHealthy, _ := dialtest.OpenFDs()

	s, err := dialtest.ListenStalled("127.0.0.1:0")
	if err != nil {
		return err
	}
	withStalled, _ := dialtest.OpenFDs()
	s.Close()
	afterStalled, _ := dialtest.OpenFDs()

	if withHealthy != before+1 || afterHealthy != before ||
		withStalled != before+1+s.Fillers() || afterStalled != before {
		return fmt.Errorf("fds: %d before; Healthy open %d, closed %d; Stalled with %d filler(s) open %d, closed %d",
			before, withHealthy, afterHealthy, s.Fillers(), withStalled, afterStalled)
	}
	return nil
}

func TestCountSynSentIgnoresOtherPorts(t *testing.T) {
	n, err := dialtest.CountSynSent(0)
	if err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("CountSynSent(0) = %d, want 0", n)
	}
	s := dialtest.SampleSynSent(0, 0)
	if p := s.Stop(); p != 0 {
		t.Errorf("peak = %d, want 0", p)
	}
	s.Stop() // idempotent
}
