package bench

import (
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dialguard/dialguard/dialer/dialtest/netlab"
)

// The lab scenarios measure the contenders where loopback cannot: against
// hosts a real round trip away, behind links that lose packets or go
// black (package netlab: each host in a network namespace of its own
// behind a delay line; the benchmark binary runs isolated, see TestMain).
// Every name resolves to the host's IPv6 and IPv4 addresses, on one port.
// Where the lab cannot run (not root, no /dev/net/tun) they skip, saying
// why; CI runs as root and fails on a skipped benchmark.
//
// Each iteration makes a fresh contender (timer stopped), so every
// iteration starts knowing nothing, as a new process would; the metrics
// are averaged over iterations (the default benchtime runs one, as each
// takes seconds). Reported, besides the scenario's own:
//
//   - success_frac: the fraction of dials that connected;
//   - ms/dial: the mean time a dial took to return, connected or not;
//   - circuit_open_frac: the fraction refused by the contender's own open
//     breaker (dialguard's or failsafe-go's);
//   - breaker_opens: how many times the contender's breakers opened per
//     iteration (dialguard: destination and address breakers together;
//     net.Dialer has none and reports 0).

// The deadlines of every dial of the far, lossy and incident scenarios.
const (
	farDeadline         = 5 * time.Second
	lossyDeadline       = 4 * time.Second
	labIncidentDeadline = 5 * time.Second
)

// labDest is one destination in the lab: a name and port that resolve,
// through resolver, to a far host's addresses.
type labDest struct {
	host     *netlab.Host
	address  string // name:port
	port     uint16
	resolver *net.Resolver
}

// newLabDest adds a host behind link c to lab and serves name -> [the
// host's IPv6 address, its IPv4 address] through a DNS server closed when b
// ends. listen6 and listen4 bind the host's endpoints: listen6 first, on
// port 0, then listen4 on the port it got.
func newLabDest(b *testing.B, lab *netlab.Lab, name string, c netlab.Config,
	listen6, listen4 func(h *netlab.Host, address string) netip.AddrPort,
) labDest {
	h := lab.NewHost(b, c)
	port := listen6(h, netip.AddrPortFrom(h.IPv6(), 0).String()).Port()
	listen4(h, netip.AddrPortFrom(h.IPv4(), port).String())
	srv := newDNS(b, map[string][]netip.Addr{name: h.Addrs()})
	return labDest{host: h, address: hostPort(name, port), port: port, resolver: srv.Resolver()}
}

// healthyAt and stalledAt are the endpoints newLabDest binds.
func healthyAt(b *testing.B) func(*netlab.Host, string) netip.AddrPort {
	return func(h *netlab.Host, address string) netip.AddrPort { return h.NewHealthy(b, address).Addr() }
}

func stalledAt(b *testing.B) func(*netlab.Host, string) netip.AddrPort {
	return func(h *netlab.Host, address string) netip.AddrPort { return h.NewStalled(b, address).Addr() }
}

// labTally is what one iteration's dials got.
type labTally struct {
	mu          sync.Mutex
	dials, ok   int
	circuitOpen int
	first       time.Duration // the first dial to return
	total       time.Duration
	firstErr    error
}

func (t *labTally) add(el time.Duration, err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.dials == 0 {
		t.first = el
	}
	t.dials++
	t.total += el
	switch {
	case err == nil:
		t.ok++
	case isCircuitOpen(err):
		t.circuitOpen++
	}
	if err != nil && t.firstErr == nil {
		t.firstErr = err
	}
}

// labSums averages labTally's figures over iterations.
type labSums struct {
	iterations                             int
	success, msPerDial, circuitOpen, first float64
	opens                                  int64
	firstErr                               error
}

