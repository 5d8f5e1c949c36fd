package netlab_test

import (
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/dialguard/dialguard/dialer/dialtest/netlab"
)

// labDevices returns the names of the lab's devices in the test's
// namespace.
func labDevices(t *testing.T) []string {
	t.Helper()
	links, err := netlink.LinkList()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, l := range links {
		if n := l.Attrs().Name; strings.HasPrefix(n, "dglab") {
			names = append(names, n)
		}
	}
	return names
}

// foreignThreads counts the process's threads that are in another network
// namespace than the process's own.
func foreignThreads(t *testing.T) int {
	t.Helper()
	own, err := os.Readlink("/proc/self/ns/net")
	if err != nil {
		t.Fatal(err)
	}
	tasks, _ := filepath.Glob("/proc/self/task/*/ns/net")
	n := 0
	for _, p := range tasks {
		if ns, err := os.Readlink(p); err == nil && ns != own {
			n++
		}
	}
	return n
}

// openFiles counts the process's open descriptors by kind ("socket",
// "anon_inode:[eventfd]", "/dev/net/tun", ...). Pipes are left out: they
// belong to the runtime's pool for io.Copy's splice (the echo servers use
// it), which grows with concurrency and shrinks only when the garbage
// collector finalizes them.
func openFiles(t *testing.T) map[string]int {
	t.Helper()
	paths, err := filepath.Glob("/proc/self/fd/*")
	if err != nil {
		t.Fatal(err)
	}
	kinds := make(map[string]int)
	for _, p := range paths {
		target, err := os.Readlink(p)
		if err != nil {
			continue // the Glob's own descriptor, closed since
		}
		if strings.HasPrefix(target, "pipe:") {
			continue
		}
		kind, _, _ := strings.Cut(target, ":[")
		kinds[kind]++
	}
	return kinds
}

// useLab makes a lab with three hosts, one of every endpoint and a dial to
// each host, the way a test would.
func useLab(t *testing.T) *netlab.Lab {
	t.Helper()
	lab := netlab.NewLab(t)
	for _, rtt := range []time.Duration{time.Millisecond, 5 * time.Millisecond, 20 * time.Millisecond} {
		h := lab.NewHost(t, netlab.Symmetric(rtt, 0, 0.01))
		srv := h.NewHealthy(t, at(h.IPv4(), 0))
		h.NewRefused(t, at(h.IPv6(), 0))
		h.NewStalled(t, at(h.IPv4(), 0))
		h.NewSilentTLS(t, at(h.IPv6(), 0))
		if _, err := dialTime(t, srv.String(), 5*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	return lab
}

// TestCloseLeavesNothingBehind uses a lab in a subtest and checks, after
// its cleanup, that no descriptor, device or thread in a host's namespace
// remains (goroutines are checked by goleak in TestMain). A thread left in
// a host's namespace would also keep that namespace alive.
func TestCloseLeavesNothingBehind(t *testing.T) {
	if netlab.Available() != nil {
		netlab.NewLab(t) // skips with the reason
	}
	// A first use lets the runtime make what it keeps for the process (the
	// pipes of io.Copy's splice pool, in the echo servers).
	t.Run("warm-up", func(t *testing.T) { useLab(t) })
	fds := openFiles(t)
	devices := labDevices(t)
	t.Run("use", func(t *testing.T) { useLab(t) })
	if !waitFor(2*time.Second, func() bool { return foreignThreads(t) == 0 }) {
		t.Errorf("%d threads still in a host's namespace", foreignThreads(t))
	}
	if after := labDevices(t); len(after) != len(devices) {
		t.Errorf("lab devices before: %v, after: %v", devices, after)
	}
	if after := openFiles(t); !maps.Equal(after, fds) {
		t.Errorf("open descriptors by kind: %v before, %v after", fds, after)
	}
}

// TestFailingOrPanickingTestLeavesNothingBehind runs a test that fails, and
// one that panics, in a child process sharing this namespace, and checks
// that no lab device of theirs is left here.
func TestFailingOrPanickingTestLeavesNothingBehind(t *testing.T) {
	if os.Getenv("NETLAB_HELPER") != "" {
		return
	}
	if netlab.Available() != nil {
		netlab.NewLab(t) // skips with the reason
	}
	devices := labDevices(t)
	for _, helper := range []string{"TestHelperFails", "TestHelperPanics"} {
		cmd := exec.Command(os.Args[0], "-test.run=^"+helper+"$", "-test.count=1")
		cmd.Env = append(os.Environ(), "NETLAB_HELPER=1")
		out, err := cmd.CombinedOutput()
		if err == nil || !strings.Contains(string(out), "lab in use") {
			t.Fatalf("%s: err %v, output:\n%s", helper, err, out)
		}
		if after := labDevices(t); len(after) != len(devices) {
			t.Errorf("%s: lab devices before: %v, after: %v", helper, devices, after)
		}
	}
}

func TestHelperFails(t *testing.T) {
	if os.Getenv("NETLAB_HELPER") == "" {
		t.Skip("run by TestFailingOrPanickingTestLeavesNothingBehind")
	}
	useLab(t)
	t.Fatal("lab in use: failing on purpose")
}

func TestHelperPanics(t *testing.T) {
	if os.Getenv("NETLAB_HELPER") == "" {
		t.Skip("run by TestFailingOrPanickingTestLeavesNothingBehind")
	}
	useLab(t)
	panic("lab in use: panicking on purpose")
}
