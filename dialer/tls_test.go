package dialer_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dialguard/dialguard/breaker"
	"github.com/dialguard/dialguard/dialer"
	"github.com/dialguard/dialguard/dialer/dialtest"
)

// These tests run TLS over real loopback sockets: httptest TLS servers,
// stalled listeners and silent TLS listeners. httptest's certificate is
// valid for example.com, 127.0.0.1 and ::1, so the fake resolver maps
// example.com onto loopback.

// newTLSServer starts an httptest TLS server listening on address (an
// "ip:port" on loopback) that answers every request with its protocol.
func newTLSServer(t testing.TB, address string, http2 bool) (*httptest.Server, error) {
	t.Helper()
	ln, err := net.Listen("tcp", address)
	if err != nil {
		return nil, err
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, r.Proto)
	}))
	srv.Listener.Close()
	srv.Listener = ln
	srv.EnableHTTP2 = http2
	srv.Config.ErrorLog = discardLog // handshakes cut short are expected here
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv, nil
}

func mustTLSServer(t testing.TB, address string, http2 bool) *httptest.Server {
	t.Helper()
	srv, err := newTLSServer(t, address, http2)
	if err != nil {
		t.Fatal(err)
	}
	return srv
}

// trusting returns a tls.Config that trusts srv's certificate.
func trusting(srv *httptest.Server) *tls.Config {
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	return &tls.Config{RootCAs: pool}
}

func serverAddr(srv *httptest.Server) netip.AddrPort {
	return srv.Listener.Addr().(*net.TCPAddr).AddrPort()
}

func TestTLSThroughANameWhoseFirstAddressStalls(t *testing.T) {
	// A loser whose TCP connect went unanswered past the attempt delay is
	// remembered against its address (lost-slow); one whose TCP connected
	// answered, so losing is neutral (lost) — it is the winner, remembered,
	// that keeps later dials off [::1]. A handshake that stalls on its own
	// is charged when it reaches the handshake timeout.
	cases := []struct {
		name  string
		stall func(t *testing.T) uint16 // starts the bad [::1]:P, returns P
		loser dialer.AttemptOutcome
	}{
		{"at TCP", func(t *testing.T) uint16 { return dialtest.NewStalled(t, "[::1]:0").Addr().Port() }, dialer.LostSlow},
		{"in the TLS handshake", func(t *testing.T) uint16 { return dialtest.NewSilentTLS(t, "[::1]:0").Addr().Port() }, dialer.Lost},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var srv *httptest.Server
			var port uint16
			for try := 0; srv == nil; try++ { // 127.0.0.1:P may be taken
				port = tc.stall(t)
				var err error
				if srv, err = newTLSServer(t, hostPort("127.0.0.1", port), false); err != nil && try == 4 {
					t.Fatal(err)
				}
			}
			res := dialtest.NewResolver(map[string]dialtest.Host{
				"example.com": {IPv6: []netip.Addr{v6loop}, IPv4: []netip.Addr{v4loop}},
			})
			const delay = 250 * time.Millisecond
			var seen attempts
			d := newDialer(t, dialer.WithResolver(res), dialer.WithTLSConfig(trusting(srv)),
				dialer.WithAttemptDelay(delay), dialer.WithAttemptTimeout(5*time.Second),
				dialer.WithAttemptObserver(seen.observe))
			target := hostPort("example.com", port)

			for i := range 5 {
				start := time.Now()
				c, err := d.DialTLSContext(t.Context(), "tcp", target)
				took := time.Since(start)
				if err != nil {
					t.Fatalf("dial %d: %v", i+1, err)
				}
				tc, ok := c.(*tls.Conn)
				if !ok {
					t.Fatalf("dial %d returned %T, want *tls.Conn", i+1, c)
				}
				if got := tc.RemoteAddr().(*net.TCPAddr).AddrPort(); got != serverAddr(srv) {
					t.Errorf("dial %d connected to %v, want %v", i+1, got, serverAddr(srv))
				}
				if st := tc.ConnectionState(); !st.HandshakeComplete || st.ServerName != "example.com" {
					t.Errorf("dial %d: handshake complete %v, server name %q; want true, example.com", i+1, st.HandshakeComplete, st.ServerName)
				}
				c.Close()
				switch {
				case i == 0 && took > delay+2*time.Second:
					t.Errorf("first dial took %v, want the attempt delay (%v) plus a margin", took, delay)
				case i > 0 && took >= delay:
					t.Errorf("dial %d took %v: it paid the attempt delay again", i+1, took)
				}
			}
			var bad int
			for _, a := range seen.all() {
				switch {
				case a.Address.Addr() == v6loop:
					bad++
					if a.Outcome != tc.loser {
						t.Errorf("[::1] attempt %v, want %v", a.Outcome, tc.loser)
					}
				case a.Address != serverAddr(srv) || a.Outcome != dialer.Connected || a.Handshake <= 0:
					t.Errorf("attempt %v %v handshake %v; want %v connected, with a handshake", a.Address, a.Outcome, a.Handshake, serverAddr(srv))
				}
			}
			if bad != 1 {
				t.Errorf("[::1] was attempted %d times, want once: the first dial's winner is remembered", bad)
			}
		})
	}
}

