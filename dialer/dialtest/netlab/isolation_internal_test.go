package netlab

import (
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestNewRefusesANamespaceThatIsNotIsolated adds a device that is not the
// lab's to the test's namespace: New must refuse to build a lab there.
func TestNewRefusesANamespaceThatIsNotIsolated(t *testing.T) {
	if err := Available(); err != nil {
		t.Skip(err)
	}
	if _, err := New(); err != nil {
		t.Fatalf("New in the isolated namespace: %v", err)
	}
	fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	ifr, _ := unix.NewIfreq("uplink0")
	ifr.SetUint16(unix.IFF_TUN | unix.IFF_NO_PI)
	if err := unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr); err != nil {
		t.Fatal(err)
	}
	l, err := New()
	if err == nil {
		l.Close()
		t.Fatal("New with device uplink0 in the namespace succeeded, want an error")
	}
	if !strings.Contains(err.Error(), "uplink0") || !strings.Contains(err.Error(), "Isolate") {
		t.Errorf("New: %v, want it to name uplink0 and Isolate", err)
	}
}
