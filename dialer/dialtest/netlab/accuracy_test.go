package netlab_test

import (
	"context"
	"encoding/binary"
	"errors"
	"math"
	"net"
	"net/netip"
	"runtime"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/dialguard/dialguard/dialer/dialtest"
	"github.com/dialguard/dialguard/dialer/dialtest/netlab"
)

// TestConnectTakesTheRoundTrip dials a healthy host over links of 1, 50,
// 300 and 700 ms with net.Dialer, on both families, and checks that the
// link adds its round trip to what a connect costs anyway, within 10 % or
// a quarter of a millisecond, whichever is more (the lab's calibrated
// overhead varies by about that much from one Lab to the next on a loaded
// two-core machine, which only the 1 ms link feels): the lower quartile of
// the connect times over the link less that over loopback, dialled in turn
// with it. (Over loopback net.Dialer takes about 50 µs, and three times
// that under the race detector: a tenth of the shortest link.) A quartile,
// as in the lab's calibration, keeps out what a loaded machine adds to a
// connect (it only ever adds), which is not the link's.
//
// The lab's relay threads and the dialer each need a P: with GOMAXPROCS=1
// (the suite's scheduling pass) the test gives itself a second one, as the
// lab's doc asks of programs that want sub-millisecond accuracy.
func TestConnectTakesTheRoundTrip(t *testing.T) {
	if runtime.GOMAXPROCS(0) < 2 {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
	}
	lab := netlab.NewLab(t)
	t.Logf("lab overhead taken off every link: %v", lab.Overhead())
	loop := dialtest.NewHealthy(t, "127.0.0.1:0")
	for _, tc := range []struct {
		rtt   time.Duration
		dials int
	}{
		{time.Millisecond, 21},
		{50 * time.Millisecond, 9},
		{300 * time.Millisecond, 3},
		{700 * time.Millisecond, 3},
	} {
		h := lab.NewHost(t, netlab.Symmetric(tc.rtt, 0, 0))
		for _, ip := range h.Addrs() {
			srv := h.NewHealthy(t, at(ip, 0))
			var far, near []time.Duration
			for range tc.dials {
				for _, d := range []struct {
					address string
					into    *[]time.Duration
				}{{srv.String(), &far}, {loop.String(), &near}} {
					el, err := dialTime(t, d.address, 5*time.Second)
					if err != nil {
						t.Fatal(err)
					}
					*d.into = append(*d.into, el)
				}
			}
			added := quartile(far) - quartile(near)
			t.Logf("round trip %v, %v: lower-quartile connect %v, over loopback %v: the link adds %v", tc.rtt, ip, quartile(far), quartile(near), added)
			slack := max(tc.rtt/10, 250*time.Microsecond)
			if lo, hi := tc.rtt-slack, tc.rtt+slack; added < lo || added > hi {
				t.Errorf("round trip %v to %v: the link adds %v to a connect, want within [%v, %v] (all connects: %v)", tc.rtt, ip, added, lo, hi, far)
			}
		}
	}
}

// udpSink is a UDP socket on a host that counts the datagrams it receives
// (each carries its sequence number) and notes any that arrive out of
// order.
type udpSink struct {
	conn      *net.UDPConn
	mu        sync.Mutex
	received  int
	reordered int
	wg        sync.WaitGroup
}

// newUDPSink listens with listen (on the host's side or the lab's) and
// starts counting.
func newUDPSink(t *testing.T, listen func() (*net.UDPConn, error)) *udpSink {
	t.Helper()
	c, err := listen()
	if err != nil {
		t.Fatal(err)
	}
	// A receive buffer far larger than the test sends, so that the sink's
	// socket never drops what the link delivered while its goroutine waits
	// for a P (under -race on two cores it can wait for milliseconds): the
	// test compares what arrived with what the link says it dropped.
	// SO_RCVBUFFORCE passes rmem_max; the lab runs as root.
	if err := forceReadBuffer(c, 4<<20); err != nil {
		c.Close()
		t.Fatal(err)
	}
	s := &udpSink{conn: c}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		buf := make([]byte, 64)
		last := -1
		for {
			n, err := s.conn.Read(buf)
			if err != nil {
				return
			}
			if n < 8 {
				continue
			}
			seq := int(binary.BigEndian.Uint64(buf))
			s.mu.Lock()
			s.received++
			if seq < last {
				s.reordered++
			}
			last = max(last, seq)
			s.mu.Unlock()
		}
	}()
	t.Cleanup(s.close)
	return s
}

