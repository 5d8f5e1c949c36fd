package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"slices"
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
	opts := []dialer.Option{dialer.WithTimeout(cfg.timeout)}
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

	p := &probe{d: d, cfg: cfg, out: out}
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
	out  io.Writer
	seen []netip.AddrPort // every address attempted so far, in order of first attempt
}

// dial makes dial number i, prints it, and reports whether it connected.
// The dial's story (resolutions, admission, attempts, retries) is its
// dialer.Report, asked for through the context and filled before
// DialContext returns.
func (p *probe) dial(ctx context.Context, i int) bool {
	fmt.Fprintf(p.out, "dial %d: %s %s\n", i, p.cfg.network, p.cfg.address)
	var rep dialer.Report
	start := time.Now()
	conn, err := p.d.DialContext(dialer.ContextWithReport(ctx, &rep), p.cfg.network, p.cfg.address)
	elapsed := time.Since(start)
	attempts := slices.Clone(rep.Attempts)
	slices.SortStableFunc(attempts, func(a, b dialer.AttemptInfo) int { return a.Start.Compare(b.Start) })
	for _, a := range attempts {
		if !slices.Contains(p.seen, a.Address) {
			p.seen = append(p.seen, a.Address)
		}
	}
	writeReport(p.out, &rep)
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