func (s *labSums) add(t *labTally, opens int64) {
	s.iterations++
	s.success += float64(t.ok) / float64(t.dials)
	s.msPerDial += ms(t.total) / float64(t.dials)
	s.circuitOpen += float64(t.circuitOpen) / float64(t.dials)
	s.first += ms(t.first)
	s.opens += opens
	if s.firstErr == nil {
		s.firstErr = t.firstErr
	}
}

// report reports the averages; first-ms only where asked (a scenario whose
// first dial differs from the rest).
func (s *labSums) report(b *testing.B, withFirst bool) {
	if s.firstErr != nil {
		b.Logf("first error: %v", s.firstErr)
	}
	n := float64(s.iterations)
	b.ReportMetric(s.success/n, "success_frac")
	b.ReportMetric(s.msPerDial/n, "ms/dial")
	b.ReportMetric(s.circuitOpen/n, "circuit_open_frac")
	b.ReportMetric(float64(s.opens)/n, "breaker_opens")
	if withFirst {
		b.ReportMetric(s.first/n, "first-ms")
	}
	b.ReportMetric(0, "ns/op")
}

// dialLab makes dials dials of dest from workers goroutines (each dial
// starting when its worker's last one returned), each with deadline, and
// tallies them.
func dialLab(dial dialFunc, dest labDest, dials, workers int, deadline time.Duration) *labTally {
	t := &labTally{}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for next.Add(1) <= int64(dials) {
				t.add(dialTimed(dial, dest.address, deadline))
			}
		})
	}
	wg.Wait()
	return t
}

// runLabDials runs, for every contender, b.N iterations of dialLab on a
// fresh contender, and reports them.
func runLabDials(b *testing.B, dest labDest, dials, workers int, deadline time.Duration, withFirst bool) {
	for _, c := range contenders {
		b.Run(c.name, func(b *testing.B) {
			var sums labSums
			out0, in0 := dest.host.Link().Stats()
			for range b.N {
				b.StopTimer()
				var w breakerWatch
				dial := c.newCounting(b, dest.resolver, nil, &w)
				b.StartTimer()
				sums.add(dialLab(dial, dest, dials, workers, deadline), w.opens.Load())
			}
			out1, in1 := dest.host.Link().Stats()
			if loss := dest.host.Link().Config().Out.Loss; loss > 0 {
				b.ReportMetric(dropShare(out0, out1), "lost_out_frac")
				b.ReportMetric(dropShare(in0, in1), "lost_in_frac")
			}
			sums.report(b, withFirst)
		})
	}
}

// dropShare is the share of the packets a link direction saw between two
// readings that it dropped.
func dropShare(before, after netlab.Stats) float64 {
	seen := after.Seen - before.Seen
	if seen == 0 {
		return 0
	}
	return float64(after.Dropped-before.Dropped) / float64(seen)
}

// meanOf returns the mean of xs.
func meanOf(xs []float64) float64 {
	var sum float64
	for _, x := range xs {
		sum += x
	}
	return sum / float64(len(xs))
}

// newBenchLab is netlab.NewLab for the lab scenarios.
func newBenchLab(b *testing.B) *netlab.Lab {
	lab := netlab.NewLab(b)
	b.Logf("lab overhead taken off every link: %v", lab.Overhead())
	return lab
}

// BenchmarkLabFarHost dials "far.lab", a healthy host 700 ms away (a
// satellite link, or the far side of the planet through a congested path):
// 5 dials one after another, 5 s deadline each. net.Dialer connects every
// dial in the round trip; a contender whose per-attempt bound is shorter
// than the round trip connects none, whatever it retries, and a breaker
// that counts those timeouts as stalls cuts the host off.
func BenchmarkLabFarHost(b *testing.B) {
	lab := newBenchLab(b)
	dest := newLabDest(b, lab, "far.lab", netlab.Symmetric(700*time.Millisecond, 0, 0), healthyAt(b), healthyAt(b))
	runLabDials(b, dest, 5, 1, farDeadline, true)
}

