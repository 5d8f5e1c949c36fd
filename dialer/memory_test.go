package dialer_test

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"runtime"
	"strconv"
	"testing"

	"github.com/dialguard/dialguard/dialer"
	"github.com/dialguard/dialguard/dialer/dialtest"
)

// heapBound is the documented ceiling on what a Dialer keeps, whatever it
// has dialled: the stall memory (DefaultMemorySize destinations) and two
// breaker registries (breaker.DefaultMaxBreakers each) at their bounds.
const heapBound = 64 << 20

// TestHostileInputKeepsMemoryBounded dials a stream of distinct host names
// that fail fast in the resolver (hostileDials of them: a million without
// the race detector, a tenth with it, where each dial is ten times slower)
// and checks that the heap stays within heapBound.
func TestHostileInputKeepsMemoryBounded(t *testing.T) {
	d := newDialer(t, dialer.WithResolver(nowhere{}), dialer.WithMaxRetries(0))
	heap := func() uint64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	before := heap()
	for i := range hostileDials {
		_, err := d.DialContext(t.Context(), "tcp", "h"+strconv.Itoa(i)+".hostile.test:443")
		var dnsErr *net.DNSError
		if !errors.As(err, &dnsErr) {
			t.Fatalf("dial %d: err = %v, want a DNS error", i, err)
		}
	}
	after := heap()
	runtime.KeepAlive(d)
	growth := int64(after) - int64(before)
	t.Logf("%d distinct destinations: heap %d KiB before, %d KiB after (growth %d KiB, bound %d KiB)",
		hostileDials, before>>10, after>>10, growth>>10, heapBound>>10)
	if growth > heapBound {
		t.Errorf("heap grew by %d KiB, want at most %d KiB", growth>>10, heapBound>>10)
	}
}

// TestAddressesRacedPerDialAreCapped: a name answering with hundreds of
// addresses costs at most MaxAddresses attempts.
func TestAddressesRacedPerDialAreCapped(t *testing.T) {
	r := dialtest.NewRefused(t, "127.0.0.1:0")
	many := make([]netip.Addr, 300)
	for i := range many {
		many[i] = r.Addr().Addr() // one refusing address, answered 300 times over
		if i > 0 {
			many[i] = netip.AddrFrom4([4]byte{127, 1, byte(i / 250), byte(i%250 + 1)})
		}
	}
	res := dialtest.NewResolver(map[string]dialtest.Host{"many.test": {IPv4: many}})
	var seen attempts
	d := newDialer(t, dialer.WithResolver(res), dialer.WithMaxRetries(0), dialer.WithMaxAddresses(5),
		dialer.WithAttemptObserver(seen.observe))
	if _, err := d.DialContext(t.Context(), "tcp", hostPort("many.test", r.Addr().Port())); err == nil {
		t.Fatal("dial succeeded")
	}
	if n := len(seen.all()); n != 5 {
		t.Errorf("%d attempts for a name with 300 addresses, want the cap of 5", n)
	}
}

// nowhere answers every lookup with "not found" at once, and remembers
// nothing (dialtest.Resolver counts lookups per name, which would itself
// grow with a million names).
type nowhere struct{}

func (nowhere) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
}
