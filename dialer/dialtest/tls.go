package dialtest

import (
	"errors"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
)

// SilentTLS is a TCP listener that accepts every connection and never
// answers on it: the TCP handshake completes, the client's TLS ClientHello
// is left unread, and nothing is ever written back. It is the server that
// parks a TLS client in its handshake, the way an overloaded TLS terminator
// or a wrong port (a service that waits for the client to speak first)
// behaves. A client without a handshake timeout waits until the TCP
// connection dies.
//
// Accepted connections are held open until Close. One goroutine accepts;
// Close ends it.
type SilentTLS struct {
	addr     netip.AddrPort
	ln       *net.TCPListener
	accepted atomic.Int64
	wg       sync.WaitGroup

	mu     sync.Mutex
	conns  []net.Conn
	closed bool

	closeOnce sync.Once
	closeErr  error
}

// ListenSilentTLS returns a SilentTLS listening on address, an "ip:port" on
// loopback such as "127.0.0.1:0", "[::1]:0" or "127.0.0.2:41234". Port 0
// picks a free port; a fixed port is used as given.
func ListenSilentTLS(address string) (*SilentTLS, error) {
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
	s := &SilentTLS{
		addr: netip.AddrPortFrom(ap.Addr(), uint16(ln.Addr().(*net.TCPAddr).Port)),
		ln:   ln,
	}
	s.wg.Add(1)
	go s.serve()
	return s, nil
}

// NewSilentTLS is ListenSilentTLS for tests: it calls tb.Fatal on error and
// registers Close with tb.Cleanup.
func NewSilentTLS(tb testing.TB, address string) *SilentTLS {
	tb.Helper()
	s, err := ListenSilentTLS(address)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

func (s *SilentTLS) serve() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return // closed by Close
		}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			c.Close()
			return
		}
		s.conns = append(s.conns, c)
		s.mu.Unlock()
		s.accepted.Add(1)
	}
}

// Addr returns the address the SilentTLS listens on.
func (s *SilentTLS) Addr() netip.AddrPort { return s.addr }

// String returns the address as "ip:port" ("[ip]:port" for IPv6), ready for
// net.Dial and tls.Dial.
func (s *SilentTLS) String() string { return s.addr.String() }

// Accepted returns the number of connections accepted so far. It counts a
// connection once it is held, so a client whose TLS handshake is waiting is
// counted.
func (s *SilentTLS) Accepted() int64 { return s.accepted.Load() }

// Close closes the listener and every held connection (clients still in
// their handshake then read EOF), and waits for the accepting goroutine to
// end. It is idempotent: later calls return the first call's result.
func (s *SilentTLS) Close() error {
	s.closeOnce.Do(func() {
		err := s.ln.Close()
		s.mu.Lock()
		s.closed = true
		for _, c := range s.conns {
			c.Close()
		}
		s.conns = nil
		s.mu.Unlock()
		s.wg.Wait()
		if err != nil && !errors.Is(err, net.ErrClosed) {
			s.closeErr = err
		}
	})
	return s.closeErr
}
