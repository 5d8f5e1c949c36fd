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
// makes, after calibrationWarmUp that are not counted (the first connects
// to a new host are slower): enough for a lower quartile stable to about
// 20 µs, about 150 ms in all.
const (
	calibrationDials  = 51
	calibrationWarmUp = 5
)

// calibrationRTT is the round trip of the calibration's link. The lab's
// overhead is measured over a link that makes its relay sleep between
// packets, as on every link a test uses: the wake-ups after a sleep are
// the slow part, and a zero-delay link would not see them.
const calibrationRTT = 2 * time.Millisecond

// calibrate measures what the lab itself adds to a TCP handshake: the
// lower quartile of the connect times over a link of calibrationRTT, less
// that round trip and less the lower quartile over loopback, in the same
// namespace, interleaved so that both see the same machine. (A quartile,
// not the median: a loaded machine only ever adds to a connect, and what
// it adds is not the lab's.) That is the TUN devices, the relay thread's
// wake-up and the far kernel's hop, about 150 µs on a 2-core virtual
// machine; every link then
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
	h, err := newHost(probe, index, Symmetric(calibrationRTT, 0, 0))
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
	for i := range calibrationWarmUp + calibrationDials {
		for _, s := range []struct {
			addr string
			into *[]time.Duration
		}{{far.String(), &lab}, {near.String(), &loop}} {
			start := time.Now()
			c, err := net.DialTimeout("tcp", s.addr, time.Second)
			if err != nil {
				return 0, fmt.Errorf("netlab: calibrating: %w", err)
			}
			if i >= calibrationWarmUp {
				*s.into = append(*s.into, time.Since(start))
			}
			c.Close()
		}
	}
	return max(lowerQuartile(lab)-calibrationRTT-lowerQuartile(loop), 0), nil
}

func lowerQuartile(ds []time.Duration) time.Duration {
	slices.Sort(ds)
	return ds[len(ds)/4]
}
