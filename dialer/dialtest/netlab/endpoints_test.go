package netlab_test

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/netip"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/dialguard/dialguard/dialer/dialtest"
	"github.com/dialguard/dialguard/dialer/dialtest/netlab"
)

// TestEndpointsAtADistance puts each of dialtest's endpoints on a host
// 40 ms away, on both families, and checks that each behaves as on
// loopback, a round trip later.
func TestEndpointsAtADistance(t *testing.T) {
	const rtt = 40 * time.Millisecond
	// The link takes off what its calibration measured of the relay's own
	// latency (about 0.2 ms), so a quiet moment after a loaded calibration
	// answers a little early: CI once saw 39.94 ms. Behind the link means
	// at least 95 % of its round trip (TestConnectTakesTheRoundTrip checks accuracy).
	const least = rtt - rtt/20
	lab := netlab.NewLab(t)
	h := lab.NewHost(t, netlab.Symmetric(rtt, 0, 0))
	for _, ip := range h.Addrs() {
		t.Run(ip.String(), func(t *testing.T) {
			healthy := h.NewHealthy(t, at(ip, 0))
			refused := h.NewRefused(t, at(ip, 0))
			stalled := h.NewStalled(t, at(ip, 0))
			silent := h.NewSilentTLS(t, at(ip, 0))

			el, err := dialTime(t, healthy.String(), time.Second)
			if err != nil || el < least {
				t.Fatalf("healthy: %v after %v, want a connection after at least %v", err, el, least)
			}
			c, err := net.DialTimeout("tcp", healthy.String(), time.Second)
			if err != nil {
				t.Fatal(err)
			}
			c.Write([]byte("ping"))
			buf := make([]byte, 4)
			if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "ping" {
				t.Errorf("healthy: echo %q, %v", buf, err)
			}
			c.Close()

			el, err = dialTime(t, refused.String(), time.Second)
			if !errors.Is(err, syscall.ECONNREFUSED) || el < least {
				t.Errorf("refused: %v after %v, want ECONNREFUSED after at least %v", err, el, least)
			}

			el, err = dialTime(t, stalled.String(), 300*time.Millisecond)
			var ne net.Error
			if !errors.As(err, &ne) || !ne.Timeout() {
				t.Errorf("stalled: %v after %v, want a timeout", err, el)
			}

			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			defer cancel()
			d := tls.Dialer{Config: &tls.Config{InsecureSkipVerify: true}}
			if c, err := d.DialContext(ctx, "tcp", silent.String()); err == nil {
				c.Close()
				t.Error("silent TLS: the handshake completed")
			} else if silent.Accepted() != 1 {
				t.Errorf("silent TLS: %v with %d connections accepted, want the TCP connection accepted and the handshake timed out", err, silent.Accepted())
			}
		})
	}
}

// TestListenRefusesAnAddressOfAnotherHost checks that an endpoint is made
// only on one of its host's own addresses.
func TestListenRefusesAnAddressOfAnotherHost(t *testing.T) {
	lab := netlab.NewLab(t)
	a := lab.NewHost(t, netlab.Config{})
	b := lab.NewHost(t, netlab.Config{})
	for _, address := range []string{at(b.IPv4(), 0), "127.0.0.1:0", "not an address"} {
		if srv, err := a.ListenHealthy(address); err == nil {
			srv.Close()
			t.Errorf("ListenHealthy(%q) on host %v succeeded, want an error", address, a.IPv4())
		}
	}
}

// TestNamesPointAtLabHosts resolves a dual-stack name through a real
// *net.Resolver (dialtest.DNSServer) to a lab host, and dials it with
// net.Dialer.
func TestNamesPointAtLabHosts(t *testing.T) {
	lab := netlab.NewLab(t)
	h := lab.NewHost(t, netlab.Symmetric(20*time.Millisecond, 0, 0))
	v6 := h.NewHealthy(t, at(h.IPv6(), 0))
	h.NewHealthy(t, at(h.IPv4(), v6.Addr().Port()))
	dns := dialtest.NewDNSServer(map[string][]netip.Addr{"far.test": h.Addrs()})
	t.Cleanup(func() { dns.Close() })
	d := net.Dialer{Resolver: dns.Resolver(), Timeout: 2 * time.Second}
	c, err := d.Dial("tcp", net.JoinHostPort("far.test", strconv.Itoa(int(v6.Addr().Port()))))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if got := c.RemoteAddr().(*net.TCPAddr).AddrPort().Addr(); got != h.IPv6() {
		t.Errorf("connected to %v, want the name's first address %v", got, h.IPv6())
	}
}
