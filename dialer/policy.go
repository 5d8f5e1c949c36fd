package dialer

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"syscall"
	"time"
)

// Policy says which addresses a Dialer may connect to. It is checked on
// every resolved address before it is raced (the family that answers late
// included), and again on the socket's actual remote address just before
// connect, in net.Dialer's Control hook: every socket the Dialer opens
// passes that second check, the networks handed through to net.Dialer
// (udp, ip4:proto, ...) included, so no path reaches a denied address.
//
// IPv4-mapped IPv6 addresses (::ffff:127.0.0.1) are judged as the IPv4
// address they carry, and so are prefixes written in that form
// (::ffff:127.0.0.0/104 is 127.0.0.0/8). An IPv6 address that carries an
// IPv4 address a gateway, relay or translator forwards to (IPv4-compatible
// ::a.b.c.d, SIIT ::ffff:0:a.b.c.d, NAT64 64:ff9b::a.b.c.d, 6to4, Teredo,
// ISATAP interface ids) is denied if that IPv4 address is: Deny judges
// every address a connection would reach. Allow is matched by the address
// dialled only: allowing 203.0.113.0/24 does not allow the 6to4 or NAT64
// forms of it (allow their IPv6 prefixes for that).
//
// Deny wins over Allow. An empty Allow allows everything not denied.
type Policy struct {
	// Allow, if not empty, lists the only prefixes that may be dialled.
	Allow []netip.Prefix
	// Deny lists prefixes that are never dialled.
	Deny []netip.Prefix

	// DenyLocal, if true, also denies this host's own addresses: every
	// address of its network interfaces (net.InterfaceAddrs), public ones
	// included, which reach any listener bound to the wildcard address
	// (0.0.0.0 or ::). Internal() cannot list them, as they are the host's
	// own. The list is read when the policy is first checked and read
	// again, on a check, once it is older than LocalRefresh; no goroutine
	// runs for it. If the interfaces cannot be read and no list has been
	// read yet, every address is denied (the policy fails closed).
	DenyLocal bool
	// LocalRefresh is how old the list of this host's addresses may grow
	// before a check reads it again: an address the host gains is denied
	// within LocalRefresh. If zero, DefaultLocalRefresh (5 s) is used.
	// Negative is invalid. It has no effect without DenyLocal.
	LocalRefresh time.Duration

	// local holds this host's addresses for DenyLocal (policy_local.go);
	// set by WithPolicy.
	local *localAddrs
}

// DefaultLocalRefresh is how old Policy.DenyLocal's list of this host's
// addresses may grow before it is read again: reading the interfaces costs
// a netlink round trip, and a host gains addresses rarely.
const DefaultLocalRefresh = 5 * time.Second

// Internal lists the prefixes a service that dials user-supplied addresses
// should usually deny: unspecified, loopback, private (RFC 1918, RFC 4193),
// carrier-grade NAT, link-local (which holds the cloud metadata address
// 169.254.169.254) and the deprecated site-local fec0::/10, AWS's IPv6
// metadata address, IETF protocol assignments (192.0.0.0/24, 2001::/23,
// which holds Teredo 2001::/32), benchmarking, documentation (192.0.2.0/24,
// 198.51.100.0/24, 203.0.113.0/24, 2001:db8::/32, 3fff::/20), reserved and
// multicast ranges, the broadcast address, and the IPv6 prefixes that
// embed an IPv4 address a gateway may forward to (IPv4-compatible ::/96,
// SIIT ::ffff:0:0:0/96, NAT64 64:ff9b::/96 and 64:ff9b:1::/48, 6to4
// 2002::/16), so that an internal IPv4 address cannot be reached through
// them. Use it as Policy{Deny: dialer.Internal()}.
//
// What it cannot know: this host's own public addresses (see
// Policy.DenyLocal), public addresses your own network uses internally,
// and a NAT64 prefix your network chose (deny it yourself).
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
		netip.MustParsePrefix("192.0.2.0/24"),
		netip.MustParsePrefix("198.18.0.0/15"),
		netip.MustParsePrefix("198.51.100.0/24"),
		netip.MustParsePrefix("203.0.113.0/24"),
		netip.MustParsePrefix("224.0.0.0/4"),
		netip.MustParsePrefix("240.0.0.0/4"),
		netip.MustParsePrefix("255.255.255.255/32"),
		netip.MustParsePrefix("::/128"),
		netip.MustParsePrefix("::1/128"),
		netip.MustParsePrefix("::/96"),
		netip.MustParsePrefix("::ffff:0:0:0/96"),
		netip.MustParsePrefix("fc00::/7"),
		netip.MustParsePrefix("fe80::/10"),
		netip.MustParsePrefix("fec0::/10"),
		netip.MustParsePrefix("fd00:ec2::254/128"),
		netip.MustParsePrefix("ff00::/8"),
		netip.MustParsePrefix("64:ff9b::/96"),
		netip.MustParsePrefix("64:ff9b:1::/48"),
		netip.MustParsePrefix("2001::/32"),
		netip.MustParsePrefix("2001::/23"),
		netip.MustParsePrefix("2001:db8::/32"),
		netip.MustParsePrefix("3fff::/20"),
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
	// Rule is the Deny prefix that matched (a single address, /32 or
	// /128, for one of this host's own addresses under DenyLocal); zero
	// when the address was refused for matching no Allow prefix.
	Rule netip.Prefix
	// Carried is the IPv4 address that Addr carries (NAT64, 6to4, Teredo,
	// ...) and that Rule matched; zero when Rule matched Addr itself.
	Carried netip.Addr
	// Local is whether Rule is one of this host's own addresses
	// (Policy.DenyLocal).
	Local bool
	// Err, if not nil, is why the policy could not judge the address: this
	// host's addresses could not be read (DenyLocal fails closed).
	Err error
}

