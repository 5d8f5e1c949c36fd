package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/dialguard/dialguard/dialer"
	"github.com/dialguard/dialguard/dialer/dialtest"
	"github.com/dialguard/dialguard/dialer/dialtest/netlab"
)

// The lab part: loopback answers a SYN in microseconds, real destinations
// are far away and lose packets. Where package netlab can run (root and
// /dev/net/tun), two far hosts are set up, each in a network namespace of
// its own behind a delay line, and net.Dialer and dialguard (with its
// defaults, or -attempt-timeout) dial them:
//
//   - far.test: a healthy host -far-rtt (700 ms) round trip away.
//   - lossy.test: a healthy host -lossy-rtt (100 ms) round trip away, whose
//     link loses -lossy-loss (15 %) of the packets each way.
//
// Both resolve to the host's IPv6 and IPv4 addresses, with one echo server
// on each at the same port. For each destination in turn, both contenders
// dial at the same time, through the same link: each makes its -far-dials
// or -lossy-dials dials, one starting every labSpacing, each with a
// -lab-deadline context.

// The names of the lab's destinations.
const (
	farName   = "far.test"
	lossyName = "lossy.test"
)

// labWorld is the lab part's set-up: the lab, its hosts and their
// listeners, and the DNS server that names them. Close releases all of it.
type labWorld struct {
	lab   *netlab.Lab
	dns   *dialtest.DNSServer
	dests []*labDest
}

// labDest is one destination of the lab: a host and its two listeners.
type labDest struct {
	name   string
	link   netlab.Config
	dials  int
	host   *netlab.Host
	v6, v4 *dialtest.Healthy
	port   uint16
}

// address is the destination as dialled: name:port.
func (d *labDest) address() string {
	return net.JoinHostPort(d.name, strconv.Itoa(int(d.port)))
}

// labReport is the lab part of the report: either why it was skipped, or
// its settings, one result per destination and contender, and the
// conclusions drawn from them.
type labReport struct {
	Skipped     string       `json:"skipped,omitempty"`
	Settings    *labSettings `json:"settings,omitempty"`
	Results     []labResult  `json:"results,omitempty"`
	Conclusions []string     `json:"conclusions,omitempty"`
}

// labSettings describes the lab part of a run.
type labSettings struct {
	Spacing        millis `json:"spacing_ms"`
	Deadline       millis `json:"deadline_ms"`
	AttemptTimeout string `json:"dialguard_attempt_timeout"`
	// AttemptTimeoutMS is the fixed attempt timeout dialguard used
	// (-attempt-timeout); 0 when it learnt its timing per destination.
	AttemptTimeoutMS millis `json:"dialguard_attempt_timeout_ms"`
	// Overhead is what the lab adds to a handshake, which its links
	// take off their delays (netlab.Lab.Overhead).
	Overhead     millis            `json:"lab_overhead_ms"`
	Destinations []labDestSettings `json:"destinations"`
}

// labDestSettings describes one destination; the observed losses are
// filled in after the dials.
type labDestSettings struct {
	Name          string   `json:"name"`
	Address       string   `json:"address"` // name:port
	ResolvedOrder []string `json:"resolved_order"`
	RTT           millis   `json:"rtt_ms"`
	Loss          float64  `json:"loss_each_way"`
	Dials         int      `json:"dials"`
	// ObservedLossOut and ObservedLossIn are the shares of the packets
	// that the link dropped toward the host and back, during the dials.
	ObservedLossOut float64 `json:"observed_loss_out"`
	ObservedLossIn  float64 `json:"observed_loss_in"`
}

// labResult is what one contender got from one destination. Dial times
// are how long a dial took to return, connected or not.
type labResult struct {
	Destination    string `json:"destination"`
	Contender      string `json:"contender"`
	Dials          int    `json:"dials"`
	Connected      int    `json:"connected"`
	FirstDial      millis `json:"first_dial_ms"`
	FirstDialError string `json:"first_dial_error,omitempty"`
	MeanDial       millis `json:"mean_dial_ms"`
	MedianDial     millis `json:"median_dial_ms"`
	// CircuitOpen counts the dials refused with dialer.ErrCircuitOpen.
	CircuitOpen int `json:"circuit_open"`
}

