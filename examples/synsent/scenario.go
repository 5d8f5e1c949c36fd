package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"sync"

	"github.com/dialguard/dialguard/dialer"
	"github.com/dialguard/dialguard/dialer/dialtest"
)

// The names of the scenario. Both resolve to [::1] first and 127.0.0.1
// second; the port tells the endpoints apart.
const (
	incidentName = "incident.test"
	deadName     = "dead.test"
)

var (
	loopback6 = netip.IPv6Loopback()
	loopback4 = netip.AddrFrom4([4]byte{127, 0, 0, 1})
)

// dialFunc is the shape shared by the contenders.
type dialFunc func(ctx context.Context, network, address string) (net.Conn, error)

// contender is one dialer under test.
type contender struct {
	name   string
	dial   dialFunc
	steady int // steady-state dials to make
}

// world is everything the scenario listens on and resolves with. Close
// releases all of it.
type world struct {
	dns      *dialtest.DNSServer
	incident *dialtest.DualStack // [::1]:P stalls, 127.0.0.1:P answers
	dead     []*stalledPair      // one fresh dead host per contender
}

// stalledPair is a dead host: a Stalled on [::1]:port and one on
// 127.0.0.1:port.
type stalledPair struct {
	v6, v4 *dialtest.Stalled
	port   uint16
}

// pairTries is how many ports listenStalledPair tries.
const pairTries = 5

// listenStalledPair binds a Stalled on [::1]:0 and another on 127.0.0.1 at
// the same port, trying a new port if that one is taken on 127.0.0.1.
func listenStalledPair() (*stalledPair, error) {
	var errs []error
	for range pairTries {
		v6, err := dialtest.ListenStalled("[::1]:0")
		if err != nil {
			return nil, err
		}
		port := v6.Addr().Port()
		v4, err := dialtest.ListenStalled(netip.AddrPortFrom(loopback4, port).String())
		if err != nil {
			v6.Close()
			errs = append(errs, err)
			continue
		}
		return &stalledPair{v6: v6, v4: v4, port: port}, nil
	}
	return nil, fmt.Errorf("no port free on both [::1] and 127.0.0.1 after %d tries: %w", pairTries, errors.Join(errs...))
}

// Close closes both listeners.
func (p *stalledPair) Close() error { return errors.Join(p.v6.Close(), p.v4.Close()) }

// address is the pair's destination as dialled: dead.test:port.
func (p *stalledPair) address() string {
	return net.JoinHostPort(deadName, strconv.Itoa(int(p.port)))
}

// buildWorld sets up the incident host, n dead hosts and the DNS server.
// Filling a Stalled's accept queue takes over 200 ms, so the listeners are
// made concurrently. On error everything made so far is closed.
func buildWorld(n int) (*world, error) {
	w := &world{dead: make([]*stalledPair, n)}
	errs := make([]error, n+1)
	var wg sync.WaitGroup
	wg.Go(func() { w.incident, errs[n] = dialtest.ListenDualStack() })
	for i := range n {
		wg.Go(func() { w.dead[i], errs[i] = listenStalledPair() })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		w.Close()
		return nil, fmt.Errorf("setting up listeners: %w", err)
	}
	addrs := []netip.Addr{loopback6, loopback4}
	w.dns = dialtest.NewDNSServer(map[string][]netip.Addr{incidentName: addrs, deadName: addrs})
	return w, nil
}

// incidentAddress is the incident host as dialled: incident.test:port.
func (w *world) incidentAddress() string {
	return net.JoinHostPort(incidentName, strconv.Itoa(int(w.incident.Port)))
}

// Close closes the DNS server and every listener. It tolerates a
// partly built world.
func (w *world) Close() error {
	var errs []error
	if w.dns != nil {
		errs = append(errs, w.dns.Close())
	}
	if w.incident != nil {
		errs = append(errs, w.incident.Close())
	}
	for _, p := range w.dead {
		if p != nil {
			errs = append(errs, p.Close())
		}
	}
	return errors.Join(errs...)
}

// contenders returns the three dialers, all resolving through res.
func contenders(cfg config, res *net.Resolver) ([]contender, error) {
	var opts []dialer.Option
	opts = append(opts, dialer.WithResolver(res))
	if cfg.attemptTimeout > 0 {
		opts = append(opts, dialer.WithAttemptTimeout(cfg.attemptTimeout))
	}
	guard, err := dialer.New(opts...)
	if err != nil {
		return nil, fmt.Errorf("dialguard: %w", err)
	}
	first := &firstAddressOnly{res: res, nd: &net.Dialer{Timeout: cfg.deadline}}
	std := &net.Dialer{Timeout: cfg.deadline, Resolver: res}
	return []contender{
		{name: "net.Dialer, first address only", dial: first.DialContext, steady: cfg.firstOnlySteady()},
		{name: "net.Dialer", dial: std.DialContext, steady: cfg.steady},
		{name: "dialguard", dial: guard.DialContext, steady: cfg.steady},
	}, nil
}

// firstAddressOnly is the incident's client: it resolves the name and dials
// the first address it gets, and only that one.
type firstAddressOnly struct {
	res *net.Resolver
	nd  *net.Dialer
}

// DialContext resolves address's host and dials its first address.
func (f *firstAddressOnly) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(address)
	if err != nil {
		return nil, err
	}
	addrs, err := f.res.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return nil, err
	}
	if len(addrs) == 0 {
		return nil, &net.DNSError{Err: "no addresses", Name: host, IsNotFound: true}
	}
	return f.nd.DialContext(ctx, network, net.JoinHostPort(addrs[0].Unmap().String(), port))
}
