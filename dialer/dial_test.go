package dialer_test

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/dialguard/dialguard/dialer"
	"github.com/dialguard/dialguard/dialer/dialtest"
)

// These tests dial real sockets on loopback: stalled listeners (full accept
// queues), refused ports, and both families on one port. Their time bounds
// are generous so they hold on a loaded two-core machine; the exact timing
// is tested in race_test.go with synctest.

var (
	v6loop = netip.MustParseAddr("::1")
	v4loop = netip.MustParseAddr("127.0.0.1")
)

func hostPort(host string, port uint16) string {
	return net.JoinHostPort(host, strconv.Itoa(int(port)))
}

func newDialer(t testing.TB, opts ...dialer.Option) *dialer.Dialer {
	t.Helper()
	d, err := dialer.New(opts...)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// attempts records the attempts a dialer makes.
type attempts struct {
	mu   sync.Mutex
	list []dialer.AttemptInfo
}

func (a *attempts) observe(i dialer.AttemptInfo) {
	a.mu.Lock()
	a.list = append(a.list, i)
	a.mu.Unlock()
}

func (a *attempts) all() []dialer.AttemptInfo {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]dialer.AttemptInfo(nil), a.list...)
}

func (a *attempts) reset() {
	a.mu.Lock()
	a.list = nil
	a.mu.Unlock()
}

func TestIncidentOnlyTheFirstDialPaysTheAttemptDelay(t *testing.T) {
	ds := dialtest.NewDualStack(t)
	res := dialtest.NewResolver(map[string]dialtest.Host{
		"incident.test": {IPv6: []netip.Addr{v6loop}, IPv4: []netip.Addr{v4loop}},
	})
	var seen attempts
	const delay = 250 * time.Millisecond
	d := newDialer(t, dialer.WithResolver(res), dialer.WithAttemptDelay(delay), dialer.WithAttemptObserver(seen.observe))
	target := hostPort("incident.test", ds.Port)
	healthy := netip.AddrPortFrom(v4loop, ds.Port)

	start := time.Now()
	c, err := d.DialContext(t.Context(), "tcp", target)
	first := time.Since(start)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.RemoteAddr().(*net.TCPAddr).AddrPort(); got != healthy {
		t.Errorf("first dial connected to %v, want %v", got, healthy)
	}
	c.Close()
	if first < delay || first > delay+time.Second {
		t.Errorf("first dial took %v, want the attempt delay (%v) plus a margin", first, delay)
	}

	seen.reset()
	for i := range 30 {
		start := time.Now()
		c, err := d.DialContext(t.Context(), "tcp", target)
		if err != nil {
			t.Fatalf("dial %d: %v", i+2, err)
		}
		if _, ok := c.(*net.TCPConn); !ok {
			t.Fatalf("dial returned %T, want *net.TCPConn", c)
		}
		c.Close()
		if took := time.Since(start); took >= delay {
			t.Errorf("dial %d took %v: it paid the attempt delay again", i+2, took)
		}
	}
	for _, a := range seen.all() {
		if a.Address != healthy || a.Outcome != dialer.Connected {
			t.Errorf("later dial attempted %v (%v); want only %v", a.Address, a.Outcome, healthy)
		}
	}
	// ::1 lost the first race while suspect: the memory keeps it out, but
	// it was never confirmed as a stall, so its breaker was not charged.
	if st, ok := d.AddressState(netip.AddrPortFrom(v6loop, ds.Port)); !ok || st.Counts.Failures != 0 {
		t.Errorf("stalled ::1 breaker = %+v, %v; want no failure: a lost race is not a stall", st, ok)
	}
}

func TestFiveAddressesOnlyTheLastAnswers(t *testing.T) {
	first := dialtest.NewStalled(t, "127.0.0.1:0")
	port := first.Addr().Port()
	ips := []netip.Addr{v4loop}
	for i := 2; i <= 4; i++ {
		s := dialtest.NewStalled(t, hostPort("127.0.0."+strconv.Itoa(i), port))
		ips = append(ips, s.Addr().Addr())
	}
	h := dialtest.NewHealthy(t, hostPort("127.0.0.5", port))
	ips = append(ips, h.Addr().Addr())
	res := dialtest.NewResolver(map[string]dialtest.Host{"five.test": {IPv4: ips}})
	d := newDialer(t, dialer.WithResolver(res), dialer.WithAttemptDelay(50*time.Millisecond), dialer.WithAttemptTimeout(5*time.Second))

	start := time.Now()
	c, err := d.DialContext(t.Context(), "tcp", hostPort("five.test", port))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if got := c.RemoteAddr().(*net.TCPAddr).AddrPort(); got != h.Addr() {
		t.Errorf("connected to %v, want %v", got, h.Addr())
	}
	if took := time.Since(start); took < 200*time.Millisecond || took > 3*time.Second {
		t.Errorf("dial took %v, want four attempt delays (200ms) plus a margin", took)
	}
}

