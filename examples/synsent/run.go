package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/dialguard/dialguard/dialer"
)

// drainLimit bounds the wait for SYN_SENT sockets to go away between
// contenders.
const drainLimit = 3 * time.Second

// run parses args, sets up the scenario, measures the three contenders one
// after another and writes the table (or, with -json, the JSON report) to
// out; then, unless -lab=false, it runs the lab part (lab.go), or says why
// it skipped it. Everything it starts is ended and closed before it returns.
func run(ctx context.Context, args []string, out io.Writer) (err error) {
	cfg, err := parseFlags(args, out)
	if errors.Is(err, errHelp) {
		return nil
	}
	if err != nil {
		return err
	}

	cs, w, err := setUp(cfg)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := w.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("closing: %w", cerr)
		}
	}()

	rep := report{Settings: settings{
		Callers:         cfg.callers,
		ArrivalSpacing:  millis(arrivalSpacing),
		Deadline:        millis(cfg.deadline),
		AttemptTimeout:  attemptTimeoutLabel(cfg),
		SteadyDials:     cfg.steady,
		Incident:        w.incidentAddress(),
		IncidentPort:    w.incident.Port,
		StalledIncident: w.incident.Stalled.String(),
		HealthyIncident: w.incident.Healthy.String(),
	}}
	for _, p := range w.dead {
		rep.Settings.DeadPorts = append(rep.Settings.DeadPorts, p.port)
	}
	order, err := resolveOrder(ctx, w.dns.Resolver(), incidentName)
	if err != nil {
		return fmt.Errorf("resolving %s: %w", incidentName, err)
	}
	rep.Settings.ResolvedOrder = order
	if len(order) > 0 {
		rep.Settings.FirstOnlyAddress = order[0]
	}
	if !cfg.json {
		if err := writePreamble(out, rep.Settings); err != nil {
			return err
		}
	}

	for i, c := range cs {
		r, err := measure(ctx, c, w.incidentAddress(), w.dead[i], cfg)
		if err != nil {
			return fmt.Errorf("%s: %w", c.name, err)
		}
		for _, port := range []uint16{w.dead[i].port, w.incident.Port} {
			if err := drainSynSent(ctx, port, drainLimit); err != nil {
				return fmt.Errorf("after %s: %w", c.name, err)
			}
		}
		rep.Contenders = append(rep.Contenders, r)
	}
	rep.Conclusions = conclude(rep)
	if !cfg.json {
		if err := writeTable(out, rep); err != nil {
			return err
		}
	}

	if cfg.lab {
		if !cfg.json {
			if _, err := fmt.Fprintln(out); err != nil {
				return err
			}
		}
		if rep.Lab, err = runLab(ctx, cfg, out); err != nil {
			return fmt.Errorf("lab: %w", err)
		}
	}

	if cfg.json {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	return nil
}

// setUp builds the listeners, the DNS server and the contenders; one dead
// host per contender. On error nothing is left open.
func setUp(cfg config) ([]contender, *world, error) {
	const n = 3 // contenders
	w, err := buildWorld(n)
	if err != nil {
		return nil, nil, err
	}
	cs, err := contenders(cfg, w.dns.Resolver())
	if err != nil {
		w.Close()
		return nil, nil, err
	}
	if len(cs) != n {
		w.Close()
		return nil, nil, fmt.Errorf("internal error: %d contenders for %d dead hosts", len(cs), n)
	}
	return cs, w, nil
}

// resolveOrder returns the addresses of host in the order the Go resolver
// gives them (RFC 6724 sorting), which is what the first-address-only
// client dials first.
func resolveOrder(ctx context.Context, res *net.Resolver, host string) ([]string, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	addrs, err := res.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return nil, err
	}
	out := make([]string, len(addrs))
	for i, a := range addrs {
		out[i] = a.Unmap().String()
		if a.Unmap().Is6() {
			out[i] = "[" + out[i] + "]"
		}
	}
	return out, nil
}

// attemptTimeoutLabel describes how dialguard bounds its attempts, for the
// report.
func attemptTimeoutLabel(cfg config) string {
	if cfg.attemptTimeout > 0 {
		return cfg.attemptTimeout.String() + " (-attempt-timeout)"
	}
	return "learnt per destination (default: a stall after 10 retransmission timeouts of its handshakes; " +
		dialer.DefaultAttemptTimeout.String() + " with no history, 100ms on loopback)"
}
