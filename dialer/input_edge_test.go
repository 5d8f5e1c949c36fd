package dialer_test

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strconv"
	"testing"

	"github.com/dialguard/dialguard/dialer"
	"github.com/dialguard/dialguard/dialer/dialtest"
)

// Input edge cases against net.Dialer (issue 20, item 7), on real loopback
// sockets.

// healthyOnBothFamilies listens on [::1] and 127.0.0.1 at one port, trying
// a few ports if the first is taken on 127.0.0.1.
func healthyOnBothFamilies(t *testing.T) (v6, v4 *dialtest.Healthy) {
	t.Helper()
	for range 5 {
		h6 := dialtest.NewHealthy(t, "[::1]:0")
		h4, err := dialtest.ListenHealthy(netip.AddrPortFrom(v4loop, h6.Addr().Port()).String())
		if err == nil {
			t.Cleanup(func() { h4.Close() })
			return h6, h4
		}
		h6.Close()
	}
	t.Fatal("no port free on both ::1 and 127.0.0.1")
	return nil, nil
}

// ":port" dials the local system, as net.Dialer does: the unspecified
// address, which the kernel connects to loopback (0.0.0.0, so 127.0.0.1,
// for tcp and tcp4; ::, so ::1, for tcp6). Each dial is made by both
// dialers, which must reach the same listener.
func TestAnEmptyHostDialsTheLocalSystemAsNetDoes(t *testing.T) {
	h6, h4 := healthyOnBothFamilies(t)
	port := strconv.Itoa(int(h6.Addr().Port()))
	d := newDialer(t)
	var std net.Dialer
	for _, tc := range []struct {
		network string
		want    *dialtest.Healthy
	}{
		{"tcp", h4},
		{"tcp4", h4},
		{"tcp6", h6},
	} {
		address := ":" + port
		t.Run(tc.network, func(t *testing.T) {
			for name, dial := range map[string]func(context.Context, string, string) (net.Conn, error){
				"net.Dialer": std.DialContext, "dialguard": d.DialContext,
			} {
				c, err := dial(t.Context(), tc.network, address)
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				got := c.RemoteAddr().(*net.TCPAddr).AddrPort()
				c.Close()
				if got != tc.want.Addr() {
					t.Errorf("%s connected to %v, want %v", name, got, tc.want.Addr())
				}
			}
		})
	}
}

// ":port" is a literal destination like any other: the spellings of the
// unspecified address share it, and a policy that denies the unspecified
// addresses (Internal does) denies it before any I/O.
func TestAnEmptyHostIsTheUnspecifiedAddressToThePolicy(t *testing.T) {
	d := newDialer(t, dialer.WithPolicy(dialer.Policy{Deny: dialer.Internal()}))
	for _, network := range []string{"tcp", "tcp4", "tcp6"} {
		_, err := d.DialContext(t.Context(), network, ":80")
		if !errors.Is(err, dialer.ErrDenied) {
			t.Errorf("%s :80: err = %v, want ErrDenied", network, err)
		}
	}
}

// A nil context (on which net.Dialer panics) fails every Dial method at
// once with a *net.OpError whose cause is ErrNilContext, before any
// lookup.
func TestANilContextFailsEveryDialWithErrNilContext(t *testing.T) {
	res := dialtest.NewResolver(map[string]dialtest.Host{"nil.test": {IPv4: []netip.Addr{v4loop}}})
	d := newDialer(t, dialer.WithResolver(res))
	loop := netip.AddrPortFrom(v4loop, 9)
	var nilCtx context.Context
	for name, dial := range map[string]func() (net.Conn, error){
		"DialContext tcp name":    func() (net.Conn, error) { return d.DialContext(nilCtx, "tcp", "nil.test:80") },
		"DialContext tcp4 name":   func() (net.Conn, error) { return d.DialContext(nilCtx, "tcp4", "nil.test:80") },
		"DialContext literal":     func() (net.Conn, error) { return d.DialContext(nilCtx, "tcp", "127.0.0.1:80") },
		"DialContext udp":         func() (net.Conn, error) { return d.DialContext(nilCtx, "udp", "127.0.0.1:80") },
		"DialContext bad network": func() (net.Conn, error) { return d.DialContext(nilCtx, "tcp5", "nil.test:80") },
		"DialContext bad address": func() (net.Conn, error) { return d.DialContext(nilCtx, "tcp", "nil.test") },
		"DialTLSContext":          func() (net.Conn, error) { return d.DialTLSContext(nilCtx, "tcp", "nil.test:443") },
		"DialGRPC":                func() (net.Conn, error) { return d.DialGRPC(nilCtx, "nil.test:80") },
		"DialTCP":                 func() (net.Conn, error) { return conn(d.DialTCP(nilCtx, "tcp", netip.AddrPort{}, loop)) },
		"DialUDP":                 func() (net.Conn, error) { return conn(d.DialUDP(nilCtx, "udp", netip.AddrPort{}, loop)) },
		"DialIP":                  func() (net.Conn, error) { return conn(d.DialIP(nilCtx, "ip4:icmp", netip.Addr{}, v4loop)) },
		"DialUnix": func() (net.Conn, error) {
			return conn(d.DialUnix(nilCtx, "unix", nil, &net.UnixAddr{Name: "/nonexistent", Net: "unix"}))
		},
	} {
		t.Run(name, func(t *testing.T) {
			c, err := dial()
			if c != nil {
				c.Close()
				t.Fatal("the dial succeeded")
			}
			var oe *net.OpError
			if !errors.Is(err, dialer.ErrNilContext) || !errors.As(err, &oe) || oe.Op != "dial" {
				t.Fatalf("err = %v (%T), want a dial *net.OpError wrapping ErrNilContext", err, err)
			}
			if oe.Timeout() || oe.Temporary() {
				t.Errorf("err = %v: a timeout or temporary, want bad input", err)
			}
		})
	}
	if n := res.Lookups("nil.test"); n != 0 {
		t.Errorf("%d lookups for dials with a nil context", n)
	}
}

// conn is a typed Dial method's result as a net.Conn, nil on error (not a
// typed nil).
func conn[C net.Conn](c C, err error) (net.Conn, error) {
	if err != nil {
		return nil, err
	}
	return c, nil
}
