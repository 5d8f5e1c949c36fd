package dialtest_test

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/dialguard/dialguard/dialer/dialtest"
	"go.uber.org/goleak"
)

func TestDNSServerFeedsTheStandardResolver(t *testing.T) {
	h := dialtest.NewHealthy(t, "127.0.0.1:0")
	s := dialtest.NewDNSServer(map[string][]netip.Addr{
		"incident.test": {v4},
		"Both.Test.":    {v6, v4},
	})
	s.Set("v6only.test", []netip.Addr{v6})
	res := s.Resolver()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	d := net.Dialer{Resolver: res, Timeout: 10 * time.Second}
	c, err := d.DialContext(ctx, "tcp", net.JoinHostPort("incident.test", strconv.Itoa(int(h.Addr().Port()))))
	if err != nil {
		t.Fatalf("dial incident.test: %v", err)
	}
	if got := c.RemoteAddr().(*net.TCPAddr).AddrPort(); got != h.Addr() {
		t.Errorf("connected to %v, want %v", got, h.Addr())
	}
	c.Close()

	got, err := res.LookupNetIP(ctx, "ip", "both.test")
	if err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(got, netip.Addr.Compare)
	if want := []netip.Addr{v4, v6}; !slices.Equal(got, want) {
		t.Errorf("LookupNetIP(ip, both.test) = %v, want %v in any order", got, want)
	}
	for _, q := range []struct{ network, name string }{
		{"ip4", "v6only.test"}, // NOERROR without answers
		{"ip", "unknown.test"}, // NXDOMAIN
		{"ip", "unknown.test."},
	} {
		got, err := res.LookupNetIP(ctx, q.network, q.name)
		var dnsErr *net.DNSError
		if !errors.As(err, &dnsErr) || !dnsErr.IsNotFound {
			t.Errorf("LookupNetIP(%s, %s) = %v, %v; want a not-found *net.DNSError", q.network, q.name, got, err)
		}
	}
	if n := s.Queries(); n < 6 {
		t.Errorf("Queries() = %d, want at least 6", n)
	}

	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := res.LookupNetIP(ctx, "ip", "incident.test"); err == nil {
		t.Error("lookup after Close succeeded")
	}
	h.Close()
	goleak.VerifyNone(t)
}

func TestDNSServerCloseEndsOpenConnections(t *testing.T) {
	s := dialtest.NewDNSServer(nil)
	// Dial as the resolver would, and leave the connection open.
	c, err := s.Resolver().Dial(context.Background(), "udp", "127.0.0.1:53")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	goleak.VerifyNone(t)
}
