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

	// labSpacing is the time between two lab dials' starts: each
	// contender's dials to a lab destination overlap, like a service's
	// stream of requests.
	labSpacing = 100 * time.Millisecond
	// Upper bounds of the lab's flags.
	maxLabDials = 200
	maxLabRTT   = 2 * time.Second
)

// config is the parsed command line.
type config struct {
	callers        int           // storm callers
	deadline       time.Duration // every dial's context deadline
	attemptTimeout time.Duration // dialguard's WithAttemptTimeout; 0 keeps its default
	steady         int           // steady-state dials after the first
	json           bool          // print JSON instead of the table

	// The lab part (lab.go), run where netlab.Available() is nil.
	lab         bool          // run the lab part at all
	labDeadline time.Duration // every lab dial's context deadline
	farRTT      time.Duration // round trip to far.test
	farDials    int           // dials to far.test per contender
	lossyRTT    time.Duration // round trip to lossy.test
	lossyLoss   float64       // lossy.test's loss, each way
	lossyDials  int           // dials to lossy.test per contender
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
	fs.BoolVar(&cfg.lab, "lab", true, "also dial far hosts in a network lab (needs root and /dev/net/tun; skipped with the reason otherwise)")
	fs.DurationVar(&cfg.labDeadline, "lab-deadline", 4*time.Second, "deadline of every lab dial (context and net.Dialer.Timeout)")
	fs.DurationVar(&cfg.farRTT, "far-rtt", 700*time.Millisecond, "round trip to the lab's far.test, a healthy host")
	fs.IntVar(&cfg.farDials, "far-dials", 10, "dials to far.test per contender, 100 ms apart")
	fs.DurationVar(&cfg.lossyRTT, "lossy-rtt", 100*time.Millisecond, "round trip to the lab's lossy.test, a healthy host")
	fs.Float64Var(&cfg.lossyLoss, "lossy-loss", 0.15, "share of packets lost each way on the link to lossy.test, in [0, 1)")
	fs.IntVar(&cfg.lossyDials, "lossy-dials", 30, "dials to lossy.test per contender, 100 ms apart")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(out, "usage: synsent [-callers n] [-deadline d] [-attempt-timeout d] [-steady n] [-json]\n"+
				"               [-lab=false] [-lab-deadline d] [-far-rtt d] [-far-dials n] [-lossy-rtt d] [-lossy-loss p] [-lossy-dials n]")
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
	case cfg.labDeadline <= 0 || cfg.labDeadline > maxDeadline:
		return cfg, fmt.Errorf("-lab-deadline must be positive and at most %v, got %v", maxDeadline, cfg.labDeadline)
	case cfg.farRTT <= 0 || cfg.farRTT > maxLabRTT:
		return cfg, fmt.Errorf("-far-rtt must be positive and at most %v, got %v", maxLabRTT, cfg.farRTT)
	case cfg.farDials <= 0 || cfg.farDials > maxLabDials:
		return cfg, fmt.Errorf("-far-dials must be between 1 and %d, got %d", maxLabDials, cfg.farDials)
	case cfg.lossyRTT <= 0 || cfg.lossyRTT > maxLabRTT:
		return cfg, fmt.Errorf("-lossy-rtt must be positive and at most %v, got %v", maxLabRTT, cfg.lossyRTT)
	case !(cfg.lossyLoss >= 0 && cfg.lossyLoss < 1): // also refuses NaN
		return cfg, fmt.Errorf("-lossy-loss must be in [0, 1), got %v", cfg.lossyLoss)
	case cfg.lossyDials <= 0 || cfg.lossyDials > maxLabDials:
		return cfg, fmt.Errorf("-lossy-dials must be between 1 and %d, got %d", maxLabDials, cfg.lossyDials)
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
