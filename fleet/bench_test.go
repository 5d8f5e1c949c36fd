package fleet_test

import (
	"context"
	"testing"
	"time"

	"github.com/dialguard/dialguard/dialer"
	"github.com/dialguard/dialguard/dialer/dialtest"
	"github.com/dialguard/dialguard/fleet"
)

// Healthy dials with sharing on and off, interleaved one for one so that
// both see the same machine: x_vs_alone is the shared dial's time over the
// lone one's (target: at most 1.05), redis_cmds/dial the Redis commands
// the shared dials made (target: 0).
func BenchmarkHealthyDial(b *testing.B) {
	r := newRedis(b)
	h := dialtest.NewHealthy(b, "127.0.0.1:0")
	share, err := fleet.New(r.client(b), fleet.WithPrefix("bench"))
	if err != nil {
		b.Fatal(err)
	}
	defer share.Close()
	shared, err := dialer.New(share.Option())
	if err != nil {
		b.Fatal(err)
	}
	alone, err := dialer.New()
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	dial := func(d *dialer.Dialer) time.Duration {
		start := time.Now()
		c, err := d.DialContext(ctx, "tcp", h.String())
		el := time.Since(start)
		if err != nil {
			b.Fatal(err)
		}
		c.Close()
		return el
	}
	dial(shared)
	dial(alone)
	// The first dial's estimate is published, once: not a healthy dial's.
	for deadline := time.Now().Add(5 * time.Second); share.Stats().Sent == 0; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			b.Fatal("first estimate not published within 5s")
		}
	}
	sent := share.Stats().Sent
	before := r.commands(b)
	var tShared, tAlone time.Duration
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if i%2 == 0 { // alternate who goes first
			tAlone += dial(alone)
			tShared += dial(shared)
		} else {
			tShared += dial(shared)
			tAlone += dial(alone)
		}
	}
	b.StopTimer()
	cmds := 0
	for _, n := range delta(before, r.commands(b)) {
		cmds += n
	}
	n := float64(b.N)
	b.ReportMetric(float64(tShared.Microseconds())/n, "µs/shared_dial")
	b.ReportMetric(float64(tAlone.Microseconds())/n, "µs/alone_dial")
	b.ReportMetric(float64(tShared)/float64(tAlone), "x_vs_alone")
	b.ReportMetric(float64(cmds)/n, "redis_cmds/dial")
	b.ReportMetric(float64(share.Stats().Sent-sent)/n, "msgs/dial")
}

// Healthy loopback dials with the estimate's rate limit off
// (WithTimingInterval of a nanosecond): msgs/dial is how often the
// destination's srtt moves by more than a quarter from what was last
// published, the messages a steady path would cost without the limit.
func BenchmarkTimingMoves(b *testing.B) {
	r := newRedis(b)
	h := dialtest.NewHealthy(b, "127.0.0.1:0")
	share, err := fleet.New(r.client(b), fleet.WithPrefix("moves"), fleet.WithTimingInterval(time.Nanosecond))
	if err != nil {
		b.Fatal(err)
	}
	defer share.Close()
	d, err := dialer.New(share.Option())
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ResetTimer()
	for b.Loop() {
		c, err := d.DialContext(ctx, "tcp", h.String())
		if err != nil {
			b.Fatal(err)
		}
		c.Close()
	}
	b.StopTimer()
	time.Sleep(100 * time.Millisecond) // let the queue drain
	st := share.Stats()
	b.ReportMetric(float64(st.Sent+st.Dropped)/float64(b.N), "msgs/dial")
	if st.Sent > 0 {
		b.ReportMetric(float64(st.SentBytes)/float64(st.Sent), "bytes/msg")
	}
}