func TestTLSSilentServerStallsWithinTheHandshakeTimeoutAndTripsTheBreaker(t *testing.T) {
	s := dialtest.NewSilentTLS(t, "127.0.0.1:0")
	const hs = 300 * time.Millisecond
	d := newDialer(t, dialer.WithHandshakeTimeout(hs), dialer.WithMaxRetries(0))
	for i := range 3 {
		start := time.Now()
		c, err := d.DialTLSContext(t.Context(), "tcp", s.String())
		took := time.Since(start)
		if err == nil {
			c.Close()
			t.Fatalf("dial %d connected to a server that never answers TLS", i+1)
		}
		if took < hs || took > hs+time.Second {
			t.Errorf("dial %d returned after %v, want the handshake timeout (%v) plus a margin", i+1, took, hs)
		}
		if !errors.Is(err, dialer.ErrAttemptTimeout) || !errors.Is(err, dialer.ErrHandshakeTimeout) {
			t.Errorf("dial %d: err = %v, want ErrAttemptTimeout and ErrHandshakeTimeout", i+1, err)
		}
		var ne net.Error
		var oe *net.OpError
		if !errors.As(err, &ne) || !ne.Timeout() || !errors.As(err, &oe) || oe.Op != "dial" {
			t.Errorf("dial %d: err = %#v, want a *net.OpError (dial) that is a timeout", i+1, err)
		}
	}
	if st, ok := d.DestinationState(s.String()); !ok || st.State != breaker.Open {
		t.Fatalf("destination after three handshake stalls: %+v, %v; want open", st, ok)
	}
	accepted := s.Accepted()
	best := time.Hour
	for range 5 {
		start := time.Now()
		_, err := d.DialTLSContext(t.Context(), "tcp", s.String())
		best = min(best, time.Since(start))
		if !errors.Is(err, dialer.ErrCircuitOpen) {
			t.Fatalf("after three stalls: err = %v, want ErrCircuitOpen", err)
		}
	}
	if best > 5*time.Millisecond {
		t.Errorf("failing fast took %v, want under 5ms", best)
	}
	if n := s.Accepted(); n != accepted {
		t.Errorf("the open breaker let %d connections through", n-accepted)
	}
}

func TestTLSHandshakeStallIsRetriedOnAFreshConnection(t *testing.T) {
	s := dialtest.NewSilentTLS(t, "127.0.0.1:0")
	var seen attempts
	d := newDialer(t, dialer.WithHandshakeTimeout(200*time.Millisecond), dialer.WithMaxRetries(1),
		dialer.WithAttemptObserver(seen.observe))
	_, err := d.DialTLSContext(t.Context(), "tcp", s.String())
	if !errors.Is(err, dialer.ErrHandshakeTimeout) {
		t.Fatalf("err = %v, want ErrHandshakeTimeout", err)
	}
	all := seen.all()
	if len(all) != 2 || all[0].Outcome != dialer.Stalled || all[1].Outcome != dialer.Stalled || all[1].Try != 2 {
		t.Errorf("attempts = %+v; want two stalls, the second one a retry", all)
	}
	if n := s.Accepted(); n != 2 {
		t.Errorf("the server accepted %d connections, want 2 (a fresh one for the retry)", n)
	}
}