// BenchmarkLabLossy dials "lossy.lab", a healthy host 100 ms away whose
// link loses 15 % of the packets each way (a congested mobile or Wi-Fi
// path): 30 dials from 3 callers, each dial with a 4 s deadline. A lost SYN
// or SYN-ACK costs net.Dialer the kernel's 1 s retransmission; a contender
// that gives up on an attempt sooner and tries again may be faster, but
// must not take the losses for a dead host. lost_out_frac and lost_in_frac
// are the shares of the packets the link dropped toward the host and back
// during the contender's dials.
func BenchmarkLabLossy(b *testing.B) {
	lab := newBenchLab(b)
	dest := newLabDest(b, lab, "lossy.lab", netlab.Symmetric(100*time.Millisecond, 0, 0.15), healthyAt(b), healthyAt(b))
	runLabDials(b, dest, 30, 3, lossyDeadline, false)
}

// BenchmarkLabIncident is the seed incident 80 ms away: "incident.lab"
// resolves to [v6, v4] of one host, whose v6 port has a full accept queue
// (SYNs dropped, as a black-holed ::1) and whose v4 port answers. 10 dials
// one after another, 5 s deadline each. first-ms is the first dial: the
// attempt delay (net.Dialer: FallbackDelay, 300 ms) plus the round trip;
// the later dials show what the contender learnt.
func BenchmarkLabIncident(b *testing.B) {
	lab := newBenchLab(b)
	dest := newLabDest(b, lab, "incident.lab", netlab.Symmetric(80*time.Millisecond, 0, 0), stalledAt(b), healthyAt(b))
	runLabDials(b, dest, 10, 1, labIncidentDeadline, true)
}

// The LAN blackout's storm: blackoutBurst callers at once, then
// blackoutSpread more spread evenly over blackoutOver, each with a
// stormDeadline context.
const (
	blackoutBurst  = 50
	blackoutSpread = 250
	blackoutOver   = time.Second
	blackoutWarm   = 5 // dials that connect before the link goes black
)

// blackoutArrivals is the storm's schedule.
func blackoutArrivals() []time.Duration {
	at := make([]time.Duration, blackoutBurst, blackoutBurst+blackoutSpread)
	for i := range blackoutSpread {
		at = append(at, blackoutOver*time.Duration(i)/blackoutSpread)
	}
	return at
}

// BenchmarkLabLANBlackout is a LAN host 1 ms away that answered a moment
// ago and goes black (its link drops everything: a switch port down, a
// host powered off) just as callers arrive: 5 dials connect, then the link
// goes black and 300 callers come, 50 at once and 250 over one second,
// each with a 1.5 s deadline. Reported as BenchmarkStallStorm does
// (syn_sent, mean-wait-ms, p99-wait-ms, circuit_open_frac, fastfail_frac),
// with breaker_opens, open-ms (how long after the link went black the
// contender's first breaker opened, where one did) and, for dialguard,
// suspect-ms (the shortest time, in any round of the storm's dials, from
// its first attempt to its second: when the first became suspect). A destination whose round trip is 1 ms has shown
// within milliseconds that it stopped answering, and every socket left in
// SYN_SENT and every millisecond a caller waits past that is the
// contender's choice.
func BenchmarkLabLANBlackout(b *testing.B) {
	lab := newBenchLab(b)
	healthy := netlab.Symmetric(time.Millisecond, 0, 0)
	dest := newLabDest(b, lab, "lan.lab", healthy, healthyAt(b), healthyAt(b))
	link := dest.host.Link()
	runWarmStorms(b, dest.address, dest.port, dest.resolver, func() error { return link.Set(healthy) },
		func() error { return link.Set(healthy.Black()) })
}

