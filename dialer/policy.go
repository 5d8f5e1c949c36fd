package dialer

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"syscall"
)

// Policy says which addresses a Dialer may connect to. It is checked on
// every resolved address before it is raced (the family that answers late
// included), and again on the socket's actual remote address just before
// connect, in net.Dialer's Control hook: every socket the Dialer opens
// passes that second check, the networks handed through to net.Dialer
// (udp, ip4:proto, ...) included, so no path reaches a denied address.
// IPv4-mapped IPv6 addresses (::ffff:127.0.0.1) are judged as the IPv4
// address they carry.
//
// Deny wins over Allow. An empty Allow allows everything not denied.
type Policy struct {
	// Allow, if not empty, lists the only prefixes that may be dialled.
	Allow []netip.Prefix
	// Deny lists prefixes that are never dialled.
	Deny []netip.Prefix
}

// Internal lists the prefixes a service that dials user-supplied addresses
// should usually deny: unspecified, loopback, private (RFC 1918, RFC 4193),
// carrier-grade NAT, link-local (which holds the cloud metadata address
// 169.254.169.254), AWS's IPv6 metadata address, IETF protocol
// assignments, benchmarking, reserved and multicast ranges, the broadcast
// address, and the IPv6 prefixes that embed an IPv4 address a gateway may
// forward to (NAT64 64:ff9b::/96 and 64:ff9b:1::/48, 6to4 2002::/16), so
// that an internal IPv4 address cannot be reached through them. Use it as
// Policy{Deny: dialer.Internal()}.
func Internal() []netip.Prefix {
	return []netip.Prefix{
		netip.MustParsePrefix("0.0.0.0/8"),
		netip.MustParsePrefix("127.0.0.0/8"),
		netip.MustParsePrefix("10.0.0.0/8"),
		netip.MustParsePrefix("172.16.0.0/12"),
		netip.MustParsePrefix("192.168.0.0/16"),
		netip.MustParsePrefix("100.64.0.0/10"),
		netip.MustParsePrefix("169.254.0.0/16"),
		netip.MustParsePrefix("192.0.0.0/24"),
		netip.MustParsePrefix("198.18.0.0/15"),
		netip.MustParsePrefix("224.0.0.0/4"),
		netip.MustParsePrefix("240.0.0.0/4"),
		netip.MustParsePrefix("255.255.255.255/32"),
		netip.MustParsePrefix("::/128"),
		netip.MustParsePrefix("::1/128"),
		netip.MustParsePrefix("fc00::/7"),
		netip.MustParsePrefix("fe80::/10"),
		netip.MustParsePrefix("fd00:ec2::254/128"),
		netip.MustParsePrefix("ff00::/8"),
		netip.MustParsePrefix("64:ff9b::/96"),
		netip.MustParsePrefix("64:ff9b:1::/48"),
		netip.MustParsePrefix("2002::/16"),
	}
}

// ErrDenied is the cause of a dial refused by the Policy; the error also
// holds a *DeniedError naming the address and the rule.
var ErrDenied = errors.New("dialguard: address denied by policy")

// DeniedError says which address the Policy refused and why.
type DeniedError struct {
	// Addr is the address refused (IPv4-mapped addresses unmapped).
	Addr netip.AddrPort
	// Rule is the Deny prefix that matched; zero when the address was
	// refused for matching no Allow prefix.
	Rule netip.Prefix
}

// Error names the address and the rule that refused it.
func (e *DeniedError) Error() string {
	if e.Rule.IsValid() {
		return fmt.Sprintf("%v denied by policy rule deny %v", e.Addr, e.Rule)
	}
	return fmt.Sprintf("%v denied by policy: not in any allowed prefix", e.Addr)
}

// Is makes errors.Is(err, ErrDenied) true.
func (e *DeniedError) Is(target error) bool { return target == ErrDenied }

// WithPolicy restricts the addresses the Dialer connects to; see Policy. By
// default every address may be dialled. Invalid prefixes are an error.
func WithPolicy(p Policy) Option {
	return func(c *config) error {
		for _, set := range [][]netip.Prefix{p.Allow, p.Deny} {
			for _, pr := range set {
				if !pr.IsValid() {
					return optionError("WithPolicy", "invalid prefix %v", pr)
				}
			}
		}
		p.Allow = append([]netip.Prefix(nil), p.Allow...)
		p.Deny = append([]netip.Prefix(nil), p.Deny...)
		c.policy = &p
		return nil
	}
}

// check returns a *DeniedError if a may not be dialled, else nil.
func (p *Policy) check(a netip.AddrPort) error {
	if p == nil {
		return nil
	}
	ip := a.Addr().Unmap().WithZone("")
	a = netip.AddrPortFrom(ip, a.Port())
	for _, pr := range p.Deny {
		if pr.Contains(ip) {
			return &DeniedError{Addr: a, Rule: pr}
		}
	}
	if len(p.Allow) == 0 {
		return nil
	}
	for _, pr := range p.Allow {
		if pr.Contains(ip) {
			return nil
		}
	}
	return &DeniedError{Addr: a}
}

// guardControl wraps the net.Dialer's Control hook so that the socket's
// actual remote address is checked just before connect.
func (p *Policy) guardControl(next func(ctx context.Context, network, address string, c syscall.RawConn) error) func(ctx context.Context, network, address string, c syscall.RawConn) error {
	return func(ctx context.Context, network, address string, c syscall.RawConn) error {
		if strings.HasPrefix(network, "unix") { // a path, not an address
			return callControl(next, ctx, network, address, c)
		}
		a, err := netip.ParseAddrPort(address)
		if err != nil {
			// Raw IP networks (ip4:icmp, ...) have no port.
			ip, ipErr := netip.ParseAddr(address)
			if ipErr != nil {
				return fmt.Errorf("%w: cannot judge address %q", ErrDenied, address)
			}
			a = netip.AddrPortFrom(ip, 0)
		}
		if err := p.check(a); err != nil {
			return err
		}
		return callControl(next, ctx, network, address, c)
	}
}

func callControl(next func(context.Context, string, string, syscall.RawConn) error, ctx context.Context, network, address string, c syscall.RawConn) error {
	if next == nil {
		return nil
	}
	return next(ctx, network, address, c)
}
