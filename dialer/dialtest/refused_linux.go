package dialtest

import (
	"net/netip"
	"sync"
	"syscall"
	"testing"
)

// Refused is a TCP address that refuses connections: a socket bound to it
// (so nothing else can take the port) that never listens, so the kernel
// answers every SYN with a RST and dialers fail at once with ECONNREFUSED.
type Refused struct {
	addr netip.AddrPort
	fd   int

	closeOnce sync.Once
	closeErr  error
}

// ListenRefused returns a Refused bound to address, an "ip:port" on loopback
// such as "127.0.0.1:0", "[::1]:0" or "127.0.0.2:41234". Port 0 picks a free
// port; a fixed port is used as given. IPv6 sockets are IPV6_V6ONLY.
func ListenRefused(address string) (*Refused, error) {
	ap, err := parseTestAddr(address)
	if err != nil {
		return nil, err
	}
	fd, bound, err := boundSocket(ap, false)
	if err != nil {
		return nil, err
	}
	return &Refused{addr: bound, fd: fd}, nil
}

// NewRefused is ListenRefused for tests: it calls tb.Fatal on error and
// registers Close with tb.Cleanup.
func NewRefused(tb testing.TB, address string) *Refused {
	tb.Helper()
	r, err := ListenRefused(address)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { r.Close() })
	return r
}

// Addr returns the address the Refused is bound to.
func (r *Refused) Addr() netip.AddrPort { return r.addr }

// String returns the address as "ip:port" ("[ip]:port" for IPv6), ready for
// net.Dial.
func (r *Refused) String() string { return r.addr.String() }

// Close releases the port. It is idempotent: later calls return the first
// call's result.
func (r *Refused) Close() error {
	r.closeOnce.Do(func() {
		if err := syscall.Close(r.fd); err != nil {
			r.closeErr = sysErr("close", err)
		}
	})
	return r.closeErr
}