func TestTLSHandshakeIsBoundedByTheDeadline(t *testing.T) {
	s := dialtest.NewSilentTLS(t, "127.0.0.1:0")
	d := newDialer(t, dialer.WithMaxRetries(0)) // handshake timeout: the default 10 s
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := d.DialTLSContext(ctx, "tcp", s.String())
	if took := time.Since(start); took > 1200*time.Millisecond {
		t.Errorf("dial returned after %v, want the context's deadline (200ms) plus a margin", took)
	}
	if !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, dialer.ErrAttemptTimeout) {
		t.Errorf("err = %v, want context.DeadlineExceeded and no stall", err)
	}
	if st, ok := d.DestinationState(s.String()); ok && st.Counts.Failures != 0 {
		t.Errorf("the caller's deadline counted as a failure: %+v", st)
	}
}

func TestTLSCancelDuringAHandshakeReturnsAtOnce(t *testing.T) {
	s := dialtest.NewSilentTLS(t, "127.0.0.1:0")
	d := newDialer(t, dialer.WithHandshakeTimeout(time.Minute))
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		_, err := d.DialTLSContext(ctx, "tcp", s.String())
		done <- err
	}()
	for s.Accepted() == 0 { // the TCP part is done; the handshake waits
		time.Sleep(time.Millisecond)
	}
	start := time.Now()
	cancel()
	err := <-done
	if took := time.Since(start); took > time.Second {
		t.Errorf("dial returned %v after the cancel", took)
	}
	var oe *net.OpError
	if !errors.Is(err, context.Canceled) || !errors.As(err, &oe) || oe.Op != "dial" {
		t.Errorf("err = %#v, want a *net.OpError (dial) wrapping context.Canceled", err)
	}
	if st, ok := d.DestinationState(s.String()); ok && st.Counts.Failures != 0 {
		t.Errorf("cancellation counted as a failure: %+v", st)
	}
}

// discardLog silences the TLS servers' "handshake error" lines.
var discardLog = log.New(io.Discard, "", 0)

func TestTLSConfigurationErrorsAreReturnedOnceAndNeverTripABreaker(t *testing.T) {
	tlsSrv := mustTLSServer(t, "127.0.0.1:0", false)
	plain := httptest.NewServer(http.NotFoundHandler())
	t.Cleanup(plain.Close)
	plainAddr := plain.Listener.Addr().(*net.TCPAddr).AddrPort()
	// A name whose first address rejects: the race stops there, and the
	// second address (a healthy echo server on the same port) is not tried.
	second := dialtest.NewHealthy(t, hostPort("127.0.0.2", serverAddr(tlsSrv).Port()))
	res := dialtest.NewResolver(map[string]dialtest.Host{
		"wrong.test": {IPv4: []netip.Addr{v4loop, second.Addr().Addr()}},
	})

	cases := []struct {
		name    string
		config  *tls.Config
		address string
		check   func(error) bool
	}{
		{"an unknown authority", &tls.Config{}, serverAddr(tlsSrv).String(), func(err error) bool {
			var cv *tls.CertificateVerificationError
			var ua x509.UnknownAuthorityError
			return errors.As(err, &cv) && errors.As(err, &ua)
		}},
		{"a name the certificate does not hold", trusting(tlsSrv), hostPort("wrong.test", serverAddr(tlsSrv).Port()), func(err error) bool {
			var he x509.HostnameError
			return errors.As(err, &he)
		}},
		{"a server that does not speak TLS", &tls.Config{}, plainAddr.String(), func(err error) bool {
			var rh tls.RecordHeaderError
			return errors.As(err, &rh)
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var seen attempts
			d := newDialer(t, dialer.WithResolver(res), dialer.WithTLSConfig(tc.config),
				dialer.WithAttemptDelay(2*time.Second), dialer.WithAttemptObserver(seen.observe))
			for i := range 5 { // more than the breaker's three failures
				start := time.Now()
				c, err := d.DialTLSContext(t.Context(), "tcp", tc.address)
				if err == nil {
					c.Close()
					t.Fatalf("dial %d succeeded", i+1)
				}
				if took := time.Since(start); took > time.Second {
					t.Errorf("dial %d took %v; a rejected handshake returns at once", i+1, took)
				}
				var oe *net.OpError
				if !tc.check(err) || !errors.As(err, &oe) || oe.Op != "dial" || errors.Is(err, dialer.ErrCircuitOpen) {
					t.Fatalf("dial %d: err = %#v (%v); want a *net.OpError (dial) holding the standard library's error", i+1, err, err)
				}
			}
			all := seen.all()
			if len(all) != 5 {
				t.Errorf("%d attempts for 5 dials, want 5: not retried, no other address", len(all))
			}
			for _, a := range all {
				if a.Outcome != dialer.Rejected || a.Try != 1 {
					t.Errorf("attempt %v: %v (try %d), want rejected on the first try", a.Address, a.Outcome, a.Try)
				}
			}
			key := tc.address
			st, ok := d.DestinationState(key)
			if !ok || st.State != breaker.Closed || st.Counts.Failures != 0 {
				t.Errorf("destination %s: %+v, %v; want closed without failures", key, st, ok)
			}
		})
	}
	if n := second.Accepted(); n != 0 {
		t.Errorf("the second address was dialled %d times after the first rejected", n)
	}
}