// runWarmStorms runs, for every contender, b.N warm storms: heal makes the
// destination answer, blackoutWarm dials connect, black makes it stop
// answering, and the storm of blackoutArrivals comes (each caller with a
// stormDeadline context). It reports what BenchmarkLabLANBlackout says.
func runWarmStorms(b *testing.B, address string, port uint16, res *net.Resolver, heal, black func() error) {
	for _, c := range contenders {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			var sums stormSums
			var opens float64
			var openMS, suspectMS []float64
			for range b.N {
				b.StopTimer()
				if err := heal(); err != nil {
					b.Fatal(err)
				}
				var w breakerWatch
				dial := c.newCounting(b, res, nil, &w)
				for range blackoutWarm {
					if _, err := dialTimed(dial, address, time.Second); err != nil {
						b.Fatalf("warm-up dial while the destination answers: %v", err)
					}
				}
				w.forget() // the warm-up's rounds are not the outage's
				if err := black(); err != nil {
					b.Fatal(err)
				}
				blackAt := time.Now()
				b.StartTimer()
				r := storm(dial, address, port, blackoutArrivals())
				b.StopTimer()
				sums.add(b, r)
				if at, ok := w.firstOpenSince(blackAt); ok {
					openMS = append(openMS, ms(at))
				}
				if at, ok := w.suspectAfter(); ok {
					suspectMS = append(suspectMS, ms(at))
				}
				opens += float64(w.opens.Load())
				b.StartTimer()
			}
			if err := heal(); err != nil {
				b.Fatal(err)
			}
			sums.report(b)
			b.ReportMetric(opens/float64(b.N), "breaker_opens")
			if len(openMS) > 0 {
				b.ReportMetric(meanOf(openMS), "open-ms")
			}
			if len(suspectMS) > 0 {
				b.ReportMetric(meanOf(suspectMS), "suspect-ms")
			}
			b.ReportMetric(0, "ns/op")
		})
	}
}

// brokenRTT is the round trip of BenchmarkLabBrokenIPv6's host.
const brokenRTT = 50 * time.Millisecond

// BenchmarkLabBrokenIPv6 is a host with broken IPv6, 50 ms away: its v6
// port drops every SYN (a full accept queue), its v4 port answers, and
// three names resolve to both. Each iteration, a fresh contender dials
// "one.lab" and "two.lab" once each (timer stopped: what it may learn
// from), then "three.lab", never dialled: first-ms is that first dial, and
// x_rtt its ratio to the IPv4 round trip. A contender that learns about
// the family, not only the destination, connects the third name in one
// round trip; one that does not pays its attempt delay (net.Dialer: its
// 300 ms FallbackDelay) again for every new name.
func BenchmarkLabBrokenIPv6(b *testing.B) {
	lab := newBenchLab(b)
	h := lab.NewHost(b, netlab.Symmetric(brokenRTT, 0, 0))
	port := h.NewStalled(b, netip.AddrPortFrom(h.IPv6(), 0).String()).Addr().Port()
	h.NewHealthy(b, netip.AddrPortFrom(h.IPv4(), port).String())
	names := []string{"one.lab", "two.lab", "three.lab"}
	hosts := map[string][]netip.Addr{}
	for _, n := range names {
		hosts[n] = h.Addrs()
	}
	res := newDNS(b, hosts).Resolver()
	for _, c := range contenders {
		b.Run(c.name, func(b *testing.B) {
			var t tally
			for range b.N {
				b.StopTimer()
				dial := c.new(b, res, nil)
				for _, n := range names[:2] {
					dialTimed(dial, hostPort(n, port), labIncidentDeadline)
				}
				b.StartTimer()
				t.add(dialTimed(dial, hostPort(names[2], port), labIncidentDeadline))
			}
			b.ReportMetric(ms(t.total)/float64(t.n), "first-ms")
			b.ReportMetric(float64(t.total)/float64(t.n)/float64(brokenRTT), "x_rtt")
			b.ReportMetric(float64(t.ok)/float64(t.n), "success_frac")
			b.ReportMetric(0, "ns/op")
		})
	}
}
