package netlab_test

import (
	"net"
	"net/netip"
	"os"
	"strings"
	"testing"

	"github.com/vishvananda/netlink"

	"github.com/dialguard/dialguard/dialer/dialtest/netlab"
)

// TestTheTestsRunIsolated checks what Isolate promised: the test runs in a
// namespace of its own whose only device is loopback (until a lab adds
// its own), with no default route, so that an address outside the lab has
// no route at all and nothing can leave the machine.
func TestTheTestsRunIsolated(t *testing.T) {
	lab := netlab.NewLab(t)
	h := lab.NewHost(t, netlab.Config{})
	own, _ := os.Readlink("/proc/self/ns/net")
	init, _ := os.Readlink("/proc/1/ns/net")
	if own == init {
		t.Fatalf("the test runs in the namespace of process 1 (%s)", own)
	}
	links, err := netlink.LinkList()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range links {
		if n := l.Attrs().Name; n != "lo" && !strings.HasPrefix(n, "dglab") {
			t.Errorf("device %s in the test's namespace", n)
		}
	}
	// Route look-ups only: nothing is sent.
	for _, ip := range []string{"192.0.2.1", "2001:db8::1", "203.0.113.1"} {
		if r, err := netlink.RouteGet(net.ParseIP(ip)); err == nil {
			t.Errorf("%s has a route (%v), want none", ip, r)
		}
		if err := lab.CheckRoute(netip.MustParseAddr(ip)); err == nil {
			t.Errorf("CheckRoute(%s) = nil, want an error", ip)
		}
	}
	for _, ip := range h.Addrs() {
		if err := lab.CheckRoute(ip); err != nil {
			t.Errorf("CheckRoute(%v) of a lab host: %v", ip, err)
		}
	}
	// A lab address no host has is on no lab link.
	if err := lab.CheckRoute(netip.MustParseAddr("198.19.200.1")); err == nil {
		t.Error("CheckRoute(198.19.200.1), an address of no host, = nil, want an error")
	}
}