// Error names the address and the rule that refused it.
func (e *DeniedError) Error() string {
	var what string
	switch {
	case e.Err != nil:
		return fmt.Sprintf("%v denied by policy: %v", e.Addr, e.Err)
	case e.Local:
		what = fmt.Sprintf("denied by policy: %v is an address of this host", e.Rule.Addr())
	case e.Rule.IsValid():
		what = fmt.Sprintf("denied by policy rule deny %v", e.Rule)
	default:
		return fmt.Sprintf("%v denied by policy: not in any allowed prefix", e.Addr)
	}
	if e.Carried.IsValid() {
		return fmt.Sprintf("%v %s (it carries %v)", e.Addr, what, e.Carried)
	}
	return fmt.Sprintf("%v %s", e.Addr, what)
}

// Is makes errors.Is(err, ErrDenied) true.
func (e *DeniedError) Is(target error) bool { return target == ErrDenied }

// Unwrap returns Err.
func (e *DeniedError) Unwrap() error { return e.Err }

// WithPolicy restricts the addresses the Dialer connects to; see Policy. By
// default every address may be dialled. Invalid prefixes and a negative
// LocalRefresh are an error; prefixes written in IPv4-mapped form
// (::ffff:10.0.0.0/104) are taken as the IPv4 prefix they stand for.
func WithPolicy(p Policy) Option {
	return func(c *config) error {
		var sets [2][]netip.Prefix
		for i, set := range [][]netip.Prefix{p.Allow, p.Deny} {
			for _, pr := range set {
				if !pr.IsValid() {
					return optionError("WithPolicy", "invalid prefix %v", pr)
				}
				sets[i] = append(sets[i], normalPrefix(pr))
			}
		}
		if p.LocalRefresh < 0 {
			return optionError("WithPolicy", "negative LocalRefresh %v", p.LocalRefresh)
		}
		p.Allow, p.Deny = sets[0], sets[1]
		p.local = nil
		if p.DenyLocal {
			p.local = newLocalAddrs(cmp.Or(p.LocalRefresh, DefaultLocalRefresh))
		}
		c.policy = &p
		return nil
	}
}

// normalPrefix returns pr masked, and a prefix inside ::ffff:0:0/96 as the
// IPv4 prefix it stands for: addresses are judged unmapped, so a mapped
// prefix as written would match nothing.
func normalPrefix(pr netip.Prefix) netip.Prefix {
	pr = pr.Masked()
	if a := pr.Addr(); a.Is4In6() && pr.Bits() >= 96 {
		return netip.PrefixFrom(a.Unmap(), pr.Bits()-96)
	}
	return pr
}

// check returns a *DeniedError if a may not be dialled, else nil.
func (p *Policy) check(a netip.AddrPort) error {
	if p == nil {
		return nil
	}
	ip := a.Addr().Unmap().WithZone("")
	a = netip.AddrPortFrom(ip, a.Port())
	var carried [maxCarried]netip.Addr
	n := carriedIPv4(ip, &carried)
	for _, pr := range p.Deny {
		if pr.Contains(ip) {
			return &DeniedError{Addr: a, Rule: pr}
		}
		for _, v4 := range carried[:n] {
			if pr.Contains(v4) {
				return &DeniedError{Addr: a, Rule: pr, Carried: v4}
			}
		}
	}
	if p.local != nil {
		if err := p.local.check(a, carried[:n]); err != nil {
			return err
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
