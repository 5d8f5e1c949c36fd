package dialtest

import (
	"cmp"
	"errors"
	"net/netip"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// fillWait is how long a filler connect may take before the accept queue is
// considered full. A loopback handshake completes in microseconds, so a
// connect still pending after this long had its SYN dropped.
const fillWait = 200 * time.Millisecond

// slowFillWait bounds the wait for a filler whose handshake was slow
// although the queue had room (see queueFull).
const slowFillWait = 5 * time.Second

// maxFillers bounds the filling; with a backlog of 0, Linux queues one
// connection, so one filler is all it takes.
const maxFillers = 16

// Stalled is a TCP address whose handshakes never complete, the way a
// blackholed host behaves.
//
// It is a socket bound with raw syscalls and put in listen(fd, 0), whose accept
// queue is then filled by connecting to it until a connect does not complete
// within 200ms. From then on the kernel drops every SYN sent to the address,
// so dialers sit in SYN_SENT until their own timeout. The Stalled never
// accepts. It keeps the completed filler connections open (they are
// ESTABLISHED, not SYN_SENT) and closes the last, pending filler once filling
// is done, so a fresh Stalled leaves no SYN_SENT socket of its own toward its
// port.
//
// After Close the port refuses: a dialer still in SYN_SENT gets a RST on its
// next SYN retransmission (about 1s after its first SYN on Linux).
type Stalled struct {
	addr    netip.AddrPort
	fd      int
	fillers []int

	closeOnce sync.Once
	closeErr  error
}

// ListenStalled returns a Stalled bound to address, an "ip:port" on loopback
// such as "127.0.0.1:0", "[::1]:0" or "127.0.0.2:41234". Port 0 picks a free
// port; a fixed port is used as given. IPv6 sockets are IPV6_V6ONLY, so
// "[::1]:P" leaves "127.0.0.1:P" free for another listener. Filling the
// accept queue takes a little over 200ms.
func ListenStalled(address string) (*Stalled, error) {
	ap, err := parseTestAddr(address)
	if err != nil {
		return nil, err
	}
	fd, bound, err := boundSocket(ap, true)
	if err != nil {
		return nil, err
	}
	s := &Stalled{addr: bound, fd: fd}
	if err := syscall.Listen(fd, 0); err != nil {
		s.Close()
		return nil, sysErr("listen", err)
	}
	for range maxFillers {
		cfd, established, err := connectWithin(bound, fillWait)
		if err != nil {
			s.Close()
			return nil, err
		}
		if !established {
			full, err := s.queueFull()
			if err != nil {
				syscall.Close(cfd)
				s.Close()
				return nil, err
			}
			if !full {
				// Not a dropped SYN but a slow handshake (a loaded
				// machine, or a host behind a lab's delay line): the
				// queue has room, and this connect will fill it.
				if established, err = waitEstablished(cfd, bound, slowFillWait); err != nil || !established {
					syscall.Close(cfd)
					s.Close()
					return nil, cmp.Or(err, errors.New("dialtest: a connect to "+bound.String()+" neither completed nor was dropped"))
				}
				s.fillers = append(s.fillers, cfd)
				continue
			}
			// The SYN was dropped: the queue is full. This socket is
			// in SYN_SENT toward our own port; close it so that
			// counts of SYN_SENT in users' tests start at zero.
			syscall.Close(cfd)
			return s, nil
		}
		s.fillers = append(s.fillers, cfd)
	}
	s.Close()
	return nil, errors.New("dialtest: accept queue of " + bound.String() + " did not fill")
}

// queueFull reports whether the listener's accept queue is full, as the
// kernel reports it (TCP_INFO of a listening socket: tcpi_unacked is the
// queue's length, tcpi_sacked its bound): a connect that is still pending
// after fillWait proves nothing by itself, since a starved machine can be
// slow to finish a handshake that found room.
func (s *Stalled) queueFull() (bool, error) {
	info, err := unix.GetsockoptTCPInfo(s.fd, unix.IPPROTO_TCP, unix.TCP_INFO)
	if err != nil {
		return false, sysErr("getsockopt TCP_INFO", err)
	}
	return info.Unacked > info.Sacked, nil
}

// NewStalled is ListenStalled for tests: it calls tb.Fatal on error and
// registers Close with tb.Cleanup.
func NewStalled(tb testing.TB, address string) *Stalled {
	tb.Helper()
	s, err := ListenStalled(address)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

// Addr returns the address the Stalled is bound to.
func (s *Stalled) Addr() netip.AddrPort { return s.addr }

// String returns the address as "ip:port" ("[ip]:port" for IPv6), ready for
// net.Dial.
func (s *Stalled) String() string { return s.addr.String() }

// Fillers returns the number of connections the Stalled made to itself to
// fill its accept queue (usually 1). They are ESTABLISHED, so they do not
// count as SYN_SENT.
func (s *Stalled) Fillers() int { return len(s.fillers) }

// Close closes the filler connections and the listening socket. It is
// idempotent: later calls return the first call's result.
func (s *Stalled) Close() error {
	s.closeOnce.Do(func() {
		var errs []error
		for _, fd := range s.fillers {
			if err := syscall.Close(fd); err != nil {
				errs = append(errs, sysErr("close", err))
			}
		}
		if err := syscall.Close(s.fd); err != nil {
			errs = append(errs, sysErr("close", err))
		}
		s.closeErr = errors.Join(errs...)
	})
	return s.closeErr
}
