package dialtest

import (
	"net/netip"
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
type SilentTLS struct{ s *server }

// ListenSilentTLS returns a SilentTLS listening on address, an "ip:port" on
// loopback such as "127.0.0.1:0", "[::1]:0" or "127.0.0.2:41234". Port 0
// picks a free port; a fixed port is used as given.
func ListenSilentTLS(address string) (*SilentTLS, error) {
	s, err := listenServer(address, nil) // nil: hold, never read or write
	if err != nil {
		return nil, err
	}
	return &SilentTLS{s}, nil
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

// Addr returns the address the SilentTLS listens on.
func (s *SilentTLS) Addr() netip.AddrPort { return s.s.addr }

// String returns the address as "ip:port" ("[ip]:port" for IPv6), ready for
// net.Dial and tls.Dial.
func (s *SilentTLS) String() string { return s.s.addr.String() }

// Accepted returns the number of connections accepted so far. It counts a
// connection once it is held, so a client whose TLS handshake is waiting is
// counted.
func (s *SilentTLS) Accepted() int64 { return s.s.accepted.Load() }

// Close closes the listener and every held connection (clients still in
// their handshake then read EOF), and waits for the accepting goroutine to
// end. It is idempotent: later calls return the first call's result.
func (s *SilentTLS) Close() error { return s.s.close() }
