package dialer_test

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/dialguard/dialguard/breaker"
	"github.com/dialguard/dialguard/dialer"
	"github.com/dialguard/dialguard/dialer/dialtest"
)

var soakFor = flag.Duration("soak", 20*time.Second, "how long TestChaosSoak runs (CI uses the default)")

// mode is what a soak destination does with connections at a moment.
type mode int

const (
	healthy   mode = iota // accepts and echoes
	stalled               // full accept queue: SYNs dropped
	refusing              // bound, not listening: RST
	resetting             // accepts, then resets the connection
	slow                  // accepts after a delay, then echoes
	modes
)

var modeNames = [...]string{"healthy", "stalled", "refusing", "resetting", "slow"}

func (m mode) String() string { return modeNames[m] }

// station is one destination of the soak: a fixed loopback address whose
// behaviour is switched by closing what listens there and opening another.
type station struct {
	addr string
	mu   sync.Mutex
	mode mode
	gen  int // bumped on every switch
	cur  io.Closer
}

func (s *station) current() (mode, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mode, s.gen
}

// switchTo replaces what listens at s.addr. A port with connections in
// TIME_WAIT refuses a bind without SO_REUSEADDR (the refusing mode) for a
// while; then the station becomes healthy instead, and says so.
func (s *station) switchTo(m mode) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cur != nil {
		s.cur.Close()
		s.cur = nil
	}
	s.gen++ // whatever follows, connections made before are from another era
	var lastErr error
	for _, try := range []mode{m, healthy} {
		for range 20 {
			c, err := open(try, s.addr)
			if err == nil {
				s.cur, s.mode = c, try
				return nil
			}
			lastErr = err
			time.Sleep(5 * time.Millisecond)
		}
	}
	return fmt.Errorf("station %s: cannot become %v: %w", s.addr, m, lastErr)
}

func (s *station) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cur != nil {
		s.cur.Close()
		s.cur = nil
	}
}

func open(m mode, addr string) (io.Closer, error) {
	switch m {
	case healthy:
		return dialtest.ListenHealthy(addr)
	case stalled:
		return dialtest.ListenStalled(addr)
	case refusing:
		return dialtest.ListenRefused(addr)
	case resetting:
		return listenServer(addr, 0, true)
	default:
		return listenServer(addr, 100*time.Millisecond, false)
	}
}

// server accepts and either resets the connection at once or, after
// delay (a slow application), echoes.
type server struct {
	ln    net.Listener
	wg    sync.WaitGroup
	mu    sync.Mutex
	conns map[net.Conn]struct{}
	done  chan struct{}
}

func listenServer(addr string, delay time.Duration, reset bool) (*server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	s := &server{ln: ln, conns: map[net.Conn]struct{}{}, done: make(chan struct{})}
	s.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			if reset {
				c.(*net.TCPConn).SetLinger(0)
				c.Close()
				continue
			}
			s.mu.Lock()
			s.conns[c] = struct{}{}
			s.mu.Unlock()
			s.wg.Go(func() {
				select {
				case <-time.After(delay):
					io.Copy(c, c)
				case <-s.done:
				}
				c.Close()
			})
		}
	})
	return s, nil
}

func (s *server) Close() error {
	close(s.done)
	err := s.ln.Close()
	s.mu.Lock()
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
	return err
}

// soakTally counts what the callers saw.
type soakTally struct {
	mu        sync.Mutex
	outcomes  map[string]int
	worstLate time.Duration
	late      int
	unusable  int
	dials     int
	lateKinds []string
}

func (t *soakTally) add(kind string, late time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.dials++
	t.outcomes[kind]++
	if late > t.worstLate {
		t.worstLate = late
	}
	if late > 50*time.Millisecond {
		t.late++
		t.lateKinds = append(t.lateKinds, fmt.Sprintf("%s +%v", kind, late.Round(time.Millisecond)))
	}
}

func classify(err error) string {
	var dnsErr *net.DNSError
	switch {
	case err == nil:
		return "connected"
	case errors.Is(err, dialer.ErrCircuitOpen):
		return "circuit-open"
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.Is(err, dialer.ErrAttemptTimeout):
		return "stalled"
	case errors.Is(err, context.DeadlineExceeded):
		return "deadline"
	case isTimeout(err):
		return "timeout: " + err.Error() // a timeout the dialer did not name
	case errors.Is(err, syscall.ECONNREFUSED):
		return "refused"
	case errors.Is(err, syscall.ECONNRESET):
		return "reset"
	case errors.As(err, &dnsErr):
		return "dns"
	}
	return "other: " + err.Error()
}

