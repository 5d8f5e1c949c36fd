package main

import (
	"bytes"
	"context"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/dialguard/dialguard/dialer"
	"github.com/dialguard/dialguard/dialer/dialtest"
)

// TestMain fails the package if any goroutine outlives the tests.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// attemptLine matches one printed attempt: start offset (ms), try,
// address, family, outcome, time.
var attemptLine = regexp.MustCompile(`^\s+\+(\S+)ms\s+try (\d+) (\S+)\s+(ipv4|ipv6)\s+(\S+)\s+(\S+)`)

// attempt is one parsed attempt line.
type attempt struct {
	start   time.Duration
	addr    string
	outcome string
	line    string
}

// parseDials splits the output into dials and parses their attempt lines.
func parseDials(t *testing.T, out string) [][]attempt {
	t.Helper()
	var dials [][]attempt
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "dial ") {
			dials = append(dials, nil)
			continue
		}
		m := attemptLine.FindStringSubmatch(line)
		if m == nil || len(dials) == 0 {
			continue
		}
		d, err := time.ParseDuration(m[1] + "ms")
		if err != nil {
			t.Fatalf("offset in %q: %v", line, err)
		}
		dials[len(dials)-1] = append(dials[len(dials)-1], attempt{start: d, addr: m[3], outcome: m[5], line: line})
	}
	return dials
}

// TestIncident probes incident.test, resolved to a stalled [::1]:P and a
// healthy 127.0.0.1:P: the first dial races them, the second goes straight to
// 127.0.0.1.
func TestIncident(t *testing.T) {
	ds := dialtest.NewDualStack(t)
	res := dialtest.NewResolver(map[string]dialtest.Host{"incident.test": {
		IPv6: []netip.Addr{netip.IPv6Loopback()},
		IPv4: []netip.Addr{netip.MustParseAddr("127.0.0.1")},
	}})
	port := strconv.Itoa(int(ds.Port))
	var out bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := run(ctx, []string{"-n", "2", "-interval", "10ms", "incident.test:" + port}, &out, dialer.WithResolver(res))
	t.Logf("\n%s", out.String())
	if err != nil {
		t.Fatalf("run: %v", err)
	}

	v6, v4 := "[::1]:"+port, "127.0.0.1:"+port
	dials := parseDials(t, out.String())
	if len(dials) != 2 {
		t.Fatalf("%d dials printed, want 2", len(dials))
	}
	first := dials[0]
	if len(first) != 2 || first[0].addr != v6 || first[1].addr != v4 {
		t.Fatalf("first dial attempts %+v, want %s then %s", first, v6, v4)
	}
	if o := first[0].outcome; o != dialer.LostSlow.String() && o != dialer.Stalled.String() {
		t.Errorf("first dial: %q, want [::1] lost-slow or stalled", first[0].line)
	}
	if first[1].outcome != dialer.Connected.String() {
		t.Errorf("first dial: %q, want 127.0.0.1 connected", first[1].line)
	}
	// Loopback vouches for a short path: ::1 is suspect after 10 ms.
	if s := first[1].start; s < 10*time.Millisecond || s > 500*time.Millisecond {
		t.Errorf("first dial: 127.0.0.1 started at +%v, want about +10ms (loopback's attempt delay)", s)
	}
	second := dials[1]
	if len(second) != 1 || second[0].addr != v4 || second[0].outcome != dialer.Connected.String() {
		t.Errorf("second dial attempts %+v, want only %s, connected", second, v4)
	}
	for _, want := range []string{
		"result: connected to " + v4,
		"dial tcp incident.test:" + port + ": connected to " + v4 + " in ", // the report's summary
		"resolve ip6", "resolve ip4", // the report's resolutions, per family
		"timing incident.test:" + port + ": srtt ",
		"over 2 handshakes; next attempt suspect after 10ms, a stall after 100ms",
		"breaker destination incident.test:" + port + ": closed",
		"breaker address " + v6 + ":",
		"breaker address " + v4 + ": closed",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q", want)
		}
	}
}

// TestRefused probes an IP literal that refuses: every attempt fails with
// "connection refused" and run reports the failed dial.
func TestRefused(t *testing.T) {
	r := dialtest.NewRefused(t, "127.0.0.1:0")
	var out bytes.Buffer
	err := run(context.Background(), []string{"-timeout", "2s", r.String()}, &out)
	t.Logf("\n%s", out.String())
	if err == nil || !strings.Contains(err.Error(), "1 of 1 dials") {
		t.Errorf("run = %v, want an error counting the failed dial", err)
	}
	dials := parseDials(t, out.String())
	if len(dials) != 1 || len(dials[0]) == 0 {
		t.Fatalf("dials %+v, want one with attempts", dials)
	}
	a := dials[0][0]
	if a.addr != r.String() || a.outcome != dialer.Failed.String() || !strings.Contains(a.line, "connection refused") {
		t.Errorf("attempt %q, want %s failed with connection refused", a.line, r)
	}
	if !strings.Contains(out.String(), "result: error after") {
		t.Errorf("output lacks the dial's error")
	}
}

// TestFlagValidation checks that bad arguments fail before any dial, with an
// error saying what is wrong.
func TestFlagValidation(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "missing host:port"},
		{[]string{"-n", "2"}, "missing host:port"},
		{[]string{"localhost"}, "bad host:port"},
		{[]string{"a:1", "b:2"}, "unexpected argument"},
		{[]string{"-timeout", "soon", "a:1"}, "-timeout"},
		{[]string{"-timeout", "0s", "a:1"}, "-timeout must be positive"},
		{[]string{"-attempt-timeout", "-1s", "a:1"}, "-attempt-timeout must be positive"},
		{[]string{"-attempt-delay", "1ms", "a:1"}, "-attempt-delay must be at least"},
		{[]string{"-interval", "x", "a:1"}, "-interval"},
		{[]string{"-interval", "-1s", "a:1"}, "-interval must be"},
		{[]string{"-n", "0", "a:1"}, "-n must be"},
		{[]string{"-network", "udp", "a:1"}, "-network must be"},
		{[]string{"-nope", "a:1"}, "-nope"},
	} {
		var out bytes.Buffer
		err := run(context.Background(), tc.args, &out)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("run(%q) = %v, want an error containing %q", tc.args, err, tc.want)
		}
		if out.Len() != 0 {
			t.Errorf("run(%q) printed %q before failing", tc.args, out.String())
		}
	}

	var out bytes.Buffer
	if err := run(context.Background(), []string{"-h"}, &out); err != nil {
		t.Errorf("run(-h) = %v, want nil", err)
	}
	if !strings.Contains(out.String(), "usage: dialprobe") || !strings.Contains(out.String(), "-attempt-delay") {
		t.Errorf("run(-h) printed %q, want the usage", out.String())
	}
}
