package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// millis is a duration that is written to JSON as a number of milliseconds.
type millis time.Duration

// MarshalJSON writes m as milliseconds, to the microsecond.
func (m millis) MarshalJSON() ([]byte, error) {
	return json.Marshal(float64(time.Duration(m).Microseconds()) / 1e3)
}

// String formats m for the table in a form time.ParseDuration reads back:
// microseconds below 1 ms, milliseconds below 1 s, seconds above.
func (m millis) String() string {
	d := time.Duration(m)
	switch {
	case d < time.Millisecond:
		return fmt.Sprintf("%dµs", d.Microseconds())
	case d < 10*time.Millisecond:
		return fmt.Sprintf("%.1fms", float64(d)/float64(time.Millisecond))
	case d < time.Second:
		return fmt.Sprintf("%dms", d.Round(time.Millisecond).Milliseconds())
	}
	return fmt.Sprintf("%.2fs", d.Seconds())
}

// report is everything printed: the settings, one result per contender,
// and the conclusions drawn from them.
type report struct {
	Settings    settings `json:"settings"`
	Contenders  []result `json:"contenders"`
	Conclusions []string `json:"conclusions"`
	// Lab is the lab part (lab.go); absent with -lab=false.
	Lab *labReport `json:"lab,omitempty"`
}

// settings describes the run.
type settings struct {
	Callers        int    `json:"callers"`
	ArrivalSpacing millis `json:"arrival_spacing_ms"`
	Deadline       millis `json:"deadline_ms"`
	AttemptTimeout string `json:"dialguard_attempt_timeout"`
	// SteadyDials is how many steady dials each contender makes (-steady);
	// the first-address-only client makes fewer (firstOnlySteadyBudget).
	SteadyDials int `json:"steady_dials"`

	Incident        string   `json:"incident"` // incident.test:P
	IncidentPort    uint16   `json:"incident_port"`
	StalledIncident string   `json:"incident_stalled"`
	HealthyIncident string   `json:"incident_healthy"`
	ResolvedOrder   []string `json:"incident_resolved_order"`
	// FirstOnlyAddress is the address the first-address-only client dials.
	FirstOnlyAddress string `json:"first_only_address"`
	// DeadPorts are the ports of dead.test, one per contender in order.
	DeadPorts []uint16 `json:"dead_ports"`
}

// writePreamble says what was set up, before the measurement starts.
func writePreamble(out io.Writer, s settings) error {
	ports := make([]string, len(s.DeadPorts))
	for i, p := range s.DeadPorts {
		ports[i] = fmt.Sprint(p)
	}
	_, err := fmt.Fprintf(out,
		"%s resolves to %s; %s stalls (full accept queue), %s answers.\n"+
			"%s resolves to [::1] and 127.0.0.1, both stalled (port %s, a fresh pair per contender).\n"+
			"Storm: %d callers %v apart, each with a %v deadline. dialguard attempt timeout: %s.\n\n",
		incidentName, strings.Join(s.ResolvedOrder, ", "), s.StalledIncident, s.HealthyIncident,
		deadName, strings.Join(ports, ", "),
		s.Callers, time.Duration(s.ArrivalSpacing), time.Duration(s.Deadline), s.AttemptTimeout)
	return err
}

// tableHeader names the table's columns, in order.
var tableHeader = []string{
	"contender", "first dial", "steady dial", "storm mean wait", "storm worst wait",
	"failed fast (<50ms)", "circuit open", "peak SYN_SENT",
}