// runLab runs the lab part: it reports why it was skipped where the lab
// cannot run, and otherwise sets the lab up, measures both contenders
// against each destination and closes everything. Unless cfg.json, it
// writes what it does to out as it goes.
func runLab(ctx context.Context, cfg config, out io.Writer) (rep *labReport, err error) {
	if why := netlab.Available(); why != nil {
		rep := &labReport{Skipped: why.Error()}
		if !cfg.json {
			if _, err := fmt.Fprintf(out, "Lab part skipped: %v\n", why); err != nil {
				return nil, err
			}
		}
		return rep, nil
	}
	lw, err := setUpLab(cfg)
	if err != nil {
		return nil, err
	}
	defer func() {
		if cerr := lw.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("closing the lab: %w", cerr)
		}
	}()

	s := &labSettings{
		Spacing:          millis(labSpacing),
		Deadline:         millis(cfg.labDeadline),
		AttemptTimeout:   attemptTimeoutLabel(cfg),
		AttemptTimeoutMS: millis(cfg.attemptTimeout),
		Overhead:         millis(lw.lab.Overhead()),
	}
	for _, d := range lw.dests {
		order, err := resolveOrder(ctx, lw.dns.Resolver(), d.name)
		if err != nil {
			return nil, fmt.Errorf("resolving %s: %w", d.name, err)
		}
		s.Destinations = append(s.Destinations, labDestSettings{
			Name: d.name, Address: d.address(), ResolvedOrder: order,
			RTT: millis(d.link.RTT()), Loss: d.link.Out.Loss, Dials: d.dials,
		})
	}
	rep = &labReport{Settings: s}
	if !cfg.json {
		if err := writeLabPreamble(out, *s); err != nil {
			return nil, err
		}
	}

	cs, err := labContenders(cfg, lw.dns.Resolver())
	if err != nil {
		return nil, err
	}
	for i, d := range lw.dests {
		outBefore, inBefore := d.host.Link().Stats()
		rep.Results = append(rep.Results, measureLabDest(ctx, cs, d, cfg)...)
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		outAfter, inAfter := d.host.Link().Stats()
		s.Destinations[i].ObservedLossOut = lossShare(outBefore, outAfter)
		s.Destinations[i].ObservedLossIn = lossShare(inBefore, inAfter)
	}
	rep.Conclusions = concludeLab(*rep)
	if !cfg.json {
		if err := writeLabTable(out, *rep); err != nil {
			return nil, err
		}
	}
	return rep, nil
}

// setUpLab makes the lab, its two hosts with their listeners and the DNS
// server. On error nothing is left open.
func setUpLab(cfg config) (*labWorld, error) {
	lab, err := netlab.New()
	if err != nil {
		return nil, err
	}
	lw := &labWorld{lab: lab}
	for _, spec := range []struct {
		name  string
		link  netlab.Config
		dials int
	}{
		{farName, netlab.Symmetric(cfg.farRTT, 0, 0), cfg.farDials},
		{lossyName, netlab.Symmetric(cfg.lossyRTT, 0, cfg.lossyLoss), cfg.lossyDials},
	} {
		d := &labDest{name: spec.name, link: spec.link, dials: spec.dials}
		lw.dests = append(lw.dests, d)
		if err := d.listen(lab); err != nil {
			lw.Close()
			return nil, fmt.Errorf("setting up %s: %w", spec.name, err)
		}
	}
	hosts := make(map[string][]netip.Addr)
	for _, d := range lw.dests {
		hosts[d.name] = d.host.Addrs()
	}
	lw.dns = dialtest.NewDNSServer(hosts)
	return lw, nil
}

