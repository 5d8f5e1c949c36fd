package dialtest

import "testing"

// A Stalled's accept queue is full, as the kernel counts it, when
// ListenStalled returns: that, not a connect that was slow to finish, is
// what makes every later SYN drop.
func TestStalledQueueIsFullByTheKernelsCount(t *testing.T) {
	for _, addr := range []string{"127.0.0.1:0", "[::1]:0"} {
		s := NewStalled(t, addr)
		full, err := s.queueFull()
		if err != nil {
			t.Fatal(err)
		}
		if !full {
			t.Errorf("%v: accept queue not full after ListenStalled (%d fillers)", s, s.Fillers())
		}
	}
}
