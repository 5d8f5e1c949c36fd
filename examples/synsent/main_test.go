package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// TestMain fails the package if any goroutine outlives the tests.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// contenderNames are the table's rows, in order.
var contenderNames = []string{"net.Dialer, first address only", "net.Dialer", "dialguard"}

// TestRunTable runs the whole scenario with small settings and checks the
// table: its header, its three rows, and the figures that show the incident
// (generous bounds: they hold on a loaded two-core machine).
func TestRunTable(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	err := run(context.Background(), []string{"-callers", "40", "-steady", "3", "-deadline", "1s", "-attempt-timeout", "300ms"}, &out)
	if err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	t.Logf("\n%s", out.String())

	rows := map[string][]string{}
	var header []string
	for _, line := range strings.Split(out.String(), "\n") {
		if !strings.Contains(line, "|") {
			continue
		}
		cells := strings.Split(line, "|")
		for i := range cells {
			cells[i] = strings.TrimSpace(cells[i])
		}
		if cells[0] == "contender" {
			header = cells
			continue
		}
		rows[cells[0]] = cells
	}
	if strings.Join(header, ",") != strings.Join(tableHeader, ",") {
		t.Fatalf("header = %q, want %q", header, tableHeader)
	}
	for _, name := range contenderNames {
		if len(rows[name]) != len(tableHeader) {
			t.Fatalf("row %q = %q, want %d cells", name, rows[name], len(tableHeader))
		}
	}

	steady := func(name string) time.Duration {
		t.Helper()
		cell := rows[name][2]
		d, err := time.ParseDuration(strings.Fields(cell)[0])
		if err != nil {
			t.Fatalf("steady dial of %s: %q: %v", name, cell, err)
		}
		return d
	}
	if d := steady("dialguard"); d >= 100*time.Millisecond {
		t.Errorf("dialguard steady dial = %v, want < 100ms", d)
	}
	if d := steady("net.Dialer"); d < 250*time.Millisecond {
		t.Errorf("net.Dialer steady dial = %v, want >= 250ms (its fallback delay is 300ms)", d)
	}
	if first := rows[contenderNames[0]][1]; !strings.HasSuffix(first, "failed") {
		t.Errorf("first-address-only first dial = %q, want a failure", first)
	}
	if !strings.Contains(out.String(), "Steady state on incident.test") || !strings.Contains(out.String(), "Storm of 40 callers") {
		t.Errorf("conclusions missing from output")
	}
}

// TestRunJSON checks that -json prints the same figures as a JSON document.
func TestRunJSON(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	err := run(context.Background(), []string{"-json", "-callers", "20", "-steady", "2", "-deadline", "800ms", "-attempt-timeout", "200ms"}, &out)
	if err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	var rep struct {
		Settings struct {
			Callers    int     `json:"callers"`
			DeadlineMS float64 `json:"deadline_ms"`
			DeadPorts  []int   `json:"dead_ports"`
		} `json:"settings"`
		Contenders []struct {
			Contender      string  `json:"contender"`
			FirstDialMS    float64 `json:"first_dial_ms"`
			FirstDialError string  `json:"first_dial_error"`
			SteadyDials    int     `json:"steady_dials"`
			SteadyDialMS   float64 `json:"steady_dial_ms"`
			SteadyFailures int     `json:"steady_failures"`
			Storm          struct {
				Callers      int     `json:"callers"`
				MeanWaitMS   float64 `json:"mean_wait_ms"`
				WorstWaitMS  float64 `json:"worst_wait_ms"`
				AnsweredFast int     `json:"answered_fast"`
				CircuitOpen  int     `json:"circuit_open"`
				Connected    int     `json:"connected"`
				PeakSynSent  int     `json:"peak_syn_sent"`
			} `json:"storm"`
		} `json:"contenders"`
		Conclusions []string `json:"conclusions"`
	}
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("decoding the JSON output: %v\n%s", err, out.String())
	}
	if rep.Settings.Callers != 20 || rep.Settings.DeadlineMS != 800 || len(rep.Settings.DeadPorts) != 3 {
		t.Errorf("settings = %+v", rep.Settings)
	}
	if len(rep.Contenders) != len(contenderNames) {
		t.Fatalf("%d contenders, want %d", len(rep.Contenders), len(contenderNames))
	}
	for i, c := range rep.Contenders {
		if c.Contender != contenderNames[i] {
			t.Errorf("contender %d = %q, want %q", i, c.Contender, contenderNames[i])
		}
		if c.Storm.Callers != 20 || c.Storm.Connected != 0 {
			t.Errorf("%s storm = %+v, want 20 callers, none connected", c.Contender, c.Storm)
		}
	}
	std, guard := rep.Contenders[1], rep.Contenders[2]
	if guard.SteadyDialMS >= 100 || guard.SteadyFailures != 0 {
		t.Errorf("dialguard steady = %vms (%d failed), want < 100ms, none failed", guard.SteadyDialMS, guard.SteadyFailures)
	}
	if std.SteadyDialMS < 250 {
		t.Errorf("net.Dialer steady = %vms, want >= 250ms", std.SteadyDialMS)
	}
	if len(rep.Conclusions) == 0 {
		t.Errorf("no conclusions")
	}
}

// TestFlagValidation checks that bad settings fail before anything is set
// up, with an error naming the flag.
func TestFlagValidation(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-callers", "0"}, "-callers"},
		{[]string{"-callers", "-5"}, "-callers"},
		{[]string{"-callers", "100000"}, "-callers"},
		{[]string{"-deadline", "0s"}, "-deadline"},
		{[]string{"-deadline", "-1s"}, "-deadline"},
		{[]string{"-deadline", "1h"}, "-deadline"},
		{[]string{"-steady", "0"}, "-steady"},
		{[]string{"-attempt-timeout", "0s"}, "-attempt-timeout"},
		{[]string{"-attempt-timeout", "-1ms"}, "-attempt-timeout"},
		{[]string{"-deadline", "soon"}, "-deadline"},
		{[]string{"-nope"}, "-nope"},
		{[]string{"extra"}, "unexpected argument"},
	} {
		var out bytes.Buffer
		start := time.Now()
		err := run(context.Background(), tc.args, &out)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("run(%q) = %v, want an error naming %q", tc.args, err, tc.want)
		}
		if out.Len() != 0 {
			t.Errorf("run(%q) printed %q before failing", tc.args, out.String())
		}
		if d := time.Since(start); d > 100*time.Millisecond {
			t.Errorf("run(%q) took %v to fail: it should not set anything up", tc.args, d)
		}
	}

	var out bytes.Buffer
	if err := run(context.Background(), []string{"-h"}, &out); err != nil {
		t.Errorf("run(-h) = %v, want nil", err)
	}
	if !strings.Contains(out.String(), "-callers") {
		t.Errorf("run(-h) printed %q, want the usage", out.String())
	}
}
