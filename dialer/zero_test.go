package dialer_test

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/dialguard/dialguard/breaker"
	"github.com/dialguard/dialguard/dialer"
	"github.com/dialguard/dialguard/dialer/dialtest"
)

// TestZeroDialerHasEveryDefault: a zero Dialer works as net.Dialer's zero
// value does, with every default of New(), set up on first use by many
// goroutines at once (run under -race in CI).
func TestZeroDialerHasEveryDefault(t *testing.T) {
	srv := dialtest.NewHealthy(t, "127.0.0.1:0")
	var d dialer.Dialer
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for range 16 {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			c, err := d.DialContext(ctx, "tcp", srv.String())
			if err != nil {
				errs <- err
				return
			}
			if _, ok := c.(*net.TCPConn); !ok {
				errs <- errors.New("not a *net.TCPConn")
			}
			c.Close()
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	st, ok := d.DestinationState(srv.String())
	if !ok || st.State != breaker.Closed || st.Counts.Successes != 16 {
		t.Errorf("DestinationState = %+v, %v; want the default breaker, closed, 16 successes", st, ok)
	}
	if tm, ok := d.DestinationTiming(srv.String()); !ok || tm.Samples != 16 {
		t.Errorf("DestinationTiming = %+v, %v; want 16 handshakes learnt", tm, ok)
	}
}

// TestZeroDialerIsProtected: the zero Dialer's defaults are dialguard's, not
// net.Dialer's: a stalled loopback address is a stall after 100 ms, and the
// breaker cuts it off.
func TestZeroDialerIsProtected(t *testing.T) {
	s := dialtest.NewStalled(t, "127.0.0.1:0")
	var d dialer.Dialer
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	_, err := d.DialContext(ctx, "tcp", s.String())
	if !errors.Is(err, dialer.ErrAttemptTimeout) && !errors.Is(err, dialer.ErrCircuitOpen) {
		t.Fatalf("err = %v, want a stall or an open breaker", err)
	}
	start := time.Now()
	_, err = d.DialContext(ctx, "tcp", s.String())
	if !errors.Is(err, dialer.ErrCircuitOpen) {
		t.Errorf("second dial: err = %v after %v, want ErrCircuitOpen", err, time.Since(start))
	}
	var fresh dialer.Dialer
	if _, ok := fresh.AddressState(s.Addr()); ok {
		t.Error("a fresh zero Dialer reports a breaker it never made")
	}
}

// portResolver is a dialtest.Resolver that also knows service names, as
// *net.Resolver does through LookupPort.
type portResolver struct {
	*dialtest.Resolver
	ports map[string]int
}

func (r portResolver) LookupPort(_ context.Context, network, service string) (int, error) {
	if p, ok := r.ports[service]; ok {
		return p, nil
	}
	return 0, &net.DNSError{Err: "unknown port", Name: network + "/" + service, IsNotFound: true}
}

// TestServiceNamesAndPortZeroAsInNet: a port given as a service name is
// looked up as net.Dialer looks it up (the Resolver's LookupPort when it
// has one, else the system's services database), and names the same
// destination as its number; port 0 is dialled, and refused, as in net.
func TestServiceNamesAndPortZeroAsInNet(t *testing.T) {
	srv := dialtest.NewHealthy(t, "127.0.0.1:0")
	res := portResolver{
		Resolver: dialtest.NewResolver(map[string]dialtest.Host{"svc.test": {IPv4: []netip.Addr{srv.Addr().Addr()}}}),
		ports:    map[string]int{"echo-test": int(srv.Addr().Port())},
	}
	d := newDialer(t, dialer.WithResolver(res))
	for _, address := range []string{"svc.test:echo-test", "127.0.0.1:echo-test"} {
		c, err := d.DialContext(t.Context(), "tcp", address)
		if err != nil {
			t.Fatalf("%s: %v", address, err)
		}
		c.Close()
	}
	if st, ok := d.DestinationState("svc.test:" + strconv.Itoa(int(srv.Addr().Port()))); !ok || st.Counts.Successes != 1 {
		t.Errorf("svc.test by number: %+v, %v; want the dial by service name counted there", st, ok)
	}
	_, err := d.DialContext(t.Context(), "tcp", "svc.test:no-such-svc")
	var dnsErr *net.DNSError
	if !errors.As(err, &dnsErr) || !strings.Contains(err.Error(), "unknown port") {
		t.Errorf("unknown service: err = %v, want the resolver's *net.DNSError", err)
	}

	// Without a LookupPort of its own, the system's services database.
	var plain dialer.Dialer
	_, err = plain.DialContext(t.Context(), "tcp", "127.0.0.1:http")
	if err != nil && !strings.Contains(err.Error(), "127.0.0.1:80") {
		t.Errorf("127.0.0.1:http: err = %v, want a dial of port 80", err)
	}
	_, err = plain.DialContext(t.Context(), "tcp", "127.0.0.1:0")
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("127.0.0.1:0: err = %v, want ECONNREFUSED, as net.Dialer gets", err)
	}
}

