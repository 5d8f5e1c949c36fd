package dialtest_test

import (
	"context"
	"errors"
	"net"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/dialguard/dialguard/dialer/dialtest"
)

func TestStalledDialTimesOutInSynSent(t *testing.T) {
	for _, address := range []string{"127.0.0.1:0", "[::1]:0"} {
		t.Run(address, func(t *testing.T) {
			s := dialtest.NewStalled(t, address)
			port := s.Addr().Port()
			t.Logf("%s: %d filler connection(s)", s, s.Fillers())
			if s.Fillers() < 1 {
				t.Errorf("Fillers() = %d, want >= 1", s.Fillers())
			}
			if n, err := dialtest.CountSynSent(port); err != nil || n != 0 {
				t.Fatalf("fresh Stalled: CountSynSent = %d, %v; want 0, nil", n, err)
			}

			d := net.Dialer{Timeout: 300 * time.Millisecond}
			start := time.Now()
			c, err := d.Dial("tcp", s.String())
			elapsed := time.Since(start)
			if err == nil {
				c.Close()
				t.Fatal("dial to a Stalled connected")
			}
			var ne net.Error
			if !errors.As(err, &ne) || !ne.Timeout() {
				t.Fatalf("dial error = %v, want a timeout", err)
			}
			if elapsed < 250*time.Millisecond {
				t.Errorf("dial failed after %v, before its 300ms timeout", elapsed)
			}
			waitSynSent(t, port, "0 after the dial gave up", func(n int) bool { return n == 0 })

			// A dial that waits shows in SYN_SENT; polled rather than
			// sampled within a short timeout, so a loaded machine that
			// schedules the sampler late cannot fail it.
			sampler := dialtest.SampleSynSent(port, 2*time.Millisecond)
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() {
				c, err := (&net.Dialer{}).DialContext(ctx, "tcp", s.String())
				if err == nil {
					c.Close()
				}
				done <- err
			}()
			waitSynSent(t, port, ">= 1 while dialing", func(n int) bool { return n >= 1 })
			for deadline := time.Now().Add(5 * time.Second); sampler.Peak() < 1 && time.Now().Before(deadline); {
				time.Sleep(2 * time.Millisecond) // the sampler runs on its own ticker
			}
			cancel()
			<-done
			if peak := sampler.Stop(); peak < 1 || sampler.Err() != nil {
				t.Errorf("sampler peak = %d (err %v), want >= 1", peak, sampler.Err())
			}
			waitSynSent(t, port, "0 after the dial was cancelled", func(n int) bool { return n == 0 })
		})
	}
}

func TestStalledCloseReleasesWaitingDialers(t *testing.T) {
	s := dialtest.NewStalled(t, "127.0.0.1:0")
	port := s.Addr().Port()
	done := make(chan error, 1)
	go func() {
		c, err := net.DialTimeout("tcp", s.String(), 30*time.Second)
		if err == nil {
			c.Close()
		}
		done <- err
	}()
	waitSynSent(t, port, ">= 1 while dialing", func(n int) bool { return n >= 1 })
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close = %v, want nil", err)
	}
	// The next SYN retransmission (about 1s on Linux) meets a closed port.
	if err := <-done; !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("dial after Close: %v, want ECONNREFUSED", err)
	}
	waitSynSent(t, port, "0 after Close", func(n int) bool { return n == 0 })
}

func TestFixedPortsOnSeveralLoopbackAddresses(t *testing.T) {
	s := dialtest.NewStalled(t, "127.0.0.1:0")
	port := strconv.Itoa(int(s.Addr().Port()))
	s2 := dialtest.NewStalled(t, "127.0.0.2:"+port)
	r := dialtest.NewRefused(t, "127.0.0.3:"+port)
	h := dialtest.NewHealthy(t, "127.0.0.4:"+port)
	for _, got := range []string{s2.String(), r.String(), h.String()} {
		if _, p, _ := net.SplitHostPort(got); p != port {
			t.Errorf("%s: port %s, want %s", got, p, port)
		}
	}
	c, err := net.DialTimeout("tcp", h.String(), 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	if _, err := net.DialTimeout("tcp", r.String(), 10*time.Second); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("dial %s: %v, want ECONNREFUSED", r, err)
	}
	if _, err := dialtest.ListenStalled("127.0.0.2:" + port); err == nil {
		t.Errorf("second Stalled on 127.0.0.2:%s succeeded, want address in use", port)
	}
}

func TestListenRejectsNonLoopback(t *testing.T) {
	for _, address := range []string{"192.0.2.1:0", "0.0.0.0:0", "[::]:0", "[2001:db8::1]:0", "localhost:0", "127.0.0.1"} {
		if s, err := dialtest.ListenStalled(address); err == nil {
			s.Close()
			t.Errorf("ListenStalled(%q) succeeded", address)
		}
		if r, err := dialtest.ListenRefused(address); err == nil {
			r.Close()
			t.Errorf("ListenRefused(%q) succeeded", address)
		}
		if h, err := dialtest.ListenHealthy(address); err == nil {
			h.Close()
			t.Errorf("ListenHealthy(%q) succeeded", address)
		}
	}
}
