package dialtest

import (
	"errors"
	"net/netip"
	"strconv"
	"testing"
)

// dualStackTries is how many ports ListenDualStack tries before giving up.
const dualStackTries = 5

// DualStack reproduces the incident on one port: the IPv6 loopback address
// stalls while the IPv4 one answers. A dialer that tries [::1]:Port first
// and waits for it hangs; one that races the families connects to
// 127.0.0.1:Port.
type DualStack struct {
	Stalled *Stalled // on [::1]:Port, IPV6_V6ONLY
	Healthy *Healthy // on 127.0.0.1:Port
	Port    uint16   // the port both listen on
}

// ListenDualStack returns a DualStack on a free port. It binds the Stalled on
// [::1]:0 first and then the Healthy on 127.0.0.1 at the same port; if that
// port is taken on 127.0.0.1, it tries again with a new port, up to 5 times.
func ListenDualStack() (*DualStack, error) {
	var errs []error
	for range dualStackTries {
		s, err := ListenStalled("[::1]:0")
		if err != nil {
			return nil, err
		}
		h, err := ListenHealthy(netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 1}), s.Addr().Port()).String())
		if err != nil {
			s.Close()
			errs = append(errs, err)
			continue
		}
		return &DualStack{Stalled: s, Healthy: h, Port: s.Addr().Port()}, nil
	}
	return nil, errors.Join(append([]error{errors.New("dialtest: no free dual-stack port after " + strconv.Itoa(dualStackTries) + " tries")}, errs...)...)
}

// NewDualStack is ListenDualStack for tests: it calls tb.Fatal on error and
// registers Close with tb.Cleanup.
func NewDualStack(tb testing.TB) *DualStack {
	tb.Helper()
	d, err := ListenDualStack()
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { d.Close() })
	return d
}

// Close closes both listeners. It is idempotent.
func (d *DualStack) Close() error {
	return errors.Join(d.Stalled.Close(), d.Healthy.Close())
}
