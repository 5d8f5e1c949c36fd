package dialer_test

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/dialguard/dialguard/dialer"
	"github.com/dialguard/dialguard/dialer/dialtest"
)

// TestTypedDialsAsNetDialer: the typed dial methods net.Dialer has since
// Go 1.26, on a Dialer: DialTCP with the dialer's protections and a local
// address per call, the others handed to net.Dialer with the deadline.
func TestTypedDialsAsNetDialer(t *testing.T) {
	d := newDialer(t)
	srv := dialtest.NewHealthy(t, "127.0.0.1:0")
	c, err := d.DialTCP(t.Context(), "tcp", netip.MustParseAddrPort("127.0.0.2:0"), srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	if got := c.LocalAddr().(*net.TCPAddr).AddrPort().Addr(); got != netip.MustParseAddr("127.0.0.2") {
		t.Errorf("DialTCP's connection is from %v, want its laddr 127.0.0.2", got)
	}
	c.Close()

	// The protections: a stall is a stall, not the kernel's two minutes.
	s := dialtest.NewStalled(t, "127.0.0.1:0")
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if _, err := d.DialTCP(ctx, "tcp", netip.AddrPort{}, s.Addr()); !errors.Is(err, dialer.ErrAttemptTimeout) && !errors.Is(err, dialer.ErrCircuitOpen) {
		t.Errorf("DialTCP to a stalled address: err = %v, want a stall", err)
	}

	u, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	uc, err := d.DialUDP(t.Context(), "udp", netip.AddrPort{}, u.LocalAddr().(*net.UDPAddr).AddrPort())
	if err != nil {
		t.Fatal(err)
	}
	uc.Close()

	path := filepath.Join(t.TempDir(), "s")
	ul, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	defer ul.Close()
	xc, err := d.DialUnix(t.Context(), "unix", nil, &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	xc.Close()

	// Raw IP sockets need root: as root DialIP connects, otherwise it
	// fails as net.Dialer's does.
	ic, err := d.DialIP(t.Context(), "ip4:icmp", netip.Addr{}, netip.MustParseAddr("127.0.0.1"))
	switch {
	case os.Geteuid() == 0 && err != nil:
		t.Errorf("DialIP as root: %v", err)
	case os.Geteuid() != 0 && !errors.Is(err, os.ErrPermission):
		t.Errorf("DialIP without root: err = %v, want a permission error", err)
	}
	if ic != nil {
		ic.Close()
	}

	//lint:ignore SA1012 a nil context is the bad input under test
	if _, err := d.DialUDP(nil, "udp", netip.AddrPort{}, u.LocalAddr().(*net.UDPAddr).AddrPort()); err == nil { //nolint:staticcheck
		t.Error("DialUDP with a nil context succeeded")
	}

	var z dialer.Dialer
	z.SetMultipathTCP(true)
	if !z.MultipathTCP() {
		t.Error("SetMultipathTCP(true) did not stick")
	}
}