// TestLocalAddrLeavesOutTheOtherFamily: with a LocalAddr of one family, a
// name that has both is dialled on that family only, as net.Dialer does,
// and a name with none of it fails with net's "no suitable address found".
func TestLocalAddrLeavesOutTheOtherFamily(t *testing.T) {
	ds := dialtest.NewDualStack(t) // [::1]:P stalls, 127.0.0.1:P answers
	res := dialtest.NewResolver(map[string]dialtest.Host{
		"both.test":   {IPv6: []netip.Addr{netip.IPv6Loopback()}, IPv4: []netip.Addr{netip.MustParseAddr("127.0.0.1")}},
		"v6only.test": {IPv6: []netip.Addr{netip.IPv6Loopback()}},
	})
	var mu sync.Mutex
	var tried []netip.AddrPort
	d := newDialer(t, dialer.WithResolver(res),
		dialer.WithNetDialer(&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)}}),
		dialer.WithAttemptObserver(func(ai dialer.AttemptInfo) {
			mu.Lock()
			tried = append(tried, ai.Address)
			mu.Unlock()
		}))
	port := strconv.Itoa(int(ds.Port))
	start := time.Now()
	c, err := d.DialContext(t.Context(), "tcp", "both.test:"+port)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	mu.Lock()
	if len(tried) != 1 || !tried[0].Addr().Is4() {
		t.Errorf("attempts %v, want only 127.0.0.1 (the local address is IPv4)", tried)
	}
	mu.Unlock()
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("dial took %v", took)
	}
	_, err = d.DialContext(t.Context(), "tcp", "v6only.test:"+port)
	var ae *net.AddrError
	if !errors.As(err, &ae) || ae.Err != "no suitable address found" {
		t.Errorf("v6only.test from 127.0.0.1: err = %v, want net's \"no suitable address found\"", err)
	}
}

// TestNetDialerFieldsAreHonouredOrRefused: WithNetDialer's Resolver
// resolves, a positive FallbackDelay fixes the attempt delay, and what
// dialguard cannot honour is refused at New, naming the field.
func TestNetDialerFieldsAreHonouredOrRefused(t *testing.T) {
	srv := dialtest.NewHealthy(t, "127.0.0.1:0")
	dns := dialtest.NewDNSServer(map[string][]netip.Addr{"nd.test": {srv.Addr().Addr()}})
	t.Cleanup(func() { dns.Close() })
	d := newDialer(t, dialer.WithNetDialer(&net.Dialer{Resolver: dns.Resolver(), FallbackDelay: 40 * time.Millisecond}))
	c, err := d.DialContext(t.Context(), "tcp", net.JoinHostPort("nd.test", strconv.Itoa(int(srv.Addr().Port()))))
	if err != nil {
		t.Fatalf("a name known only to the net.Dialer's Resolver: %v", err)
	}
	c.Close()
	if tm, ok := d.DestinationTiming(net.JoinHostPort("nd.test", strconv.Itoa(int(srv.Addr().Port())))); !ok || tm.AttemptDelay != 40*time.Millisecond {
		t.Errorf("DestinationTiming = %+v, %v; want FallbackDelay's 40ms as the attempt delay", tm, ok)
	}
	for _, tc := range []struct {
		nd   net.Dialer
		want string
	}{
		{net.Dialer{Timeout: time.Second}, "Timeout"},
		{net.Dialer{Deadline: time.Now()}, "Deadline"},
		{net.Dialer{Cancel: make(chan struct{})}, "Cancel"},
		{net.Dialer{FallbackDelay: -1}, "FallbackDelay"},
		{net.Dialer{FallbackDelay: time.Millisecond}, "FallbackDelay"},
	} {
		if _, err := dialer.New(dialer.WithNetDialer(&tc.nd)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("New(WithNetDialer(%+v)) = %v, want an error naming %s", tc.nd, err, tc.want)
		}
	}
}