// listen makes d's host in lab and an echo server on each of its
// addresses, at one port.
func (d *labDest) listen(lab *netlab.Lab) error {
	h, err := lab.AddHost(d.link)
	if err != nil {
		return err
	}
	d.host = h
	if d.v6, err = h.ListenHealthy(netip.AddrPortFrom(h.IPv6(), 0).String()); err != nil {
		return err
	}
	d.port = d.v6.Addr().Port()
	d.v4, err = h.ListenHealthy(netip.AddrPortFrom(h.IPv4(), d.port).String())
	return err
}

// Close closes the DNS server, the listeners and the lab (which closes
// its hosts). It tolerates a partly built labWorld.
func (lw *labWorld) Close() error {
	var errs []error
	if lw.dns != nil {
		errs = append(errs, lw.dns.Close())
	}
	for _, d := range lw.dests {
		for _, l := range []*dialtest.Healthy{d.v6, d.v4} {
			if l != nil {
				errs = append(errs, l.Close())
			}
		}
	}
	errs = append(errs, lw.lab.Close())
	return errors.Join(errs...)
}

// labContenders returns net.Dialer and dialguard, both resolving through
// res: the standard library's default with Timeout = -lab-deadline, and
// dialer.New with its defaults (and -attempt-timeout, if given).
func labContenders(cfg config, res *net.Resolver) ([]contender, error) {
	opts := []dialer.Option{dialer.WithResolver(res)}
	if cfg.attemptTimeout > 0 {
		opts = append(opts, dialer.WithAttemptTimeout(cfg.attemptTimeout))
	}
	guard, err := dialer.New(opts...)
	if err != nil {
		return nil, fmt.Errorf("dialguard: %w", err)
	}
	std := &net.Dialer{Timeout: cfg.labDeadline, Resolver: res}
	return []contender{
		{name: "net.Dialer", dial: std.DialContext},
		{name: "dialguard", dial: guard.DialContext},
	}, nil
}

// measureLabDest has every contender dial d at the same time, d.dials
// dials each, labSpacing apart, and returns their results in the order of
// cs.
func measureLabDest(ctx context.Context, cs []contender, d *labDest, cfg config) []labResult {
	results := make([]labResult, len(cs))
	var wg sync.WaitGroup
	for i, c := range cs {
		wg.Go(func() {
			answers := paced(ctx, c.dial, d.address(), d.dials, labSpacing, cfg.labDeadline)
			results[i] = summarize(d.name, c.name, answers)
		})
	}
	wg.Wait()
	return results
}

// summarize reduces one contender's answers from one destination to a
// labResult.
func summarize(dest, contender string, answers []answer) labResult {
	r := labResult{Destination: dest, Contender: contender, Dials: len(answers)}
	if len(answers) == 0 {
		return r
	}
	waits := make([]time.Duration, len(answers))
	var total time.Duration
	for i, a := range answers {
		waits[i] = a.wait
		total += a.wait
		switch {
		case a.err == nil:
			r.Connected++
		case errors.Is(a.err, dialer.ErrCircuitOpen):
			r.CircuitOpen++
		}
	}
	r.FirstDial = millis(answers[0].wait)
	if err := answers[0].err; err != nil {
		r.FirstDialError = err.Error()
	}
	r.MeanDial = millis(total / time.Duration(len(answers)))
	r.MedianDial = millis(median(waits))
	return r
}

// median returns the median of ds (the mean of the middle two for an even
// count); ds is sorted in place.
func median(ds []time.Duration) time.Duration {
	slices.Sort(ds)
	n := len(ds)
	if n%2 == 1 {
		return ds[n/2]
	}
	return (ds[n/2-1] + ds[n/2]) / 2
}

// lossShare is the share of the packets seen between two snapshots of a
// direction that its loss dropped.
func lossShare(before, after netlab.Stats) float64 {
	seen := after.Seen - before.Seen
	if seen == 0 {
		return 0
	}
	return float64(after.Dropped-before.Dropped) / float64(seen)
}