// writeTable prints one aligned row per contender, columns separated by
// "|", then the conclusions.
func writeTable(out io.Writer, rep report) error {
	tw := tabwriter.NewWriter(out, 0, 0, 1, ' ', 0)
	row := func(cells ...string) {
		fmt.Fprintln(tw, strings.Join(cells, "\t| "))
	}
	row(tableHeader...)
	for _, r := range rep.Contenders {
		first := r.FirstDial.String()
		if r.FirstDialError != "" {
			first += " failed"
		}
		// The mean, and how many of the dials connected; a contender
		// whose every dial costs the whole deadline makes fewer (its
		// steady dials are capped at firstOnlySteadyBudget).
		steady := fmt.Sprintf("%v, %d/%d connected", r.SteadyDial, r.SteadyDials-r.SteadyFailures, r.SteadyDials)
		if r.SteadyDials < rep.Settings.SteadyDials {
			steady += fmt.Sprintf(" (%d dials: %v budget)", r.SteadyDials, firstOnlySteadyBudget)
		}
		row(r.Contender, first, steady, r.Storm.MeanWait.String(), r.Storm.WorstWait.String(),
			fmt.Sprintf("%d/%d", r.Storm.FailedFast, r.Storm.Callers),
			fmt.Sprint(r.Storm.CircuitOpen), fmt.Sprint(r.Storm.PeakSynSent))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(rep.Conclusions) > 0 {
		fmt.Fprintln(out)
	}
	for _, c := range rep.Conclusions {
		if _, err := fmt.Fprintln(out, c); err != nil {
			return err
		}
	}
	return nil
}

// conclude states, from the figures, what the run shows. It expects the
// contenders in the order of contenders(): first address only, net.Dialer,
// dialguard.
func conclude(rep report) []string {
	if len(rep.Contenders) != 3 {
		return nil
	}
	only, std, guard := rep.Contenders[0], rep.Contenders[1], rep.Contenders[2]
	var out []string

	// The incident host, steady state.
	if guard.SteadyFailures == 0 && guard.SteadyDial > 0 {
		out = append(out, fmt.Sprintf(
			"Steady state on %s: dialguard dials in %v, %s than net.Dialer's %v (which waits out its fallback delay on every dial).",
			incidentName, guard.SteadyDial, ratio(std.SteadyDial, guard.SteadyDial), std.SteadyDial))
	} else {
		out = append(out, fmt.Sprintf(
			"Steady state on %s: dialguard failed %d of %d dials (mean %v); net.Dialer took %v.",
			incidentName, guard.SteadyFailures, guard.SteadyDials, guard.SteadyDial, std.SteadyDial))
	}
	onlyDials, onlyFailed := 1+only.SteadyDials, only.SteadyFailures
	if only.FirstDialError != "" {
		onlyFailed++
	}
	out = append(out, fmt.Sprintf(
		"The incident's client (net.Dialer, first address only) failed %d of %d dials to %s, each after %v.",
		onlyFailed, onlyDials, incidentName, only.SteadyDial))

	// The storm.
	worstOther := max(only.Storm.PeakSynSent, std.Storm.PeakSynSent)
	storm := fmt.Sprintf(
		"Storm of %d callers into %s: net.Dialer kept up to %d sockets in SYN_SENT (first address only: %d) and its callers waited %v on average; dialguard kept at most %d",
		guard.Storm.Callers, deadName, std.Storm.PeakSynSent, only.Storm.PeakSynSent, std.Storm.MeanWait, guard.Storm.PeakSynSent)
	if guard.Storm.PeakSynSent > 0 {
		storm += fmt.Sprintf(" (%.0fx fewer)", float64(worstOther)/float64(guard.Storm.PeakSynSent))
	}
	storm += fmt.Sprintf(" and its callers waited %v on average", guard.Storm.MeanWait)
	if guard.Storm.CircuitOpenAt != nil {
		storm += fmt.Sprintf(": its breaker opened %v into the storm, after which callers were refused at once (%d got ErrCircuitOpen, %d within %v).",
			*guard.Storm.CircuitOpenAt, guard.Storm.CircuitOpen, guard.Storm.FailedFast, fastAnswer)
	} else {
		storm += "; its breaker never opened (no attempt reached its stall bound before the callers' deadline)."
	}
	out = append(out, storm)
	return out
}

// ratio says how many times a is larger than b, as "1500x faster" (or
// "about as fast" when they are close).
func ratio(a, b millis) string {
	if b <= 0 {
		return "infinitely faster"
	}
	x := float64(a) / float64(b)
	switch {
	case x >= 10:
		return fmt.Sprintf("%.0fx faster", x)
	case x >= 1.2:
		return fmt.Sprintf("%.1fx faster", x)
	case x > 1/1.2:
		return "about as fast"
	}
	return fmt.Sprintf("%.1fx slower", 1/x)
}

// writeLabPreamble says what the lab part set up, before it dials.
func writeLabPreamble(out io.Writer, s labSettings) error {
	_, err := fmt.Fprintf(out,
		"Lab: far hosts in network namespaces of their own, behind delay lines (the lab's own %v per handshake is compensated).\n"+
			"For each destination, net.Dialer and dialguard dial at the same time through the same link, a dial every %v, each with a %v deadline.\n"+
			"dialguard attempt timeout: %s.\n",
		time.Duration(s.Overhead).Round(time.Microsecond), time.Duration(s.Spacing), time.Duration(s.Deadline), s.AttemptTimeout)
	if err != nil {
		return err
	}
	for _, d := range s.Destinations {
		loss := "no loss"
		if d.Loss > 0 {
			loss = fmt.Sprintf("%s loss each way", percent(d.Loss))
		}
		if _, err := fmt.Fprintf(out, "%s resolves to %s: a healthy host, %v round trip, %s; %d dials per contender.\n",
			d.Address, strings.Join(d.ResolvedOrder, ", "), time.Duration(d.RTT), loss, d.Dials); err != nil {
			return err
		}
	}
	_, err = fmt.Fprintln(out)
	return err
}

// labTableHeader names the lab table's columns, in order.
var labTableHeader = []string{
	"destination", "contender", "connected", "first dial", "mean dial", "median dial", "circuit open",
}

// writeLabTable prints one aligned row per destination and contender,
// columns separated by "|", then the lab's conclusions.
func writeLabTable(out io.Writer, rep labReport) error {
	tw := tabwriter.NewWriter(out, 0, 0, 1, ' ', 0)
	row := func(cells ...string) {
		fmt.Fprintln(tw, strings.Join(cells, "\t| "))
	}
	row(labTableHeader...)
	for _, r := range rep.Results {
		first := r.FirstDial.String()
		if r.FirstDialError != "" {
			first += " failed"
		}
		row(r.Destination, r.Contender, connectedCell(r), first, r.MeanDial.String(), r.MedianDial.String(),
			fmt.Sprint(r.CircuitOpen))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(rep.Conclusions) > 0 {
		fmt.Fprintln(out)
	}
	for _, c := range rep.Conclusions {
		if _, err := fmt.Fprintln(out, c); err != nil {
			return err
		}
	}
	return nil
}

// connectedCell is "connected/dials (share)".
func connectedCell(r labResult) string {
	if r.Dials == 0 {
		return "0/0"
	}
	return fmt.Sprintf("%d/%d (%.0f%%)", r.Connected, r.Dials, 100*float64(r.Connected)/float64(r.Dials))
}

// percent formats a share in [0, 1] as "15%" (or "14.8%").
func percent(x float64) string {
	return strconv.FormatFloat(100*x, 'f', -1, 64) + "%"
}

// concludeLab states, from the figures, what the lab part shows: one line
// per destination, comparing the contenders.
func concludeLab(rep labReport) []string {
	if rep.Settings == nil {
		return nil
	}
	var out []string
	for _, d := range rep.Settings.Destinations {
		var line string
		switch {
		case d.Loss > 0:
			line = fmt.Sprintf("%s, %v away with %s loss each way (the link dropped %.1f%% of the packets toward it and %.1f%% back):",
				d.Name, time.Duration(d.RTT), percent(d.Loss), 100*d.ObservedLossOut, 100*d.ObservedLossIn)
		default:
			line = fmt.Sprintf("%s, %v away:", d.Name, time.Duration(d.RTT))
		}
		var parts []string
		var guard *labResult
		for i, r := range rep.Results {
			if r.Destination != d.Name {
				continue
			}
			if r.Contender == "dialguard" {
				guard = &rep.Results[i]
			}
			p := fmt.Sprintf("%s connected %d of %d dials (median %v, mean %v)", r.Contender, r.Connected, r.Dials, r.MedianDial, r.MeanDial)
			if r.CircuitOpen > 0 {
				p += fmt.Sprintf(", %d of them refused by its open breaker (ErrCircuitOpen)", r.CircuitOpen)
			}
			parts = append(parts, p)
		}
		line += " " + strings.Join(parts, "; ") + "."
		if guard != nil && guard.Connected == 0 && rep.Settings.AttemptTimeoutMS > 0 && rep.Settings.AttemptTimeoutMS <= d.RTT {
			line += fmt.Sprintf(" dialguard's attempt timeout (%v) is not longer than the round trip (%v), so it cuts every handshake to %s off as a stall.",
				rep.Settings.AttemptTimeoutMS, d.RTT, d.Name)
		}
		out = append(out, line)
	}
	return out
}
