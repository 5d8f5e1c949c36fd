package netlab_test

import (
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dialguard/dialguard/dialer/dialtest/netlab"
)

// BenchmarkLinkHandshakes measures how many TCP handshakes (connect and
// close, with net.Dialer) one link carries per second, with 32 dialers at
// once over a 1 ms link. Reported: handshakes/s (the lab's target is at
// least 2,000 on a 2-core machine) and the link's overflow drops.
func BenchmarkLinkHandshakes(b *testing.B) {
	lab := netlab.NewLab(b)
	h := lab.NewHost(b, netlab.Symmetric(time.Millisecond, 0, 0))
	srv := h.NewHealthy(b, at(h.IPv4(), 0))
	const dialers = 32
	total := max(b.N, 4000)
	var next, failed atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	start := time.Now()
	for range dialers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d := net.Dialer{Timeout: 5 * time.Second}
			for next.Add(1) <= int64(total) {
				c, err := d.Dial("tcp", srv.String())
				if err != nil {
					failed.Add(1)
					continue
				}
				c.Close()
			}
		}()
	}
	wg.Wait()
	el := time.Since(start)
	b.StopTimer()
	out, in := h.Link().Stats()
	b.ReportMetric(float64(total)/el.Seconds(), "handshakes/s")
	b.ReportMetric(float64(failed.Load()), "failed")
	b.ReportMetric(float64(out.Overflow+in.Overflow), "overflow")
}