func TestTLSHTTP2ThroughHTTPTransport(t *testing.T) {
	srv := mustTLSServer(t, "127.0.0.1:0", true)
	cfg := trusting(srv)
	cfg.NextProtos = []string{"h2", "http/1.1"}
	d := newDialer(t, dialer.WithTLSConfig(cfg))
	tr := &http.Transport{DialTLSContext: d.DialTLSContext, ForceAttemptHTTP2: true}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	for range 3 {
		resp, err := client.Get(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.ProtoMajor != 2 || string(body) != "HTTP/2.0" {
			t.Errorf("response over %s, server saw %q; want HTTP/2", resp.Proto, body)
		}
	}
}

func TestTLSNeverChangesTheCallersConfig(t *testing.T) {
	srv := mustTLSServer(t, "127.0.0.1:0", false)
	cfg := trusting(srv)
	cfg.NextProtos = []string{"h2", "http/1.1"}
	d := newDialer(t, dialer.WithTLSConfig(cfg))
	for range 2 {
		c, err := d.DialTLSContext(t.Context(), "tcp", serverAddr(srv).String())
		if err != nil {
			t.Fatal(err)
		}
		// Verified against the certificate's IP address: ServerName was
		// set to the literal (without one, crypto/tls refuses to verify).
		if !c.(*tls.Conn).ConnectionState().HandshakeComplete {
			t.Error("handshake not complete")
		}
		c.Close()
	}
	if cfg.ServerName != "" || !slices.Equal(cfg.NextProtos, []string{"h2", "http/1.1"}) {
		t.Errorf("the caller's config changed: ServerName %q, NextProtos %q", cfg.ServerName, cfg.NextProtos)
	}
	// Later changes to the caller's config do not reach the dialer.
	cfg.RootCAs = x509.NewCertPool()
	c, err := d.DialTLSContext(t.Context(), "tcp", serverAddr(srv).String())
	if err != nil {
		t.Fatalf("after the caller changed its config: %v", err)
	}
	c.Close()
}

func TestTLSOptionsAreValidated(t *testing.T) {
	for _, opt := range []struct {
		name string
		opt  dialer.Option
	}{
		{"WithTLSConfig", dialer.WithTLSConfig(nil)},
		{"WithHandshakeTimeout", dialer.WithHandshakeTimeout(0)},
		{"WithHandshakeTimeout", dialer.WithHandshakeTimeout(-time.Second)},
	} {
		if _, err := dialer.New(opt.opt); err == nil || !strings.Contains(err.Error(), opt.name) {
			t.Errorf("New(%s(bad)) = %v, want an error naming the option", opt.name, err)
		}
	}
}
