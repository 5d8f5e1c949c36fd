package dialtest

import (
	"io"
	"net"
	"net/netip"
	"testing"
)

// Healthy is a TCP listener that accepts every connection and echoes back
// whatever it reads on it, one goroutine per connection. All its goroutines
// and connections are owned: Close ends them.
type Healthy struct{ s *server }

// ListenHealthy returns a Healthy listening on address, an "ip:port" on
// loopback such as "127.0.0.1:0", "[::1]:0" or "127.0.0.2:41234". Port 0
// picks a free port; a fixed port is used as given.
func ListenHealthy(address string) (*Healthy, error) {
	s, err := listenServer(address, echo)
	if err != nil {
		return nil, err
	}
	return &Healthy{s}, nil
}

// echo writes back what it reads until the peer closes.
func echo(c net.Conn) { io.Copy(c, c) }

// NewHealthy is ListenHealthy for tests: it calls tb.Fatal on error and
// registers Close with tb.Cleanup.
func NewHealthy(tb testing.TB, address string) *Healthy {
	tb.Helper()
	h, err := ListenHealthy(address)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { h.Close() })
	return h
}

// Addr returns the address the Healthy listens on.
func (h *Healthy) Addr() netip.AddrPort { return h.s.addr }

// String returns the address as "ip:port" ("[ip]:port" for IPv6), ready for
// net.Dial.
func (h *Healthy) String() string { return h.s.addr.String() }

// Accepted returns the number of connections accepted so far.
func (h *Healthy) Accepted() int64 { return h.s.accepted.Load() }

// Close closes the listener and every accepted connection, and waits for all
// goroutines of the Healthy to end. It is idempotent: later calls return the
// first call's result.
func (h *Healthy) Close() error { return h.s.close() }