// TestChaosSoak runs many callers with random deadlines and cancellations
// through one Dialer against loopback destinations that switch at random
// among healthy, stalled, refusing, resetting and slow. Afterwards: no
// goroutine leaked, descriptors back to the baseline, no caller later than
// its deadline plus 50 ms, every connection from a healthy destination
// usable, and breakers that agree with what each destination did last.
func TestChaosSoak(t *testing.T) {
	if testing.Short() {
		t.Skip("the soak runs for -soak (20 s)")
	}
	goleak.VerifyNone(t) // a clean start, so the end can be judged
	// Warm up the runtime's network poller (its own descriptors) before
	// taking the baseline.
	warm := dialtest.NewHealthy(t, "127.0.0.1:0")
	if c, err := net.Dial("tcp", warm.String()); err == nil {
		c.Close()
	}
	warm.Close()
	fdBefore, err := dialtest.OpenFDs()
	if err != nil {
		t.Fatal(err)
	}
	fdsBefore := fdTargets()
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
	t.Logf("soak for %v", *soakFor)

	// Four destinations, each on its own loopback address and port.
	probe := dialtest.NewHealthy(t, "127.0.0.20:0")
	port := probe.Addr().Port()
	probe.Close()
	stations := make([]*station, 4)
	for i := range stations {
		stations[i] = &station{addr: hostPort(fmt.Sprintf("127.0.0.%d", 20+i), port)}
		if err := stations[i].switchTo(healthy); err != nil {
			t.Fatal(err)
		}
	}
	defer func() {
		for _, s := range stations {
			s.close()
		}
	}()

	const openFor = 300 * time.Millisecond
	d := newDialer(t,
		dialer.WithAttemptTimeout(200*time.Millisecond),
		dialer.WithAttemptDelay(50*time.Millisecond),
		dialer.WithBreaker(breaker.Settings{OpenTimeout: openFor, MaxOpenTimeout: 4 * openFor}),
	)
	sampler := dialtest.SampleSynSent(port, 5*time.Millisecond)

	ctx, stop := context.WithTimeout(t.Context(), *soakFor)
	defer stop()
	var wg sync.WaitGroup
	var switchErr atomic.Pointer[error]
	for i, s := range stations {
		seed := rng.Uint64()
		wg.Go(func() {
			r := rand.New(rand.NewPCG(seed, uint64(i)))
			for ctx.Err() == nil {
				if err := s.switchTo(mode(r.IntN(int(modes)))); err != nil {
					switchErr.Store(&err)
					return
				}
				select {
				case <-time.After(time.Duration(100+r.IntN(400)) * time.Millisecond):
				case <-ctx.Done():
				}
			}
		})
	}
	tally := &soakTally{outcomes: map[string]int{}}
	for c := range 24 {
		seed := rng.Uint64()
		wg.Go(func() {
			r := rand.New(rand.NewPCG(seed, uint64(c)))
			for ctx.Err() == nil {
				s := stations[r.IntN(len(stations))]
				soakDial(t, d, s, r, tally)
				// A caller thinks between requests. Without this, callers
				// refused in microseconds by an open breaker spin, and with
				// one P (the GOMAXPROCS=1 run) they starve the timers that
				// end other callers' dials: the lateness measured would be
				// the scheduler's, not the dialer's.
				time.Sleep(time.Duration(1+r.IntN(5)) * time.Millisecond)
			}
		})
	}
	wg.Wait()
	peak := sampler.Stop()
	if p := switchErr.Load(); p != nil {
		t.Fatal(*p)
	}

	t.Logf("%d dials; outcomes %v; worst lateness %v; peak SYN_SENT %d",
		tally.dials, sorted(tally.outcomes), tally.worstLate, peak)
	if tally.late > 0 {
		t.Errorf("%d callers returned more than 50ms after their deadline (worst %v): %v", tally.late, tally.worstLate, tally.lateKinds)
	}
	if tally.unusable > 0 {
		t.Errorf("%d connections from healthy destinations were not usable", tally.unusable)
	}
	if tally.outcomes["connected"] == 0 || tally.outcomes["circuit-open"] == 0 {
		t.Errorf("the soak never connected or never opened a breaker: %v", tally.outcomes)
	}
	for kind := range tally.outcomes {
		if strings.HasPrefix(kind, "other:") || strings.HasPrefix(kind, "timeout:") {
			t.Errorf("unexpected failure: %s", kind)
		}
	}

	checkBreakersFollowTheLastBehaviour(t, d, stations)

	for _, s := range stations {
		s.close()
	}
	var fdAfter int
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		// io.Copy between TCP connections splices through pipes that the
		// runtime pools; the pool lets them go (and closes them) over GCs.
		runtime.GC()
		if fdAfter, _ = dialtest.OpenFDs(); fdAfter <= fdBefore {
			break
		}
	}
	if fdAfter > fdBefore {
		t.Errorf("open descriptors: %d before the soak, %d after; new: %v", fdBefore, fdAfter, newFDs(fdsBefore, fdTargets()))
	}
	goleak.VerifyNone(t)
}