func (s *udpSink) close() { s.conn.Close(); s.wg.Wait() }

// forceReadBuffer sets c's receive buffer to n bytes, past rmem_max.
func forceReadBuffer(c *net.UDPConn, n int) error {
	raw, err := c.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := raw.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, n)
	}); err != nil {
		return err
	}
	return serr
}

func (s *udpSink) counts() (received, reordered int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.received, s.reordered
}

// sendSequence sends n datagrams numbered 0..n-1 from c, paced so that no
// queue on the way overflows.
func sendSequence(t *testing.T, c net.Conn, n int) {
	t.Helper()
	defer c.Close()
	var b [8]byte
	for i := range n {
		binary.BigEndian.PutUint64(b[:], uint64(i))
		if _, err := c.Write(b[:]); err != nil {
			t.Fatal(err)
		}
		if i%20 == 19 {
			time.Sleep(time.Millisecond)
		}
	}
}

// waitFor polls cond every 10 ms until it holds or within runs out.
func waitFor(within time.Duration, cond func() bool) bool {
	for end := time.Now().Add(within); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
		if cond() {
			return true
		}
	}
	return cond()
}

// TestLossIsWhatTheLinkSays sends 1,000 datagrams over links losing 0, 15
// and 40 %, with jitter, each way in turn, and checks that the fraction that
// arrives is within 3 points of the setting, that the link's own counts
// agree with what arrived, and that jitter reordered nothing.
func TestLossIsWhatTheLinkSays(t *testing.T) {
	lab := netlab.NewLab(t)
	const n = 1000
	for _, loss := range []float64{0, 0.15, 0.40} {
		for _, way := range []string{"out", "in"} {
			p := netlab.Path{Delay: 5 * time.Millisecond, Jitter: 4 * time.Millisecond, Loss: loss}
			cfg := netlab.Config{Out: p}
			if way == "in" {
				cfg = netlab.Config{In: p}
			}
			h := lab.NewHost(t, cfg)
			stats := func() netlab.Stats {
				out, in := h.Link().Stats()
				if way == "in" {
					return in
				}
				return out
			}
			// Out: the lab sends to a socket on the host; in: the host
			// sends to a socket on the lab's side of the link.
			near := netip.AddrFrom4([4]byte{198, 18, h.IPv4().As4()[2], 1})
			to, from := h.IPv4(), near
			if way == "in" {
				to, from = near, h.IPv4()
			}
			inside := func(f func() error) error {
				if way == "out" {
					return h.Do(f)
				}
				return f()
			}
			sink := newUDPSink(t, func() (c *net.UDPConn, err error) {
				err = inside(func() error {
					c, err = net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(to, 0)))
					return err
				})
				return c, err
			})
			var sender net.Conn
			send := func() (err error) {
				sender, err = net.DialUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(from, 0)), sink.conn.LocalAddr().(*net.UDPAddr))
				return err
			}
			var err error
			if way == "in" {
				err = h.Do(send)
			} else {
				err = send()
			}
			if err != nil {
				t.Fatal(err)
			}
			before := stats()
			sendSequence(t, sender, n)
			// Wait until the link has delivered or dropped every datagram,
			// and the sink has read every one delivered.
			waitFor(5*time.Second, func() bool {
				s := stats()
				got, _ := sink.counts()
				return s.Delivered+s.Dropped+s.Overflow-before.Delivered-before.Dropped-before.Overflow >= n &&
					uint64(got) >= s.Delivered-before.Delivered
			})
			got, reordered := sink.counts()
			measured := 1 - float64(got)/n
			s := stats()
			t.Logf("loss %.2f %s: %d of %d arrived, measured loss %.3f; link %s: %+v", loss, way, got, n, measured, way, s)
			if math.Abs(measured-loss) > 0.03 {
				t.Errorf("loss %.2f %s: measured %.3f over %d datagrams, want within 3 points", loss, way, measured, n)
			}
			if dropped := s.Dropped - before.Dropped; dropped != uint64(n-got) {
				t.Errorf("loss %.2f %s: the link counts %d dropped, but %d of %d did not arrive", loss, way, dropped, n-got, n)
			}
			if reordered != 0 {
				t.Errorf("loss %.2f %s with jitter: %d datagrams arrived out of order, want none", loss, way, reordered)
			}
		}
	}
}

