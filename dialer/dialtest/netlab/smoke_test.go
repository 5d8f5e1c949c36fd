package netlab_test

import (
	"net"
	"testing"
	"time"

	"github.com/dialguard/dialguard/dialer/dialtest/netlab"
)

func TestSmoke(t *testing.T) {
	lab := netlab.NewLab(t)
	for _, rtt := range []time.Duration{0, time.Millisecond, 50 * time.Millisecond} {
		h := lab.NewHost(t, netlab.Symmetric(rtt, 0, 0))
		for _, ip := range h.Addrs() {
			srv := h.NewHealthy(t, net.JoinHostPort(ip.String(), "0"))
			for range 5 {
				start := time.Now()
				c, err := net.Dial("tcp", srv.String())
				if err != nil {
					t.Fatal(err)
				}
				t.Logf("%v %v: %v", rtt, srv, time.Since(start))
				c.Close()
			}
		}
	}
}
