package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"time"
)

// Fixed parameters of the scenario.
const (
	// arrivalSpacing is the time between two storm callers' arrivals.
	arrivalSpacing = 4 * time.Millisecond
	// fastAnswer is the wait under which a storm caller counts as answered
	// fast.
	fastAnswer = 50 * time.Millisecond
	// sampleEvery is how often SYN_SENT sockets are counted during the storm.
	sampleEvery = 2 * time.Millisecond
	// firstOnlySteadyBudget bounds the steady dials of the first-address-only
	// client, each of which costs the whole deadline: it makes at most
	// budget/deadline of them (and at least one).
	firstOnlySteadyBudget = 3 * time.Second

	// Upper bounds of the flags, so that a run stays bounded in time and
	// in file descriptors.
	maxCallers  = 2000
	maxSteady   = 1000
	maxDeadline = 10 * time.Second
)

// config is the parsed command line.
type config struct {
	callers        int           // storm callers
	deadline       time.Duration // every dial's context deadline
	attemptTimeout time.Duration // dialguard's WithAttemptTimeout; 0 keeps its default
	steady         int           // steady-state dials after the first
	json           bool          // print JSON instead of the table
}

// errHelp is returned by parseFlags for -h and -help, after the usage has
// been printed; run treats it as success.
var errHelp = errors.New("help requested")

// parseFlags parses and validates args. For -h it prints the usage to out
// and returns errHelp.
func parseFlags(args []string, out io.Writer) (config, error) {
	var cfg config
	fs := flag.NewFlagSet("synsent", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.IntVar(&cfg.callers, "callers", 300, "storm callers, arriving 4 ms apart into dead.test")
	fs.DurationVar(&cfg.deadline, "deadline", 1500*time.Millisecond, "deadline of every dial (context and net.Dialer.Timeout)")
	fs.DurationVar(&cfg.attemptTimeout, "attempt-timeout", 0, "dialguard's attempt timeout (WithAttemptTimeout); unset keeps dialguard's default")
	fs.IntVar(&cfg.steady, "steady", 10, "steady-state dials to incident.test after the first")
	fs.BoolVar(&cfg.json, "json", false, "print the figures as JSON instead of a table")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(out, "usage: synsent [-callers n] [-deadline d] [-attempt-timeout d] [-steady n] [-json]")
			fs.SetOutput(out)
			fs.PrintDefaults()
			return cfg, errHelp
		}
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected argument %q (all settings are flags; see -h)", fs.Arg(0))
	}
	attemptSet := false
	fs.Visit(func(f *flag.Flag) { attemptSet = attemptSet || f.Name == "attempt-timeout" })

	switch {
	case cfg.callers <= 0 || cfg.callers > maxCallers:
		return cfg, fmt.Errorf("-callers must be between 1 and %d, got %d", maxCallers, cfg.callers)
	case cfg.deadline <= 0 || cfg.deadline > maxDeadline:
		return cfg, fmt.Errorf("-deadline must be positive and at most %v, got %v", maxDeadline, cfg.deadline)
	case cfg.steady <= 0 || cfg.steady > maxSteady:
		return cfg, fmt.Errorf("-steady must be between 1 and %d, got %d", maxSteady, cfg.steady)
	case attemptSet && cfg.attemptTimeout <= 0:
		return cfg, fmt.Errorf("-attempt-timeout must be positive, got %v", cfg.attemptTimeout)
	}
	return cfg, nil
}

// firstOnlySteady is how many steady dials the first-address-only client
// makes: each costs the whole deadline, so at most firstOnlySteadyBudget's
// worth, at least one, and no more than asked.
func (c config) firstOnlySteady() int {
	n := int(firstOnlySteadyBudget / c.deadline)
	return max(1, min(n, c.steady))
}
