package dialtest

import (
	"errors"
	"io"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
)

// Healthy is a TCP listener that accepts every connection and echoes back
// whatever it reads on it, one goroutine per connection. All its goroutines
// and connections are owned: Close ends them.
type Healthy struct {
	addr     netip.AddrPort
	ln       *net.TCPListener
	accepted atomic.Int64
	wg       sync.WaitGroup

	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool

	closeOnce sync.Once
	closeErr  error
}

// ListenHealthy returns a Healthy listening on address, an "ip:port" on
// loopback such as "127.0.0.1:0", "[::1]:0" or "127.0.0.2:41234". Port 0
// picks a free port; a fixed port is used as given.
func ListenHealthy(address string) (*Healthy, error) {
	ap, err := parseLoopback(address)
	if err != nil {
		return nil, err
	}
	network := "tcp4"
	if ap.Addr().Is6() {
		network = "tcp6"
	}
	ln, err := net.ListenTCP(network, net.TCPAddrFromAddrPort(ap))
	if err != nil {
		return nil, err
	}
	h := &Healthy{
		addr:  netip.AddrPortFrom(ap.Addr(), uint16(ln.Addr().(*net.TCPAddr).Port)),
		ln:    ln,
		conns: make(map[net.Conn]struct{}),
	}
	h.wg.Add(1)
	go h.serve()
	return h, nil
}

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

func (h *Healthy) serve() {
	defer h.wg.Done()
	for {
		c, err := h.ln.Accept()
		if err != nil {
			return // closed by Close
		}
		h.accepted.Add(1)
		h.mu.Lock()
		if h.closed {
			h.mu.Unlock()
			c.Close()
			return
		}
		h.conns[c] = struct{}{}
		h.wg.Add(1)
		h.mu.Unlock()
		go h.echo(c)
	}
}

func (h *Healthy) echo(c net.Conn) {
	defer h.wg.Done()
	io.Copy(c, c)
	c.Close()
	h.mu.Lock()
	delete(h.conns, c)
	h.mu.Unlock()
}

// Addr returns the address the Healthy listens on.
func (h *Healthy) Addr() netip.AddrPort { return h.addr }

// String returns the address as "ip:port" ("[ip]:port" for IPv6), ready for
// net.Dial.
func (h *Healthy) String() string { return h.addr.String() }

// Accepted returns the number of connections accepted so far.
func (h *Healthy) Accepted() int64 { return h.accepted.Load() }

// Close closes the listener and every accepted connection, and waits for all
// goroutines of the Healthy to end. It is idempotent: later calls return the
// first call's result.
func (h *Healthy) Close() error {
	h.closeOnce.Do(func() {
		err := h.ln.Close()
		h.mu.Lock()
		h.closed = true
		for c := range h.conns {
			c.Close()
		}
		h.mu.Unlock()
		h.wg.Wait()
		if err != nil && !errors.Is(err, net.ErrClosed) {
			h.closeErr = err
		}
	})
	return h.closeErr
}
