package netlab_test

import (
	"net"
	"net/netip"
	"slices"
	"strconv"
	"testing"
	"time"
)

// at joins ip and port into "ip:port".
func at(ip netip.Addr, port uint16) string {
	return net.JoinHostPort(ip.String(), strconv.Itoa(int(port)))
}

// dialTime dials address with net.Dialer and a timeout and returns how long
// the connect took, closing the connection.
func dialTime(t *testing.T, address string, timeout time.Duration) (time.Duration, error) {
	t.Helper()
	d := net.Dialer{Timeout: timeout}
	start := time.Now()
	c, err := d.Dial("tcp", address)
	el := time.Since(start)
	if err == nil {
		c.Close()
	}
	return el, err
}

// quartile returns the lower quartile of ds: what a connect costs when the
// machine does not get in its way (load only ever adds to a connect).
func quartile(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/4]
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

func netipAddrPort(ip netip.Addr, port uint16) netip.AddrPort { return netip.AddrPortFrom(ip, port) }
