package clients_test

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
)

// fatalRecorder is a testing.TB whose Fatalf records its message and ends
// the goroutine, as the real one does, without failing the test.
type fatalRecorder struct {
	testing.TB
	msg string
}

func (r *fatalRecorder) Helper() {}

func (r *fatalRecorder) Fatalf(format string, args ...any) {
	r.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// TestMissingServerFails checks that a server binary that is not
// installed fails the test, naming the Debian package to install, instead
// of skipping it.
func TestMissingServerFails(t *testing.T) {
	r := &fatalRecorder{TB: t}
	done := make(chan string)
	go func() {
		defer func() { done <- r.msg }()
		lookBinary(r, "dialguard-no-such-server", "dialguard-no-such-package", t.TempDir())
	}()
	msg := <-done
	if msg == "" {
		t.Fatal("lookBinary of a missing binary returned without failing")
	}
	for _, want := range []string{"dialguard-no-such-server", "apt-get install dialguard-no-such-package"} {
		if !strings.Contains(msg, want) {
			t.Errorf("failure %q does not name %q", msg, want)
		}
	}
}
