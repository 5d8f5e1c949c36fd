package dialer

import (
	"context"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/dialguard/dialguard/dialer/dialtest"
)

// script says how a fake address answers one attempt.
type script struct {
	after     time.Duration // answer after this long
	refuse    bool          // answer with ECONNREFUSED
	stall     bool          // never answer (until the attempt's context ends)
	ignoreCtx bool          // connect after `after` even if cancelled (a late winner)
	refuseN   int           // refuse the first refuseN attempts, then connect
	cancelLag time.Duration // a cancelled attempt returns this long after its context ends (a kernel tearing the socket down)
	attempts  atomic.Int32
}

// connectOnce dials address through d and closes the connection, so that d
// has seen the destination connect (refusals are retried only toward a
// destination that connected recently).
func connectOnce(t *testing.T, d *Dialer, address string) {
	t.Helper()
	c, err := d.DialContext(t.Context(), "tcp", address)
	if err != nil {
		t.Fatalf("first dial to %s: %v", address, err)
	}
	c.Close()
}

// fakeNet is an injected attemptFunc over scripted addresses, for the
// race's timing tests inside testing/synctest bubbles.
type fakeNet struct {
	t0      time.Time
	scripts map[netip.AddrPort]*script

	inFlight, maxInFlight atomic.Int32

	mu     sync.Mutex
	starts []started
	conns  []*fakeConn
}

type started struct {
	addr netip.AddrPort
	at   time.Duration
}

type fakeConn struct {
	net.Conn
	peer   net.Conn
	closed atomic.Bool
}

func (c *fakeConn) Close() error {
	c.closed.Store(true)
	c.peer.Close()
	return c.Conn.Close()
}

func newFakeNet(scripts map[string]*script) *fakeNet {
	f := &fakeNet{t0: time.Now(), scripts: map[netip.AddrPort]*script{}}
	for k, s := range scripts {
		f.scripts[netip.MustParseAddrPort(k)] = s
	}
	return f
}

func (f *fakeNet) dial(ctx context.Context, network string, a netip.AddrPort, _ string) (net.Conn, error) {
	f.mu.Lock()
	f.starts = append(f.starts, started{a, time.Since(f.t0)})
	f.mu.Unlock()
	if n := f.inFlight.Add(1); n > f.maxInFlight.Load() {
		f.maxInFlight.Store(n) // attempts run in one bubble; races here are benign for a max
	}
	defer f.inFlight.Add(-1)
	s := f.scripts[a]
	n := int(s.attempts.Add(1))
	wait := s.after
	if s.stall {
		wait = 24 * time.Hour
	}
	// Like net.Dialer, the fake enforces the context's deadline itself:
	// the attempt's context does not close Done when it passes.
	dl, bounded := ctx.Deadline()
	pastDeadline := bounded && !s.ignoreCtx && time.Until(dl) <= wait
	if pastDeadline {
		wait = time.Until(dl)
	}
	timer := time.NewTimer(wait)
	defer timer.Stop()
	if !s.ignoreCtx {
		select {
		case <-timer.C:
		case <-ctx.Done():
			if s.cancelLag > 0 {
				time.Sleep(s.cancelLag)
			}
			return nil, &net.OpError{Op: "dial", Net: network, Err: ctx.Err()}
		}
	} else {
		<-timer.C
	}
	if pastDeadline {
		return nil, &net.OpError{Op: "dial", Net: network, Err: os.ErrDeadlineExceeded}
	}
	if s.refuse || n <= s.refuseN {
		return nil, &net.OpError{Op: "dial", Net: network, Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
	}
	c1, c2 := net.Pipe()
	fc := &fakeConn{Conn: c1, peer: c2}
	f.mu.Lock()
	f.conns = append(f.conns, fc)
	f.mu.Unlock()
	return fc, nil
}

func (f *fakeNet) startTimes() []started {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]started(nil), f.starts...)
}

// newFakeDialer builds a Dialer whose attempts go to f.
func newFakeDialer(t *testing.T, f *fakeNet, hosts map[string]dialtest.Host, opts ...Option) *Dialer {
	t.Helper()
	opts = append([]Option{WithResolver(dialtest.NewResolver(hosts))}, opts...)
	d, err := New(opts...)
	if err != nil {
		t.Fatal(err)
	}
	d.dialAddr = f.dial
	return d
}

func addrs(s ...string) []netip.Addr {
	out := make([]netip.Addr, len(s))
	for i, a := range s {
		out[i] = netip.MustParseAddr(a)
	}
	return out
}

var netDNSTemporary = net.DNSError{Err: "server misbehaving", Name: "flaky.test", IsTemporary: true}
