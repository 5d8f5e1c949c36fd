package dialtest

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"
)

// Host is the table entry of a Resolver: the answers for one name and how
// long they take.
type Host struct {
	IPv6, IPv4 []netip.Addr // the addresses of each family; nil means no records

	// IPv6Delay and IPv4Delay delay the answer of each family. A lookup of
	// "ip" answers after the larger of the two, like a resolver that asks
	// both families in parallel. Zero or negative answers at once. The
	// delay runs on a time.Timer, so it follows the fake clock inside a
	// testing/synctest bubble. If ctx ends first, the lookup returns a
	// *net.DNSError wrapping ctx.Err().
	IPv6Delay, IPv4Delay time.Duration

	// Err, if set, is returned (after the delay) by every lookup of the
	// host, for example a *net.DNSError with IsTemporary set.
	Err error
}

// Resolver is a table-driven fake resolver. Its LookupNetIP has the signature
// of (*net.Resolver).LookupNetIP, so it satisfies an interface made of that
// method. It is safe for concurrent use. Names are matched without regard to
// case or a trailing dot.
type Resolver struct {
	mu      sync.Mutex
	hosts   map[string]Host
	lookups map[string]int
}

// NewResolver returns a Resolver that answers from hosts (which it copies).
// A nil map gives a Resolver that knows no host.
func NewResolver(hosts map[string]Host) *Resolver {
	r := &Resolver{hosts: make(map[string]Host), lookups: make(map[string]int)}
	for name, h := range hosts {
		r.hosts[canonicalName(name)] = h
	}
	return r
}

// Set adds host to the table or replaces its entry. Lookups already waiting
// keep the entry they started with.
func (r *Resolver) Set(host string, h Host) {
	r.mu.Lock()
	r.hosts[canonicalName(host)] = h
	r.mu.Unlock()
}

// Lookups returns the number of LookupNetIP calls for host so far, whatever
// their result.
func (r *Resolver) Lookups(host string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.lookups[canonicalName(host)]
}

// LookupNetIP returns the addresses of host for network "ip6" (IPv6 only),
// "ip4" (IPv4 only) or "ip" (IPv6 first, then IPv4). An unknown host, or a
// known host without addresses of the family asked for, gives a
// *net.DNSError with IsNotFound set, as the standard resolver does; another
// network gives net.UnknownNetworkError.
func (r *Resolver) LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error) {
	name := canonicalName(host)
	r.mu.Lock()
	r.lookups[name]++
	h, ok := r.hosts[name]
	r.mu.Unlock()

	if !ok {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	var delay time.Duration
	var addrs []netip.Addr
	switch network {
	case "ip":
		delay = max(h.IPv6Delay, h.IPv4Delay)
		addrs = append(append(addrs, h.IPv6...), h.IPv4...)
	case "ip6":
		delay = h.IPv6Delay
		addrs = append(addrs, h.IPv6...)
	case "ip4":
		delay = h.IPv4Delay
		addrs = append(addrs, h.IPv4...)
	default:
		return nil, net.UnknownNetworkError(network)
	}
	if err := wait(ctx, delay); err != nil {
		return nil, &net.DNSError{
			UnwrapErr: err,
			Err:       err.Error(),
			Name:      host,
			IsTimeout: errors.Is(err, context.DeadlineExceeded),
		}
	}
	if h.Err != nil {
		return nil, h.Err
	}
	if len(addrs) == 0 {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	return addrs, nil
}

// wait returns nil after d, or ctx.Err() if ctx ends first.
func wait(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// canonicalName lowercases name and removes a trailing dot.
func canonicalName(name string) string {
	return strings.TrimSuffix(strings.ToLower(name), ".")
}
