package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/dialguard/dialguard/dialer/dialtest/netlab"
)

// TestMain runs the tests in a network namespace of their own where the
// lab can run (netlab.Isolate; where it cannot, they run where they are and
// the lab part is skipped), and fails the package if any goroutine outlives
// them.
func TestMain(m *testing.M) {
	if code, done := netlab.Isolate(); done {
		os.Exit(code)
	}
	goleak.VerifyTestMain(m)
}

// tableRows returns the cells of every line of out that has a "|" whose
// first cell is not first (the header's), and the header's cells.
func tableRows(out, first string) (header []string, rows [][]string) {
	for _, line := range strings.Split(out, "\n") {
		if !strings.Contains(line, "|") {
			continue
		}
		cells := strings.Split(line, "|")
		for i := range cells {
			cells[i] = strings.TrimSpace(cells[i])
		}
		if cells[0] == first {
			header = cells
			continue
		}
		rows = append(rows, cells)
	}
	return header, rows
}

// contenderNames are the table's rows, in order.
var contenderNames = []string{"net.Dialer, first address only", "net.Dialer", "dialguard"}

// TestRunTable runs the whole scenario with small settings and checks the
// table: its header, its three rows, and the figures that show the incident
// (generous bounds: they hold on a loaded two-core machine).
func TestRunTable(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	err := run(context.Background(), []string{"-callers", "40", "-steady", "3", "-deadline", "1s", "-attempt-timeout", "300ms",
		"-far-dials", "2", "-lossy-dials", "3", "-lab-deadline", "2s"}, &out)
	if err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	t.Logf("\n%s", out.String())

	// The loopback table is printed before the lab part.
	loopback, _, _ := strings.Cut(out.String(), "\nLab")
	rows := map[string][]string{}
	header, cells := tableRows(loopback, "contender")
	for _, c := range cells {
		rows[c[0]] = c
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
		d, err := time.ParseDuration(strings.TrimSuffix(strings.Fields(cell)[0], ","))
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
	if cell := rows["dialguard"][2]; !strings.Contains(cell, "connected") || strings.Contains(cell, "budget") {
		t.Errorf("dialguard steady dial = %q, want how many connected, and no budget note", cell)
	}
	if cell := rows[contenderNames[0]][2]; !strings.Contains(cell, " 0/") {
		t.Errorf("first-address-only steady dial = %q, want none connected", cell)
	}
	if first := rows[contenderNames[0]][1]; !strings.HasSuffix(first, "failed") {
		t.Errorf("first-address-only first dial = %q, want a failure", first)
	}
	if !strings.Contains(out.String(), "Steady state on incident.test") || !strings.Contains(out.String(), "Storm of 40 callers") {
		t.Errorf("conclusions missing from output")
	}

	// The lab part: skipped with the reason where it cannot run, a table
	// of four rows where it can (TestLab checks its figures).
	if err := netlab.Available(); err != nil {
		if want := "Lab part skipped: " + err.Error() + "\n"; !strings.HasSuffix(out.String(), want) {
			t.Errorf("output does not end with %q", want)
		}
		return
	}
	_, lab, ok := strings.Cut(out.String(), "\nLab: ")
	if !ok {
		t.Fatalf("no lab part in the output")
	}
	labHeader, labRows := tableRows(lab, "destination")
	if strings.Join(labHeader, ",") != strings.Join(labTableHeader, ",") {
		t.Fatalf("lab header = %q, want %q", labHeader, labTableHeader)
	}
	if len(labRows) != 4 {
		t.Fatalf("lab table has %d rows, want 4:\n%s", len(labRows), lab)
	}
	if r := labRows[0]; r[0] != farName || r[1] != "net.Dialer" || r[2] != "2/2 (100%)" {
		t.Errorf("first lab row = %q, want net.Dialer connecting 2/2 to %s", r, farName)
	}
	if !strings.Contains(lab, farName+", 700ms away:") || !strings.Contains(lab, lossyName+", 100ms away with 15% loss each way") {
		t.Errorf("lab conclusions missing from output")
	}
}

// TestLab runs the lab part for real, scaled down, and checks its figures:
// net.Dialer connects every dial to far.test in about its round trip, no
// dial to a lab host connects faster than its round trip, and the counts
// add up. It does not require dialguard to fail far.test: that is today's
// behaviour, which the example shows, not a property of the example.
func TestLab(t *testing.T) {
	if why := netlab.Available(); why != nil {
		// Where the lab cannot run, runLab says why, in both forms, and
		// sets nothing up.
		for _, args := range [][]string{nil, {"-json"}} {
			cfg, err := parseFlags(args, nil)
			if err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			rep, err := runLab(context.Background(), cfg, &out)
			if err != nil || rep == nil || rep.Skipped != why.Error() || rep.Settings != nil {
				t.Errorf("runLab(%q) = %+v, %v; want skipped with %q", args, rep, err, why)
			}
			if want := "Lab part skipped: " + why.Error() + "\n"; !cfg.json && out.String() != want {
				t.Errorf("runLab printed %q, want %q", out.String(), want)
			}
			if cfg.json && out.Len() != 0 {
				t.Errorf("runLab(-json) printed %q, want nothing (run prints the JSON)", out.String())
			}
		}
		t.Skip(why)
	}
	t.Parallel()
	cfg, err := parseFlags([]string{"-far-dials", "5", "-lossy-dials", "12", "-lab-deadline", "3s"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	start := time.Now()
	rep, err := runLab(context.Background(), cfg, &out)
	if err != nil {
		t.Fatalf("runLab: %v\n%s", err, out.String())
	}
	t.Logf("in %v:\n%s", time.Since(start).Round(time.Millisecond), out.String())

	if rep.Skipped != "" || rep.Settings == nil || len(rep.Settings.Destinations) != 2 {
		t.Fatalf("report = %+v, want two destinations", rep)
	}
	dests := map[string]labDestSettings{}
	for _, d := range rep.Settings.Destinations {
		dests[d.Name] = d
	}
	if d := dests[farName]; d.RTT != millis(700*time.Millisecond) || d.Loss != 0 || d.Dials != 5 || len(d.ResolvedOrder) != 2 {
		t.Errorf("%s settings = %+v", farName, d)
	}
	if d := dests[lossyName]; d.RTT != millis(100*time.Millisecond) || d.Loss != 0.15 || d.Dials != 12 {
		t.Errorf("%s settings = %+v", lossyName, d)
	}
	// 15 % loss each way over some 100 packets: anything from 2 % to 40 %
	// is chance; 0 or all would mean the link is not lossy.
	if d := dests[lossyName]; d.ObservedLossOut < 0.02 || d.ObservedLossOut > 0.4 || d.ObservedLossIn < 0.02 || d.ObservedLossIn > 0.4 {
		t.Errorf("%s observed loss out %.3f, in %.3f, want about 0.15", lossyName, d.ObservedLossOut, d.ObservedLossIn)
	}

	want := [][2]string{{farName, "net.Dialer"}, {farName, "dialguard"}, {lossyName, "net.Dialer"}, {lossyName, "dialguard"}}
	if len(rep.Results) != len(want) {
		t.Fatalf("%d results, want %d", len(rep.Results), len(want))
	}
	deadline := millis(cfg.labDeadline + 500*time.Millisecond) // slack for a loaded machine
	for i, r := range rep.Results {
		name := fmt.Sprintf("%s to %s", r.Contender, r.Destination)
		if r.Destination != want[i][0] || r.Contender != want[i][1] {
			t.Errorf("result %d is %s, want %s to %s", i, name, want[i][1], want[i][0])
		}
		if r.Dials != dests[r.Destination].Dials || r.Connected+r.CircuitOpen > r.Dials {
			t.Errorf("%s: %d dials, %d connected, %d circuit open: they do not add up", name, r.Dials, r.Connected, r.CircuitOpen)
		}
		if r.FirstDial > deadline || r.MeanDial > deadline || r.MedianDial > deadline {
			t.Errorf("%s: first %v, mean %v, median %v: over the %v deadline", name, r.FirstDial, r.MeanDial, r.MedianDial, cfg.labDeadline)
		}
		// No handshake completes faster than the round trip (the lab
		// compensates its own overhead to within tens of microseconds).
		rtt := time.Duration(dests[r.Destination].RTT)
		if r.FirstDialError == "" && time.Duration(r.FirstDial) < rtt*95/100 {
			t.Errorf("%s: first dial connected in %v, faster than the %v round trip", name, r.FirstDial, rtt)
		}
	}

	far, lossy := rep.Results[0], rep.Results[2]
	if far.Connected != far.Dials || far.CircuitOpen != 0 {
		t.Errorf("net.Dialer to %s connected %d of %d dials, want all", farName, far.Connected, far.Dials)
	}
	for _, d := range []millis{far.FirstDial, far.MedianDial, far.MeanDial} {
		if d < millis(665*time.Millisecond) || d > millis(1200*time.Millisecond) {
			t.Errorf("net.Dialer to %s: first %v, median %v, mean %v, want each about 700ms", farName, far.FirstDial, far.MedianDial, far.MeanDial)
			break
		}
	}
	// With 15 % loss each way a handshake is lost about one time in four
	// and retried by the kernel after 1 s; within 3 s nearly every dial
	// connects, and most connect in one round trip.
	if lossy.Connected < lossy.Dials/2 || lossy.CircuitOpen != 0 {
		t.Errorf("net.Dialer to %s connected %d of %d dials, want most", lossyName, lossy.Connected, lossy.Dials)
	}
	if lossy.MedianDial < millis(95*time.Millisecond) {
		t.Errorf("net.Dialer to %s: median %v, faster than the 100ms round trip", lossyName, lossy.MedianDial)
	}

	// What was printed says the same.
	_, rows := tableRows(out.String(), "destination")
	if len(rows) != 4 {
		t.Fatalf("printed %d lab rows, want 4", len(rows))
	}
	for i, r := range rep.Results {
		if got := rows[i]; len(got) != len(labTableHeader) || got[0] != r.Destination || got[1] != r.Contender ||
			got[2] != connectedCell(r) || got[6] != fmt.Sprint(r.CircuitOpen) {
			t.Errorf("printed row %d = %q, want %s %s %s %d", i, got, r.Destination, r.Contender, connectedCell(r), r.CircuitOpen)
		}
	}
	if len(rep.Conclusions) != 2 {
		t.Errorf("conclusions = %q, want one per destination", rep.Conclusions)
	}
	for _, c := range rep.Conclusions {
		if !strings.Contains(out.String(), c) {
			t.Errorf("conclusion %q not printed", c)
		}
	}
}

// TestRunJSON checks that -json prints the same figures as a JSON document.
func TestRunJSON(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	err := run(context.Background(), []string{"-json", "-callers", "20", "-steady", "2", "-deadline", "800ms", "-attempt-timeout", "200ms", "-lab=false"}, &out)
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
				Callers     int     `json:"callers"`
				MeanWaitMS  float64 `json:"mean_wait_ms"`
				WorstWaitMS float64 `json:"worst_wait_ms"`
				FailedFast  int     `json:"failed_fast"`
				CircuitOpen int     `json:"circuit_open"`
				Connected   int     `json:"connected"`
				PeakSynSent int     `json:"peak_syn_sent"`
			} `json:"storm"`
		} `json:"contenders"`
		Conclusions []string         `json:"conclusions"`
		Lab         *json.RawMessage `json:"lab"`
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
	if rep.Lab != nil {
		t.Errorf("lab = %s, want none with -lab=false", *rep.Lab)
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
		{[]string{"-lab-deadline", "0s"}, "-lab-deadline"},
		{[]string{"-lab-deadline", "1m"}, "-lab-deadline"},
		{[]string{"-far-rtt", "0s"}, "-far-rtt"},
		{[]string{"-far-rtt", "3s"}, "-far-rtt"},
		{[]string{"-far-dials", "0"}, "-far-dials"},
		{[]string{"-far-dials", "100000"}, "-far-dials"},
		{[]string{"-lossy-rtt", "-1ms"}, "-lossy-rtt"},
		{[]string{"-lossy-loss", "1"}, "-lossy-loss"},
		{[]string{"-lossy-loss", "-0.1"}, "-lossy-loss"},
		{[]string{"-lossy-loss", "NaN"}, "-lossy-loss"},
		{[]string{"-lossy-dials", "0"}, "-lossy-dials"},
		{[]string{"-lab=maybe"}, "-lab"},
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

// TestTableExplainsEveryColumn: the steady cell says how many dials
// connected and why a contender made fewer, and the storm column counts
// callers that failed fast, not any answer.
func TestTableExplainsEveryColumn(t *testing.T) {
	rep := report{Settings: settings{SteadyDials: 10}, Contenders: []result{
		{Contender: "few", SteadyDials: 2, SteadyFailures: 2, SteadyDial: millis(1500 * time.Millisecond)},
		{Contender: "all", SteadyDials: 10, SteadyDial: millis(time.Millisecond), Storm: stormResult{Callers: 5, FailedFast: 3}},
	}}
	var out strings.Builder
	if err := writeTable(&out, rep); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"1.50s, 0/2 connected (2 dials: 3s budget)", "1.0ms, 10/10 connected", "3/5", "failed fast (<50ms)"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, out.String())
		}
	}
}
