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

func TestDNSServerDelaysItsAnswers(t *testing.T) {
	s := dialtest.NewDNSServer(map[string][]netip.Addr{"slow.test": {netip.MustParseAddr("127.0.0.1")}})
	defer s.Close()
	r := s.Resolver()
	const delay = 200 * time.Millisecond
	s.SetDelay(delay)
	start := time.Now()
	if _, err := r.LookupNetIP(t.Context(), "ip4", "slow.test"); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took < delay {
		t.Errorf("lookup took %v, want at least the %v delay", took, delay)
	}

	// A lookup's own deadline still ends it: the resolver gives up on a
	// delayed answer.
	s.SetDelay(time.Hour)
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	if _, err := r.LookupNetIP(ctx, "ip4", "slow.test"); err == nil {
		t.Error("a lookup whose answer is an hour away succeeded")
	}

	// Close does not wait for a delayed answer.
	lookup := make(chan error, 1)
	go func() {
		_, err := r.LookupNetIP(context.Background(), "ip4", "slow.test")
		lookup <- err
	}()
	for deadline := time.Now().Add(10 * time.Second); s.Queries() < 3 && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	closed := make(chan struct{})
	go func() { s.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("Close waited for a delayed answer")
	}
	if err := <-lookup; err == nil {
		t.Error("the lookup cut short by Close succeeded")
	}
}