// TestLostSYNWaitsForTheKernelsRetransmission drops everything on the way
// out until the first SYN has been lost, then clears the link: the connect
// completes only when the kernel retransmits the SYN, 1 s after the first
// (its initial retransmission timeout, RFC 6298).
func TestLostSYNWaitsForTheKernelsRetransmission(t *testing.T) {
	lab := netlab.NewLab(t)
	cfg := netlab.Symmetric(20*time.Millisecond, 0, 0)
	h := lab.NewHost(t, cfg)
	srv := h.NewHealthy(t, at(h.IPv4(), 0))
	if err := h.Link().Set(netlab.Config{Out: netlab.Path{Delay: cfg.Out.Delay, Loss: 1}, In: cfg.In}); err != nil {
		t.Fatal(err)
	}
	before, _ := h.Link().Stats()
	type result struct {
		el  time.Duration
		err error
	}
	done := make(chan result, 1)
	go func() {
		d := net.Dialer{}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		start := time.Now()
		c, err := d.DialContext(ctx, "tcp", srv.String())
		if err == nil {
			c.Close()
		}
		done <- result{time.Since(start), err}
	}()
	if !waitFor(time.Second, func() bool { s, _ := h.Link().Stats(); return s.Dropped > before.Dropped }) {
		t.Fatal("the first SYN never reached the link")
	}
	if err := h.Link().Set(cfg); err != nil {
		t.Fatal(err)
	}
	r := <-done
	if r.err != nil {
		t.Fatal(r.err)
	}
	out, _ := h.Link().Stats()
	t.Logf("connect with its first SYN lost: %v; link out %+v", r.el, out)
	if lo, hi := time.Second, 1500*time.Millisecond; r.el < lo || r.el > hi {
		t.Errorf("connect took %v, want the 1 s retransmission plus the round trip, within [%v, %v]", r.el, lo, hi)
	}
	if dropped := out.Dropped - before.Dropped; dropped != 1 {
		t.Errorf("the link dropped %d packets, want the one SYN", dropped)
	}
}

// TestLinkDegradesGoesBlackAndRecovers changes one link while it is used:
// a 10 ms path becomes a 200 ms one, then drops everything (a dial times
// out), then comes back.
func TestLinkDegradesGoesBlackAndRecovers(t *testing.T) {
	lab := netlab.NewLab(t)
	fast := netlab.Symmetric(10*time.Millisecond, 0, 0)
	h := lab.NewHost(t, fast)
	srv := h.NewHealthy(t, at(h.IPv6(), 0))
	within := func(stage string, want time.Duration) {
		t.Helper()
		el, err := dialTime(t, srv.String(), 2*time.Second)
		if err != nil {
			t.Fatalf("%s: %v", stage, err)
		}
		if el < want*9/10 || el > want*2 {
			t.Errorf("%s: connect took %v, want about %v", stage, el, want)
		}
	}
	within("fast", 10*time.Millisecond)
	slow := netlab.Symmetric(200*time.Millisecond, 0, 0)
	if err := h.Link().Set(slow); err != nil {
		t.Fatal(err)
	}
	within("degraded", 200*time.Millisecond)
	if err := h.Link().Set(slow.Black()); err != nil {
		t.Fatal(err)
	}
	el, err := dialTime(t, srv.String(), 300*time.Millisecond)
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("black link: dial returned %v after %v, want a timeout", err, el)
	}
	if err := h.Link().Set(fast); err != nil {
		t.Fatal(err)
	}
	within("recovered", 10*time.Millisecond)
}

// TestJitterSpreadsTheRoundTrip checks that jitter is applied: over a
// 100 ms link with 30 ms of jitter each way, connect times spread out and
// stay within the jitter's bounds.
func TestJitterSpreadsTheRoundTrip(t *testing.T) {
	lab := netlab.NewLab(t)
	h := lab.NewHost(t, netlab.Symmetric(100*time.Millisecond, 30*time.Millisecond, 0))
	srv := h.NewHealthy(t, at(h.IPv4(), 0))
	lo, hi := time.Hour, time.Duration(0)
	for range 12 {
		el, err := dialTime(t, srv.String(), 2*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		lo, hi = min(lo, el), max(hi, el)
	}
	t.Logf("100 ms ± 30 ms each way: connects between %v and %v", lo, hi)
	if lo < 40*time.Millisecond || hi > 170*time.Millisecond {
		t.Errorf("connects between %v and %v, want within [40ms, 170ms]", lo, hi)
	}
	if hi-lo < 10*time.Millisecond {
		t.Errorf("connects between %v and %v: jitter of ±30 ms each way should spread them more", lo, hi)
	}
}