func TestAllRefusedFailsFastWithTheFirstCause(t *testing.T) {
	r1 := dialtest.NewRefused(t, "127.0.0.1:0")
	port := r1.Addr().Port()
	r2 := dialtest.NewRefused(t, hostPort("127.0.0.2", port))
	r3 := dialtest.NewRefused(t, hostPort("127.0.0.3", port))
	res := dialtest.NewResolver(map[string]dialtest.Host{
		"refused.test": {IPv4: []netip.Addr{r1.Addr().Addr(), r2.Addr().Addr(), r3.Addr().Addr()}},
	})
	d := newDialer(t, dialer.WithResolver(res), dialer.WithAttemptDelay(2*time.Second), dialer.WithMaxRetries(0))
	start := time.Now()
	_, err := d.DialContext(t.Context(), "tcp", hostPort("refused.test", port))
	if took := time.Since(start); took > time.Second {
		t.Errorf("dial took %v; refusals must not wait for the attempt delay (2s)", took)
	}
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("err = %v, want ECONNREFUSED", err)
	}
	var oe *net.OpError
	var ae *dialer.AddressesError
	if !errors.As(err, &oe) || oe.Op != "dial" || !errors.As(err, &ae) {
		t.Fatalf("err = %#v, want *net.OpError wrapping *dialer.AddressesError", err)
	}
	if ae.Tried != 3 || ae.FirstAddr != r1.Addr() {
		t.Errorf("tried %d, first %v; want 3, %v", ae.Tried, ae.FirstAddr, r1.Addr())
	}
}

func TestCancelDuringAStallReturnsAtOnce(t *testing.T) {
	s := dialtest.NewStalled(t, "127.0.0.1:0")
	d := newDialer(t, dialer.WithAttemptTimeout(time.Minute))
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	start := time.Now()
	go func() {
		_, err := d.DialContext(ctx, "tcp", s.String())
		done <- err
	}()
	waitSynSent(t, s.Addr().Port(), 1)
	cancel()
	err := <-done
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("dial returned %v after start", took)
	}
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
	var oe *net.OpError
	if !errors.As(err, &oe) || oe.Op != "dial" {
		t.Errorf("err = %#v, want *net.OpError", err)
	}
	if st, ok := d.DestinationState(s.String()); ok && st.Counts.Failures != 0 {
		t.Errorf("cancellation counted as a failure: %+v", st)
	}
}

func TestDeadlinesBoundTheDial(t *testing.T) {
	s := dialtest.NewStalled(t, "127.0.0.1:0")
	oneAttempt := []dialer.Option{dialer.WithAttemptTimeout(300 * time.Millisecond), dialer.WithMaxRetries(0)}
	// Attempts that outlast the deadline, so that the deadline ends the
	// dial (a loopback stall is otherwise confirmed after 100 ms, and the
	// retries stop early when their wait would cross the deadline).
	longAttempts := []dialer.Option{dialer.WithAttemptTimeout(10 * time.Second)}
	cases := []struct {
		name    string
		opts    []dialer.Option
		ctxWait time.Duration
		want    time.Duration
		// uncancellable dials with context.Background, whose Done is nil:
		// the attempt's deadline must still reach the socket.
		uncancellable bool
	}{
		{"the context's deadline", longAttempts, 300 * time.Millisecond, 300 * time.Millisecond, false},
		{"WithTimeout", append([]dialer.Option{dialer.WithTimeout(300 * time.Millisecond)}, longAttempts...), 0, 300 * time.Millisecond, false},
		{"the attempt timeout, without retries", oneAttempt, 0, 300 * time.Millisecond, false},
		{"WithTimeout, context.Background", append([]dialer.Option{dialer.WithTimeout(300 * time.Millisecond)}, longAttempts...), 0, 300 * time.Millisecond, true},
		{"the attempt timeout, context.Background", oneAttempt, 0, 300 * time.Millisecond, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			opts := append([]dialer.Option{dialer.WithoutBreaker()}, tc.opts...)
			d := newDialer(t, opts...)
			ctx := t.Context()
			if tc.uncancellable {
				ctx = context.Background()
			}
			start := time.Now() // before the context's deadline, which counts from its own now
			if tc.ctxWait > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tc.ctxWait)
				defer cancel()
			}
			_, err := d.DialContext(ctx, "tcp", s.String())
			took := time.Since(start)
			if took < tc.want || took > tc.want+2*time.Second {
				t.Errorf("dial took %v, want %v plus a margin", took, tc.want)
			}
			var ne net.Error
			if !errors.As(err, &ne) || !ne.Timeout() {
				t.Errorf("err = %v, want a net.Error timeout", err)
			}
		})
	}
}

