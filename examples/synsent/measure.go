package main

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/dialguard/dialguard/dialer"
	"github.com/dialguard/dialguard/dialer/dialtest"
)

// result is what was measured for one contender.
type result struct {
	Contender string `json:"contender"`

	FirstDial      millis `json:"first_dial_ms"`
	FirstDialError string `json:"first_dial_error,omitempty"`

	SteadyDials    int    `json:"steady_dials"`
	SteadyDial     millis `json:"steady_dial_ms"` // mean
	SteadyFailures int    `json:"steady_failures"`

	Storm stormResult `json:"storm"`
}

// stormResult is what the storm callers of one contender saw.
type stormResult struct {
	Callers     int    `json:"callers"`
	MeanWait    millis `json:"mean_wait_ms"`
	WorstWait   millis `json:"worst_wait_ms"`
	FailedFast  int    `json:"failed_fast"`  // failed (none connects) within fastAnswer
	CircuitOpen int    `json:"circuit_open"` // errors.Is(err, dialer.ErrCircuitOpen)
	Connected   int    `json:"connected"`    // should be 0: the host is dead
	// CircuitOpenAt is when, counted from the first arrival, the first
	// caller was refused with ErrCircuitOpen; absent if none was.
	CircuitOpenAt *millis `json:"circuit_open_at_ms,omitempty"`
	PeakSynSent   int     `json:"peak_syn_sent"`
}

// measure runs one contender through the whole scenario: the first dial
// and the steady dials to the incident host, then the storm into dead.
func measure(ctx context.Context, c contender, incident string, dead *stalledPair, cfg config) (result, error) {
	r := result{Contender: c.name, SteadyDials: c.steady}

	elapsed, err := timedDial(ctx, c.dial, incident, cfg.deadline)
	r.FirstDial = millis(elapsed)
	if err != nil {
		r.FirstDialError = err.Error()
	}
	var total time.Duration
	for range c.steady {
		if err := ctx.Err(); err != nil {
			return r, err
		}
		elapsed, err := timedDial(ctx, c.dial, incident, cfg.deadline)
		total += elapsed
		if err != nil {
			r.SteadyFailures++
		}
	}
	r.SteadyDial = millis(total / time.Duration(c.steady))
	if err := ctx.Err(); err != nil {
		return r, err
	}

	sampler := dialtest.SampleSynSent(dead.port, sampleEvery)
	r.Storm = storm(ctx, c.dial, dead.address(), cfg)
	r.Storm.PeakSynSent = sampler.Stop()
	if err := sampler.Err(); err != nil {
		return r, fmt.Errorf("counting SYN_SENT sockets: %w", err)
	}
	return r, ctx.Err()
}

// timedDial makes one dial bounded by deadline, closes the connection if
// there is one, and reports how long the dial took.
func timedDial(ctx context.Context, dial dialFunc, address string, deadline time.Duration) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, deadline)
	defer cancel()
	start := time.Now()
	conn, err := dial(ctx, "tcp", address)
	elapsed := time.Since(start)
	if conn != nil {
		conn.Close()
	}
	return elapsed, err
}

// answer is what one paced caller got: when it arrived (counted from the
// first arrival), how long its dial took, and its error.
type answer struct {
	arrived, wait time.Duration
	err           error
}

// paced sends n callers, arriving spacing apart, each dialing address with
// a deadline context, and waits for all of them. If ctx ends, no more
// callers arrive and those in flight are cancelled; only the answers of the
// callers that arrived are returned, in order of arrival.
func paced(ctx context.Context, dial dialFunc, address string, n int, spacing, deadline time.Duration) []answer {
	answers := make([]answer, n)
	var wg sync.WaitGroup
	start := time.Now()
	timer := time.NewTimer(0)
	defer timer.Stop()
	launched := 0
arrivals:
	for i := range n {
		if d := time.Until(start.Add(time.Duration(i) * spacing)); d > 0 {
			timer.Reset(d)
			select {
			case <-timer.C:
			case <-ctx.Done():
				break arrivals
			}
		}
		launched++
		wg.Go(func() {
			arrived := time.Since(start)
			wait, err := timedDial(ctx, dial, address, deadline)
			answers[i] = answer{arrived: arrived, wait: wait, err: err}
		})
	}
	wg.Wait()
	return answers[:launched]
}

// storm sends cfg.callers callers, arriving arrivalSpacing apart, each
// dialing address with a cfg.deadline context, and waits for all of them.
// If ctx ends, no more callers arrive and those in flight are cancelled.
func storm(ctx context.Context, dial dialFunc, address string, cfg config) stormResult {
	answers := paced(ctx, dial, address, cfg.callers, arrivalSpacing, cfg.deadline)
	s := stormResult{Callers: len(answers)}
	var total time.Duration
	for _, a := range answers {
		total += a.wait
		s.WorstWait = max(s.WorstWait, millis(a.wait))
		if a.err != nil && a.wait < fastAnswer {
			s.FailedFast++
		}
		switch {
		case a.err == nil:
			s.Connected++
		case errors.Is(a.err, dialer.ErrCircuitOpen):
			s.CircuitOpen++
			at := millis(a.arrived + a.wait)
			if s.CircuitOpenAt == nil || at < *s.CircuitOpenAt {
				s.CircuitOpenAt = &at
			}
		}
	}
	if len(answers) > 0 {
		s.MeanWait = millis(total / time.Duration(len(answers)))
	}
	return s
}

// drainSynSent waits (up to limit) until no socket is in SYN_SENT toward
// port, so that the next contender starts from zero. Dialers close their
// sockets when their dial ends, so this normally returns at once.
func drainSynSent(ctx context.Context, port uint16, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		n, err := dialtest.CountSynSent(port)
		if err != nil || n == 0 {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d sockets still in SYN_SENT toward port %d after %v", n, port, limit)
		}
		select {
		case <-time.After(5 * time.Millisecond):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
