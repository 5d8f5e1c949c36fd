package main

import (
	"bytes"
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// TestMain fails the package if any goroutine outlives the tests.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// callLine matches one printed call: phase, number, result and elapsed time.
var callLine = regexp.MustCompile(`^(healthy|stalled|recovered)\s+call\s+(\d+): (OK SERVING|\w+(?: \(circuit open\))?) in ([^:\s]+)`)

// call is one parsed call line.
type call struct {
	result  string
	elapsed time.Duration
	line    string
}

// TestRunPhases runs the demonstration for real and checks its three phases:
// calls succeed through the stalled-first name, then fail fast with the
// breaker's error once the server stalls (never hanging past their
// deadline), then succeed again once the server is back.
func TestRunPhases(t *testing.T) {
	var out bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := run(ctx, nil, &out); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	t.Logf("\n%s", out.String())

	phases := map[string][]call{}
	for _, line := range strings.Split(out.String(), "\n") {
		m := callLine.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		d, err := time.ParseDuration(m[4])
		if err != nil {
			t.Fatalf("elapsed in %q: %v", line, err)
		}
		phases[m[1]] = append(phases[m[1]], call{result: m[3], elapsed: d, line: line})
	}

	healthy := phases["healthy"]
	if len(healthy) == 0 || healthy[0].result != "OK SERVING" {
		t.Fatalf("phase 1: calls %+v, want the first to succeed", healthy)
	}

	stalled := phases["stalled"]
	open := 0
	for i, c := range stalled {
		if c.elapsed > callTimeout+500*time.Millisecond {
			t.Errorf("phase 2: %q took longer than its deadline", c.line)
		}
		switch c.result {
		case "Unavailable (circuit open)":
			open++
			if i > 0 && c.elapsed > 100*time.Millisecond {
				t.Errorf("phase 2: %q, want a circuit-open call to fail fast", c.line)
			}
		case "DeadlineExceeded", "Unavailable":
		default:
			t.Errorf("phase 2: %q, want a failure", c.line)
		}
	}
	if open < circuitOpenCalls {
		t.Errorf("phase 2: %d calls failed with circuit open, want %d", open, circuitOpenCalls)
	}

	recovered := phases["recovered"]
	if n := len(recovered); n < recoveredCalls || recovered[n-1].result != "OK SERVING" || recovered[n-2].result != "OK SERVING" {
		t.Errorf("phase 3: calls %+v, want the last %d to succeed", recovered, recoveredCalls)
	}
}

// TestRunArgs checks that stray arguments are refused before anything is
// set up.
func TestRunArgs(t *testing.T) {
	var out bytes.Buffer
	err := run(context.Background(), []string{"extra"}, &out)
	if err == nil || !strings.Contains(err.Error(), "unexpected argument") {
		t.Errorf("run(extra) = %v, want an error about the argument", err)
	}
	if out.Len() != 0 {
		t.Errorf("run(extra) printed %q", out.String())
	}
}
