package dialtest_test

import (
	"errors"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/dialguard/dialguard/dialer/dialtest"
)

func TestDualStackIPv4AnswersIPv6Stalls(t *testing.T) {
	d := dialtest.NewDualStack(t)
	if d.Stalled.Addr() != netip.AddrPortFrom(netip.IPv6Loopback(), d.Port) {
		t.Errorf("Stalled at %v, want [::1]:%d", d.Stalled.Addr(), d.Port)
	}
	if d.Healthy.Addr() != netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), d.Port) {
		t.Errorf("Healthy at %v, want 127.0.0.1:%d", d.Healthy.Addr(), d.Port)
	}

	c, err := net.DialTimeout("tcp", d.Healthy.String(), 10*time.Second)
	if err != nil {
		t.Fatalf("dial IPv4: %v", err)
	}
	c.Close()

	c, err = net.DialTimeout("tcp", d.Stalled.String(), 200*time.Millisecond)
	if err == nil {
		c.Close()
		t.Fatal("dial IPv6 connected, want a timeout")
	}
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("dial IPv6: %v, want a timeout", err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Fatalf("second Close = %v, want nil", err)
	}
}
