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

// fetchLine matches one printed fetch: its number, body and elapsed time.
var fetchLine = regexp.MustCompile(`^fetch (\d+): 200 OK "(hello from 127\.0\.0\.1:\d+)" in (\S+)$`)

// TestRunFetches runs the demonstration for real and checks that the three
// fetches succeed, that only the first pays for the stalled [::1], and that
// the log shows the race: an attempt to [::1] and one to 127.0.0.1.
func TestRunFetches(t *testing.T) {
	var out bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := run(ctx, nil, &out); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	t.Logf("\n%s", out.String())

	var elapsed []time.Duration
	for _, line := range strings.Split(out.String(), "\n") {
		m := fetchLine.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		d, err := time.ParseDuration(m[3])
		if err != nil {
			t.Fatalf("elapsed in %q: %v", line, err)
		}
		elapsed = append(elapsed, d)
	}
	if len(elapsed) != 3 {
		t.Fatalf("%d successful fetch lines, want 3", len(elapsed))
	}
	for i, d := range elapsed[1:] {
		if d >= 100*time.Millisecond {
			t.Errorf("fetch %d took %v, want < 100ms: the stalled [::1] should be remembered", i+2, d)
		}
	}
	for _, want := range []string{
		`"address": "[::1]:`, `"family": "ipv6"`,
		`"address": "127.0.0.1:`, `"family": "ipv4"`, `"outcome": "connected"`,
		`"destination": "api.test:`, "DEBUG", "dial attempt",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %s", want)
		}
	}
	// The stalled address is tried on the first dial only.
	if n := strings.Count(out.String(), `"address": "[::1]:`); n != 1 {
		t.Errorf("%d attempts to [::1], want 1 (the first dial only)", n)
	}
}

// TestFlags checks -n's bounds and stray arguments.
func TestFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-n", "0"}, "-n must be"},
		{[]string{"-n", "1000"}, "-n must be"},
		{[]string{"-n", "x"}, "-n"},
		{[]string{"extra"}, "unexpected argument"},
	} {
		var out bytes.Buffer
		err := run(context.Background(), tc.args, &out)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("run(%q) = %v, want an error containing %q", tc.args, err, tc.want)
		}
		if out.Len() != 0 {
			t.Errorf("run(%q) printed %q", tc.args, out.String())
		}
	}
}