func TestNoDescriptorLeaksAfterConcurrentRaces(t *testing.T) {
	// Both families answer; the IPv6 attempt is held back in Control past
	// the attempt delay, so IPv4 wins and many IPv6 attempts connect late
	// and must be closed by the race.
	h4 := dialtest.NewHealthy(t, "127.0.0.1:0")
	h6 := dialtest.NewHealthy(t, hostPort("::1", h4.Addr().Port()))
	res := dialtest.NewResolver(map[string]dialtest.Host{
		"both.test": {IPv6: []netip.Addr{v6loop}, IPv4: []netip.Addr{v4loop}},
	})
	slow6 := &net.Dialer{Control: func(network, address string, _ syscall.RawConn) error {
		if network == "tcp6" {
			time.Sleep(20 * time.Millisecond)
		}
		return nil
	}}
	target := hostPort("both.test", h4.Addr().Port())
	runRaces := func() {
		var wg sync.WaitGroup
		var failed atomic.Int32
		for range 200 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				// A fresh dialer each time, so every dial races.
				d, err := dialer.New(dialer.WithResolver(res), dialer.WithNetDialer(slow6),
					dialer.WithAttemptDelay(10*time.Millisecond), dialer.WithAdmissionLimit(0))
				if err != nil {
					failed.Add(1)
					return
				}
				c, err := d.DialContext(t.Context(), "tcp", target)
				if err != nil {
					failed.Add(1)
					return
				}
				c.Close()
			}()
		}
		wg.Wait()
		if n := failed.Load(); n > 0 {
			t.Errorf("%d of 200 dials failed", n)
		}
	}
	runRaces() // warm up: the runtime's own descriptors (netpoll) settle
	before, err := dialtest.OpenFDs()
	if err != nil {
		t.Fatal(err)
	}
	runRaces()
	// Accepted connections close when the listener's echo goroutines see
	// EOF; give them a moment, bounded.
	var after int
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		runtime.GC() // lets the runtime's pooled splice pipes (io.Copy) go
		if after, _ = dialtest.OpenFDs(); after <= before {
			break
		}
	}
	if after > before {
		t.Errorf("open descriptors %d before, %d after 200 raced dials", before, after)
	}
	if h6.Accepted() == 0 {
		t.Errorf("no IPv6 attempt connected: the test did not produce late winners")
	}
}

func TestBadInputFailsBeforeAnyIO(t *testing.T) {
	res := dialtest.NewResolver(nil)
	d := newDialer(t, dialer.WithResolver(res))
	cases := []struct{ name, network, address, want string }{
		{"empty network", "", "example.test:80", "unknown network"},
		{"unknown network", "tcp5", "example.test:80", "unknown network"},
		{"empty address", "tcp", "", "missing address"},
		{"no port", "tcp", "example.test", "missing port"},
		{"empty port", "tcp", "example.test:", "missing port"},
		{"port not a service name", "tcp", "example.test:ht_tp", "unknown port"},
		{"port too large", "tcp", "example.test:65536", "invalid port"},
		{"negative port", "tcp", "example.test:-1", "invalid port"},
		{"space in host", "tcp", "exa mple.test:80", "invalid host name"},
		{"label starts with a hyphen", "tcp", "-bad.test:80", "invalid host name"},
		{"label ends with a hyphen", "tcp", "bad-.test:80", "invalid host name"},
		{"IPv6 literal on tcp4", "tcp4", "[::1]:80", "does not match"},
		{"IPv4 literal on tcp6", "tcp6", "127.0.0.1:80", "does not match"},
		{"unbracketed IPv6", "tcp", "::1:80", "too many colons"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := d.DialContext(t.Context(), tc.network, tc.address)
			if c != nil || err == nil {
				t.Fatalf("dial succeeded")
			}
			var oe *net.OpError
			if !errors.As(err, &oe) || oe.Op != "dial" {
				t.Fatalf("err = %#v, want *net.OpError", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %q, want it to say %q", err, tc.want)
			}
		})
	}
	//lint:ignore SA1012 a nil context is the bad input under test
	if _, err := d.DialContext(nil, "tcp", "127.0.0.1:80"); err == nil || !strings.Contains(err.Error(), "nil context") { //nolint:staticcheck
		t.Errorf("nil context: err = %v", err)
	}
	if n := res.Lookups("example.test") + res.Lookups("exa mple.test") + res.Lookups("-bad.test") + res.Lookups("bad-.test"); n != 0 {
		t.Errorf("%d lookups made for bad input", n)
	}
}

