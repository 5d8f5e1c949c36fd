package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/dialguard/dialguard/dialer"
	"github.com/dialguard/dialguard/examples/internal/cli"
)

// run parses args, builds one Dialer (with extra, applied after the flags'
// options; tests use it to inject a resolver) and dials cfg.n times,
// printing each dial's attempts, result and breaker states to out. It
// returns an error for bad arguments, or when a dial failed.
func run(ctx context.Context, args []string, out io.Writer, extra ...dialer.Option) error {
	cfg, err := parseFlags(args, out)
	if errors.Is(err, errHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	rec := &recorder{}
	opts := []dialer.Option{dialer.WithTimeout(cfg.timeout), dialer.WithAttemptObserver(rec.observe)}
	if cfg.attemptTimeout > 0 {
		opts = append(opts, dialer.WithAttemptTimeout(cfg.attemptTimeout))
	}
	if cfg.attemptDelay > 0 {
		opts = append(opts, dialer.WithAttemptDelay(cfg.attemptDelay))
	}
	opts = append(opts, extra...)
	d, err := dialer.New(opts...)
	if err != nil {
		return err
	}

	p := &probe{d: d, cfg: cfg, rec: rec, out: out}
	failed := 0
	for i := 1; i <= cfg.n; i++ {
		if i > 1 && !cli.Sleep(ctx, cfg.interval) {
			break
		}
		if !p.dial(ctx, i) {
			failed++
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d dials to %s failed", failed, cfg.n, cfg.address)
	}
	return nil
}

// probe makes the dials of one run and prints them.
type probe struct {
	d    *dialer.Dialer
	cfg  config
	rec  *recorder
	out  io.Writer
	seen []netip.AddrPort // every address attempted so far, in order of first attempt
}

// dial makes dial number i, prints it, and reports whether it connected.
func (p *probe) dial(ctx context.Context, i int) bool {
	fmt.Fprintf(p.out, "dial %d: %s %s\n", i, p.cfg.network, p.cfg.address)
	start := time.Now()
	conn, err := p.d.DialContext(ctx, p.cfg.network, p.cfg.address)
	elapsed := time.Since(start)
	// The race ends all its attempts before DialContext returns, so every
	// attempt of this dial has been observed by now.
	attempts := p.rec.take()
	for _, a := range attempts {
		if !slices.Contains(p.seen, a.Address) {
			p.seen = append(p.seen, a.Address)
		}
	}
	writeAttempts(p.out, attempts, start)
	if err != nil {
		fmt.Fprintf(p.out, "  result: error after %v: %v\n", round(elapsed), err)
	} else {
		fmt.Fprintf(p.out, "  result: connected to %v from %v in %v\n", conn.RemoteAddr(), conn.LocalAddr(), round(elapsed))
		conn.Close()
	}
	writeTiming(p.out, p.d, destinationKey(p.cfg.address))
	writeBreakers(p.out, p.d, destinationKey(p.cfg.address), p.seen)
	return err == nil
}

// recorder collects the attempts the dialer reports. The observer is
// called from the dialing goroutines, so it locks.
type recorder struct {
	mu       sync.Mutex
	attempts []dialer.AttemptInfo
}

// observe is the dialer's attempt observer.
func (r *recorder) observe(a dialer.AttemptInfo) {
	r.mu.Lock()
	r.attempts = append(r.attempts, a)
	r.mu.Unlock()
}

// take returns the attempts recorded so far, in the order they started,
// and forgets them.
func (r *recorder) take() []dialer.AttemptInfo {
	r.mu.Lock()
	out := r.attempts
	r.attempts = nil
	r.mu.Unlock()
	slices.SortStableFunc(out, func(a, b dialer.AttemptInfo) int { return a.Start.Compare(b.Start) })
	return out
}
