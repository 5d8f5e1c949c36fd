package bench

import (
	"context"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/dialguard/dialguard/dialer"
	"github.com/dialguard/dialguard/dialer/dialtest"
)

// dialFunc is what both contenders offer: net.Dialer.DialContext and
// dialer.Dialer.DialContext.
type dialFunc func(ctx context.Context, network, address string) (net.Conn, error)

// newDialguard is dialer.New for benchmarks: it fails b on a bad option.
func newDialguard(b *testing.B, opts ...dialer.Option) *dialer.Dialer {
	b.Helper()
	d, err := dialer.New(opts...)
	if err != nil {
		b.Fatal(err)
	}
	return d
}

// newDNS serves hosts through a dialtest.DNSServer, closed when b ends.
func newDNS(b *testing.B, hosts map[string][]netip.Addr) *dialtest.DNSServer {
	srv := dialtest.NewDNSServer(hosts)
	b.Cleanup(func() { srv.Close() })
	return srv
}

// dialClose dials and closes, failing b on error.
func dialClose(b *testing.B, dial dialFunc, address string) {
	conn, err := dial(context.Background(), "tcp", address)
	if err != nil {
		b.Fatal(err)
	}
	conn.Close()
}

// hostPort joins a host and a port.
func hostPort(host string, port uint16) string {
	return net.JoinHostPort(host, strconv.Itoa(int(port)))
}

// ms converts a duration to float milliseconds for ReportMetric.
func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// percentile returns the p-th percentile (0..100, nearest rank) of ds,
// which it sorts.
func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	slices.Sort(ds)
	i := int(float64(len(ds))*p/100+0.999999) - 1
	return ds[max(0, min(i, len(ds)-1))]
}

// mean returns the mean of ds.
func mean(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	var sum time.Duration
	for _, d := range ds {
		sum += d
	}
	return sum / time.Duration(len(ds))
}

// attemptCounter counts the connection attempts of either contender: for
// dialguard through WithAttemptObserver (attempts that were made, not the
// ones skipped by an open address breaker), for net.Dialer through its
// Control hook (one call per socket it connects).
type attemptCounter struct{ n atomic.Int64 }

func (c *attemptCounter) observer() dialer.Option {
	return dialer.WithAttemptObserver(func(ai dialer.AttemptInfo) {
		if ai.Outcome != dialer.Skipped {
			c.n.Add(1)
		}
	})
}

func (c *attemptCounter) netDialer() *net.Dialer {
	return &net.Dialer{ControlContext: func(context.Context, string, string, syscall.RawConn) error {
		c.n.Add(1)
		return nil
	}}
}
