package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/dialguard/dialguard/dialer"
	"github.com/dialguard/dialguard/examples/internal/cli"
)

// The bounds of each phase.
const (
	// callTimeout is every call's deadline.
	callTimeout = time.Second
	// callPause is the wait between two calls of phases 2 and 3.
	callPause = 250 * time.Millisecond

	healthyCalls     = 2  // phase 1: the first dials, the second reuses
	maxStalledCalls  = 12 // phase 2 ends after this many calls...
	circuitOpenCalls = 3  // ...or this many failed with "circuit open"
	maxRecoveryCalls = 30 // phase 3 ends after this many calls...
	recoveredCalls   = 2  // ...or this many successes in a row
)

// okCode labels a successful call.
const okCode = "OK"

// result is what one call returned.
type result struct {
	code        string // okCode or the gRPC status code's name
	circuitOpen bool   // the error carries dialguard's ErrCircuitOpen
	text        string // the line printed, after the prefix
}

// prober makes Health/Check calls and prints one line each.
type prober struct {
	client grpc_health_v1.HealthClient
	out    io.Writer
}

// calls makes up to max calls, pause apart, printing each, and stops early
// when done returns true for a result or ctx ends. It returns the last
// result.
func (p *prober) calls(ctx context.Context, phase string, max int, pause time.Duration, done func(result) bool) result {
	var r result
	for i := 1; i <= max && ctx.Err() == nil; i++ {
		if i > 1 && !cli.Sleep(ctx, pause) {
			break
		}
		r = p.call(ctx)
		fmt.Fprintf(p.out, "%-9s call %2d: %s\n", phase, i, r.text)
		if done(r) {
			break
		}
	}
	return r
}

// call makes one Health/Check call with callTimeout and describes it.
func (p *prober) call(ctx context.Context) result {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	start := time.Now()
	resp, err := p.client.Check(ctx, &grpc_health_v1.HealthCheckRequest{})
	elapsed := time.Since(start).Round(10 * time.Microsecond)
	if err == nil {
		return result{code: okCode, text: fmt.Sprintf("%s %v in %v", okCode, resp.GetStatus(), elapsed)}
	}
	st := status.Convert(err)
	r := result{code: st.Code().String()}
	// gRPC keeps only the dial error's text, so the message is where
	// dialguard's "circuit open" shows.
	r.circuitOpen = st.Code() == codes.Unavailable && strings.Contains(st.Message(), dialer.ErrCircuitOpen.Error())
	label := r.code
	if r.circuitOpen {
		label += " (circuit open)"
	}
	r.text = fmt.Sprintf("%s in %v: %s", label, elapsed, st.Message())
	return r
}