// soakDial makes one caller's dial with a random deadline, sometimes
// cancelled early, and checks the connection it gets.
func soakDial(t *testing.T, d *dialer.Dialer, s *station, r *rand.Rand, tally *soakTally) {
	deadline := time.Duration(50+r.IntN(950)) * time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	if r.IntN(5) == 0 {
		after := time.Duration(r.Int64N(int64(deadline)))
		timer := time.AfterFunc(after, cancel)
		defer timer.Stop()
	}
	m0, gen0 := s.current()
	start := time.Now()
	c, err := d.DialContext(ctx, "tcp", s.addr)
	late := time.Since(start) - deadline
	tally.add(classify(err), late)
	if err != nil {
		return
	}
	defer c.Close()
	if _, ok := c.(*net.TCPConn); !ok {
		t.Errorf("dial returned %T", c)
	}
	// One byte both ways; judged only if the destination stayed healthy or
	// slow from before the dial to after the echo.
	c.SetDeadline(time.Now().Add(time.Second))
	buf := []byte{byte(r.IntN(256))}
	_, werr := c.Write(buf)
	got := make([]byte, 1)
	_, rerr := io.ReadFull(c, got)
	m1, gen1 := s.current()
	if gen0 == gen1 && (m0 == healthy || m0 == slow) && m1 == m0 {
		if werr != nil || rerr != nil || got[0] != buf[0] {
			tally.mu.Lock()
			tally.unusable++
			tally.mu.Unlock()
			t.Logf("unusable connection to %s (%v): write %v, read %v", s.addr, m0, werr, rerr)
		}
	}
}

// checkBreakersFollowTheLastBehaviour makes half the destinations healthy
// and half stalled for good, and checks that the breakers agree: the
// healthy ones connect again (at the latest once their open time is over)
// and close their breakers; the stalled ones get their breakers opened.
func checkBreakersFollowTheLastBehaviour(t *testing.T, d *dialer.Dialer, stations []*station) {
	t.Helper()
	for i, s := range stations {
		m := healthy
		if i%2 == 1 {
			m = stalled
		}
		if err := s.switchTo(m); err != nil {
			t.Fatal(err)
		}
	}
	for i, s := range stations {
		want := breaker.Closed
		if i%2 == 1 {
			want = breaker.Open
		}
		var got breaker.State
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			c, err := d.DialContext(ctx, "tcp", s.addr)
			cancel()
			if err == nil {
				c.Close()
			}
			st, _ := d.DestinationState(s.addr)
			if got = st.State; got == want {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		if got != want {
			t.Errorf("%s (%v at the end): breaker %v, want %v", s.addr, map[bool]mode{true: healthy, false: stalled}[i%2 == 0], got, want)
		}
	}
}

// fdTargets maps this process's descriptors to what they point at.
func fdTargets() map[string]string {
	out := map[string]string{}
	entries, _ := os.ReadDir("/proc/self/fd")
	for _, e := range entries {
		target, _ := os.Readlink("/proc/self/fd/" + e.Name())
		out[e.Name()] = target
	}
	return out
}

func newFDs(before, after map[string]string) []string {
	var out []string
	for fd, target := range after {
		if before[fd] != target {
			out = append(out, fd+"->"+target+" "+holders(target))
		}
	}
	sort.Strings(out)
	return out
}

// holders lists the processes that hold target open, for diagnosis.
func holders(target string) string {
	if target == "" {
		return ""
	}
	var pids []string
	procs, _ := os.ReadDir("/proc")
	for _, p := range procs {
		fds, _ := os.ReadDir("/proc/" + p.Name() + "/fd")
		for _, fd := range fds {
			if t, _ := os.Readlink("/proc/" + p.Name() + "/fd/" + fd.Name()); t == target {
				comm, _ := os.ReadFile("/proc/" + p.Name() + "/comm")
				pids = append(pids, p.Name()+":"+strings.TrimSpace(string(comm)))
				break
			}
		}
	}
	return fmt.Sprint(pids)
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func sorted(m map[string]int) []string {
	out := make([]string, 0, len(m))
	for k, v := range m {
		out = append(out, fmt.Sprintf("%s=%d", k, v))
	}
	sort.Strings(out)
	return out
}
