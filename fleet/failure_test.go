package fleet_test

import (
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/dialguard/dialguard/breaker"
	"github.com/dialguard/dialguard/dialer/dialtest"
	"github.com/dialguard/dialguard/fleet"
)

// dialLoop dials addr from one goroutine until stop is closed (at most
// 20,000 dials), recording each dial's time and error under the phase the
// test sets.
type dialLoop struct {
	phase  atomic.Int32
	mu     sync.Mutex
	times  [3][]time.Duration
	failed [3]int
}

func (l *dialLoop) run(m *member, addr string, stop <-chan struct{}) {
	for range 20000 {
		select {
		case <-stop:
			return
		default:
		}
		el, err := dial(m.d, addr)
		p := l.phase.Load()
		l.mu.Lock()
		l.times[p] = append(l.times[p], el)
		if err != nil {
			l.failed[p]++
		}
		l.mu.Unlock()
		time.Sleep(time.Millisecond)
	}
}

// Redis killed in the middle of a run, then restarted: healthy dials
// neither fail nor slow down (none waits on Redis), each process logs one
// line when the link goes and one when it is back, and once it is back an
// opening is shared again.
func TestRedisKilledMidRun(t *testing.T) {
	r := newRedis(t)
	client := r.client(t)
	h := dialtest.NewHealthy(t, "127.0.0.1:0")
	core, logs := observer.New(zap.InfoLevel)
	opts := []fleet.Option{fleet.WithLogger(zap.New(core)), fleet.WithMaxReconnectWait(200 * time.Millisecond)}
	a, b := newMember(t, client, "killed", opts...), newMember(t, client, "killed", opts...)

	var loops [2]dialLoop
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i, m := range []*member{a, b} {
		wg.Go(func() { loops[i].run(m, h.String(), stop) })
	}
	time.Sleep(300 * time.Millisecond)
	for i := range loops {
		loops[i].phase.Store(1)
	}
	r.Kill()
	time.Sleep(500 * time.Millisecond)
	for i := range loops {
		loops[i].phase.Store(2)
	}
	r.Start()
	deadline := time.Now().Add(10 * time.Second)
	for a.share.Stats().Reconnects == 0 || b.share.Stats().Reconnects == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("the shares did not reconnect within 10s: %+v, %+v", a.share.Stats(), b.share.Stats())
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond)
	close(stop)
	wg.Wait()

	names := [3]string{"Redis up", "Redis killed", "Redis restarted"}
	var medians [3]time.Duration
	for p := range 3 {
		var all []time.Duration
		failed := 0
		for i := range loops {
			all = append(all, loops[i].times[p]...)
			failed += loops[i].failed[p]
		}
		if len(all) == 0 {
			t.Fatalf("no dial while %s", names[p])
		}
		slices.Sort(all)
		medians[p] = all[len(all)/2]
		t.Logf("%s: %d healthy dials, %d failed, median %v, p99 %v, worst %v",
			names[p], len(all), failed, medians[p], all[len(all)*99/100], all[len(all)-1])
		if failed > 0 {
			t.Errorf("%d healthy dials failed while %s", failed, names[p])
		}
		// A dial that waited on Redis would wait its command timeout
		// (1s). (A loopback dial of a loaded machine may wait for one
		// stalled attempt, 100ms, whatever Redis does.)
		if worst := all[len(all)-1]; worst >= time.Second {
			t.Errorf("a healthy dial took %v while %s", worst, names[p])
		}
	}
	if medians[1] > 2*medians[0]+time.Millisecond {
		t.Errorf("median dial %v with Redis killed, %v with it up: dials slowed down", medians[1], medians[0])
	}

	// One line per change of each link: down, then up again (and the
	// first up, at start).
	var downs, ups int
	for _, e := range logs.All() {
		switch e.Level {
		case zap.WarnLevel:
			downs++
		case zap.InfoLevel:
			ups++
		}
	}
	if downs != 2 || ups != 4 {
		t.Errorf("link log lines: %d down, %d up; want 2 and 4 (one per change per process)", downs, ups)
	}

	// Sharing resumed: an opening in one process reaches the other.
	stalled := dialtest.NewStalled(t, "127.0.0.1:0")
	if _, err := dial(a.d, stalled.String()); err == nil {
		t.Fatal("dial to a stalled listener connected")
	}
	a.waitState(t, stalled.String(), breaker.Open, 5*time.Second)
	b.waitState(t, stalled.String(), breaker.Open, 2*time.Second)
}

// Redis frozen (a partition: connections open, no answer): healthy dials
// are not slowed, a half-open probe waits at most the probe timeout for
// the lease and then goes alone, and Close returns within the command
// timeout (the client honours contexts: ContextTimeoutEnabled).
func TestRedisFrozenProbeGoesAlone(t *testing.T) {
	r := newRedis(t)
	client := redis.NewClient(&redis.Options{Addr: r.addr, ContextTimeoutEnabled: true})
	defer client.Close()
	h := dialtest.NewHealthy(t, "127.0.0.1:0")
	m := newMember(t, client, "frozen")
	r.Freeze()
	defer r.Thaw()
	for range 100 {
		if el, err := dial(m.d, h.String()); err != nil || el >= time.Second {
			t.Fatalf("healthy dial with Redis frozen: %v after %v", err, el)
		}
	}
	until := time.Now().Add(50 * time.Millisecond)
	m.d.HoldDestination(h.String(), until)
	time.Sleep(time.Until(until) + 5*time.Millisecond)
	el, err := dial(m.d, h.String())
	if err != nil {
		t.Fatalf("the probe with Redis frozen: %v, want it sent alone and connected", err)
	}
	t.Logf("the probe with Redis frozen connected after %v (probe timeout %v)", el, fleet.DefaultProbeTimeout)
	if el >= time.Second {
		t.Errorf("the probe took %v, want about the probe timeout", el)
	}
	if s := m.share.Stats(); s.ProbesAlone != 1 {
		t.Errorf("stats %+v, want one probe decided alone", s)
	}
	start := time.Now()
	m.share.Close()
	if el := time.Since(start); el >= 2*fleet.DefaultCommandTimeout {
		t.Errorf("Close took %v with Redis frozen, want at most about the command timeout (%v)", el, fleet.DefaultCommandTimeout)
	}
}