func TestNamesThatDoNotExistAreDNSErrorsAndNotRetried(t *testing.T) {
	res := dialtest.NewResolver(nil)
	d := newDialer(t, dialer.WithResolver(res))
	_, err := d.DialContext(t.Context(), "tcp", "nowhere.test:80")
	var dnsErr *net.DNSError
	if !errors.As(err, &dnsErr) || !dnsErr.IsNotFound {
		t.Fatalf("err = %v, want a not-found *net.DNSError", err)
	}
	if n := res.Lookups("nowhere.test"); n != 2 {
		t.Errorf("%d lookups, want 2 (AAAA and A, once)", n)
	}
}

func TestOtherNetworksPassThroughToNetDialer(t *testing.T) {
	d := newDialer(t)
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	c, err := d.DialContext(t.Context(), "udp", pc.LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := c.(*net.UDPConn); !ok {
		t.Errorf("udp dial returned %T", c)
	}
	c.Close()

	sock := t.TempDir() + "/s"
	ul, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer ul.Close()
	c, err = d.DialContext(t.Context(), "unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
}

func TestFamilyNetworksFilterAddresses(t *testing.T) {
	ds := dialtest.NewDualStack(t)
	res := dialtest.NewResolver(map[string]dialtest.Host{
		"incident.test": {IPv6: []netip.Addr{v6loop}, IPv4: []netip.Addr{v4loop}},
	})
	var seen attempts
	d := newDialer(t, dialer.WithResolver(res), dialer.WithAttemptObserver(seen.observe))
	c, err := d.DialContext(t.Context(), "tcp4", hostPort("incident.test", ds.Port))
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	for _, a := range seen.all() {
		if !a.Address.Addr().Is4() {
			t.Errorf("tcp4 dial attempted %v", a.Address)
		}
	}
	if n := res.Lookups("incident.test"); n != 1 {
		t.Errorf("tcp4 made %d lookups, want 1 (A only)", n)
	}
}

func TestDialsThroughARealResolver(t *testing.T) {
	h := dialtest.NewHealthy(t, "127.0.0.1:0")
	srv := dialtest.NewDNSServer(map[string][]netip.Addr{"api.test": {v4loop}})
	defer srv.Close()
	d := newDialer(t, dialer.WithResolver(srv.Resolver()), dialer.WithResolutionDelay(200*time.Millisecond))
	address := hostPort("api.test", h.Addr().Port())
	// questions dials address and returns how many DNS questions the dial
	// asked.
	questions := func() int {
		t.Helper()
		before := srv.Queries()
		c, err := d.DialContext(t.Context(), "tcp", address)
		if err != nil {
			t.Fatal(err)
		}
		c.Close()
		return srv.Queries() - before
	}
	questions() // per family, answered promptly: "api.test" has IPv4 only
	atOnce := questions()

	// *net.Resolver is asked for both families in the dialing goroutine
	// (dialer/resolve.go): when the server turns slow, the lookup must
	// still end at the resolution delay, and the dial ask per family.
	const delay = 600 * time.Millisecond
	srv.SetDelay(delay)
	start := time.Now()
	slow := questions()
	if took := time.Since(start); took < delay {
		t.Errorf("the slow dial took %v, less than the server's %v delay", took, delay)
	}
	if slow <= atOnce {
		t.Errorf("the slow dial asked %d questions, the dial before it %d: it should have asked both families at once, given up at the resolution delay and asked each family again", slow, atOnce)
	}
}

func waitSynSent(t *testing.T, port uint16, n int) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if got, err := dialtest.CountSynSent(port); err == nil && got >= n {
			return
		}
	}
	t.Fatalf("never saw %d sockets in SYN_SENT toward port %d", n, port)
}
