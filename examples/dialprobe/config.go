package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/dialguard/dialguard/dialer"
)

// Bounds of the flags, so that a run stays bounded in time.
const (
	maxDials    = 1000
	maxTimeout  = 10 * time.Minute
	maxInterval = time.Hour
)

// usage is the first line of the help.
const usage = "usage: dialprobe [-timeout d] [-attempt-timeout d] [-attempt-delay d] [-n count] [-interval d] [-network tcp|tcp4|tcp6] host:port"

// config is the parsed command line.
type config struct {
	timeout        time.Duration // dialer.WithTimeout
	attemptTimeout time.Duration // dialer.WithAttemptTimeout; 0: learnt
	attemptDelay   time.Duration // dialer.WithAttemptDelay; 0: learnt
	n              int           // number of dials
	interval       time.Duration // pause between dials
	network        string        // tcp, tcp4 or tcp6
	address        string        // host:port
}

// errHelp is returned by parseFlags for -h and -help, after the usage has
// been printed; run treats it as success.
var errHelp = errors.New("help requested")

// parseFlags parses and validates args. For -h it prints the usage to out
// and returns errHelp.
func parseFlags(args []string, out io.Writer) (config, error) {
	var cfg config
	fs := flag.NewFlagSet("dialprobe", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.DurationVar(&cfg.timeout, "timeout", 10*time.Second, "bound on each whole dial, retries included")
	fs.DurationVar(&cfg.attemptTimeout, "attempt-timeout", 0, "fixed bound on each attempt to one address (a stall); unset: learnt per destination")
	fs.DurationVar(&cfg.attemptDelay, "attempt-delay", 0, "fixed wait before racing the next address (RFC 8305); unset: learnt per destination")
	fs.IntVar(&cfg.n, "n", 1, "number of dials, sharing one dialer")
	fs.DurationVar(&cfg.interval, "interval", time.Second, "pause between dials")
	fs.StringVar(&cfg.network, "network", "tcp", "tcp, tcp4 or tcp6")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(out, usage)
			fs.SetOutput(out)
			fs.PrintDefaults()
			return cfg, errHelp
		}
		return cfg, err
	}
	switch fs.NArg() {
	case 0:
		return cfg, errors.New("missing host:port argument\n" + usage)
	case 1:
		cfg.address = fs.Arg(0)
	default:
		return cfg, fmt.Errorf("unexpected argument %q after %q (one host:port only)", fs.Arg(1), fs.Arg(0))
	}
	if _, _, err := net.SplitHostPort(cfg.address); err != nil {
		return cfg, fmt.Errorf("bad host:port %q: %w", cfg.address, err)
	}
	switch {
	case cfg.network != "tcp" && cfg.network != "tcp4" && cfg.network != "tcp6":
		return cfg, fmt.Errorf("-network must be tcp, tcp4 or tcp6, got %q", cfg.network)
	case cfg.timeout <= 0 || cfg.timeout > maxTimeout:
		return cfg, fmt.Errorf("-timeout must be positive and at most %v, got %v", maxTimeout, cfg.timeout)
	case cfg.attemptTimeout < 0:
		return cfg, fmt.Errorf("-attempt-timeout must be positive, got %v", cfg.attemptTimeout)
	case cfg.attemptDelay != 0 && cfg.attemptDelay < dialer.MinAttemptDelay:
		return cfg, fmt.Errorf("-attempt-delay must be at least %v, got %v", dialer.MinAttemptDelay, cfg.attemptDelay)
	case cfg.n < 1 || cfg.n > maxDials:
		return cfg, fmt.Errorf("-n must be between 1 and %d, got %d", maxDials, cfg.n)
	case cfg.interval < 0 || cfg.interval > maxInterval:
		return cfg, fmt.Errorf("-interval must be between 0 and %v, got %v", maxInterval, cfg.interval)
	}
	return cfg, nil
}
