package netlab

import (
	"fmt"
	"net"
	"net/netip"
	"slices"
	"time"

	"github.com/dialguard/dialguard/dialer/dialtest"
)

// calibrationDials is how many handshakes each side of the calibration
// makes: enough for a stable median, about 10 ms in all.
const calibrationDials = 15

// calibrate measures what the lab itself adds to a TCP handshake: the
// median connect time over a zero-delay link minus the median over
// loopback, in the same namespace, interleaved so that both see the same
// machine. That is the TUN devices, the relay thread's wake-up and the far
// kernel's hop, about 150 µs on a 2-core virtual machine; every link then
// takes half of it off each direction's delay, so that a connect over a
// link with a round trip of 1 ms takes what a connect over loopback takes
// plus 1 ms.
func calibrate() (time.Duration, error) {
	probe := &Lab{}
	defer probe.Close()
	index, err := freeIndex()
	if err != nil {
		return 0, err
	}
	h, err := newHost(probe, index, Config{})
	if err != nil {
		return 0, err
	}
	probe.hosts = append(probe.hosts, h)
	far, err := h.ListenHealthy(netip.AddrPortFrom(h.ip4, 0).String())
	if err != nil {
		return 0, err
	}
	defer far.Close()
	near, err := dialtest.ListenHealthy("127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer near.Close()
	var lab, loop []time.Duration
	for range calibrationDials {
		for _, s := range []struct {
			addr string
			into *[]time.Duration
		}{{far.String(), &lab}, {near.String(), &loop}} {
			start := time.Now()
			c, err := net.DialTimeout("tcp", s.addr, time.Second)
			if err != nil {
				return 0, fmt.Errorf("netlab: calibrating: %w", err)
			}
			*s.into = append(*s.into, time.Since(start))
			c.Close()
		}
	}
	return max(median(lab)-median(loop), 0), nil
}

func median(ds []time.Duration) time.Duration {
	slices.Sort(ds)
	return ds[len(ds)/2]
}
