package dialer

import (
	"crypto/tls"
	"net"
	"net/netip"
	"strconv"
	"strings"
)

// family selects which address families a network may use.
type family uint8

const (
	familyAny family = iota // "tcp"
	family4                 // "tcp4"
	family6                 // "tcp6"
)

// target is a validated dial request: what the caller asked for, checked
// before any I/O.
type target struct {
	network string // as given: "tcp", "tcp4", "tcp6"
	family  family
	host    string     // host name, or the literal as given
	ip      netip.Addr // valid when host is an IP literal
	port    uint16
	key     string // the destination: host:port as asked, host lower-cased
	// service is the port as a service name ("http"), to be looked up
	// (service.go); port and key are set once it is.
	service string

	// tls, set by DialTLSContext, is the configuration of the TLS handshake
	// that each attempt makes after TCP connects (tls.go).
	tls *tls.Config
}

// parseTarget validates a tcp dial request. Errors are the standard
// library's types (*net.AddrError, net.UnknownNetworkError) so callers
// branching on them keep working.
func parseTarget(network, address string) (target, error) {
	t := target{network: network}
	switch network {
	case "tcp":
		t.family = familyAny
	case "tcp4":
		t.family = family4
	case "tcp6":
		t.family = family6
	default:
		return t, net.UnknownNetworkError(network)
	}
	if address == "" {
		return t, &net.AddrError{Err: "missing address", Addr: address}
	}
	host, portText, err := net.SplitHostPort(address)
	if err != nil {
		return t, err // already a *net.AddrError naming the problem
	}
	port, service, err := parsePort(portText, address)
	if err != nil {
		return t, err
	}
	t.port, t.service = port, service
	if host == "" {
		// ":port" is the local system, as in net.Dialer: it dials the
		// unspecified address (0.0.0.0 for "tcp" and "tcp4", :: for "tcp6"),
		// which the kernel connects to its own loopback address.
		host = "0.0.0.0"
		if t.family == family6 {
			host = "::"
		}
	}
	if ip, ok := parseLiteral(host); ok {
		ip = ip.Unmap()
		if (t.family == family4 && !ip.Is4()) || (t.family == family6 && !ip.Is6()) {
			return t, &net.AddrError{Err: "address family does not match network " + network, Addr: host}
		}
		t.ip, t.host = ip, host
		if service == "" {
			t.key = canonicalKey(netip.AddrPortFrom(ip, port), address)
		}
		return t, nil
	}
	if !validHostName(host) {
		return t, &net.AddrError{Err: "invalid host name", Addr: host}
	}
	t.host = strings.ToLower(host)
	if service != "" {
		return t, nil
	}
	t.key = address // already host:port when the name is lower case
	if len(address) != len(t.host)+1+len(portText) || address[:len(t.host)] != t.host {
		t.key = net.JoinHostPort(t.host, portText)
	}
	return t, nil
}

// setPort sets the port a service name resolved to, and the key with it:
// "host:http" and "host:80" are one destination.
func (t *target) setPort(port uint16) {
	t.port, t.service = port, ""
	if t.ip.IsValid() {
		t.key = canonicalKey(netip.AddrPortFrom(t.ip, port), "")
		return
	}
	t.key = net.JoinHostPort(t.host, strconv.Itoa(int(port)))
}

// parseLiteral parses host as an IP address, without the cost of
// netip.ParseAddr's error value for what cannot be one: a name's dial is
// counted in allocations too. An IP literal has a colon (IPv6) or only
// digits and dots (IPv4).
func parseLiteral(host string) (netip.Addr, bool) {
	if strings.IndexByte(host, ':') < 0 && strings.Trim(host, "0123456789.") != "" {
		return netip.Addr{}, false
	}
	ip, err := netip.ParseAddr(host)
	return ip, err == nil
}

// parsePort accepts what net.Dialer does: a decimal port 0-65535 (port 0
// is dialled as given, and the connect fails as it does in net), or a
// service name ("http"), returned for lookup (service.go).
func parsePort(text, address string) (port uint16, service string, err error) {
	if text == "" {
		return 0, "", &net.AddrError{Err: "missing port in address", Addr: address}
	}
	if strings.Trim(text, "+-0123456789") == "" {
		// A number, or meant to be one: net reports "invalid port" for
		// the port alone, and so does this.
		n, err := strconv.ParseUint(text, 10, 32)
		if err != nil || n > 65535 {
			return 0, "", &net.AddrError{Err: "invalid port", Addr: text}
		}
		return uint16(n), "", nil
	}
	if !validServiceName(text) {
		return 0, "", &net.AddrError{Err: "unknown port", Addr: text}
	}
	return 0, text, nil
}

// validServiceName checks the shape of a service name (RFC 6335 section
// 5.1: 1-15 letters, digits and hyphens, at least one letter, no hyphen at
// either end or twice in a row), so that garbage fails before any lookup.
func validServiceName(s string) bool {
	if len(s) == 0 || len(s) > 15 || s[0] == '-' || s[len(s)-1] == '-' || strings.Contains(s, "--") {
		return false
	}
	letter := false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z':
			letter = true
		case c >= '0' && c <= '9', c == '-':
		default:
			return false
		}
	}
	return letter
}

// validHostName checks the shape of a DNS name (RFC 1123 labels; underscores
// allowed, as real names use them), so that garbage fails here rather than
// as a lookup.
func validHostName(host string) bool {
	name := strings.TrimSuffix(host, ".")
	if name == "" || len(name) > 253 {
		return false
	}
	labelLen := 0
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c == '.':
			if labelLen == 0 || name[i-1] == '-' {
				return false // an empty label, or one that ends with a hyphen
			}
			labelLen = 0
			continue
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '_':
		case c == '-':
			if labelLen == 0 {
				return false
			}
		default:
			return false
		}
		labelLen++
		if labelLen > 63 {
			return false
		}
	}
	return name[len(name)-1] != '-'
}

// passThroughNetwork reports whether network is one the standard library
// dials that dialguard hands to net.Dialer with only the deadline applied.
func passThroughNetwork(network string) bool {
	switch network {
	case "udp", "udp4", "udp6", "unix", "unixgram", "unixpacket":
		return true
	}
	for _, prefix := range []string{"ip:", "ip4:", "ip6:"} {
		if strings.HasPrefix(network, prefix) && len(network) > len(prefix) {
			return true
		}
	}
	return false
}

// familyName is the value of the "family" log field.
func familyName(a netip.Addr) string {
	if a.Is4() {
		return "ipv4"
	}
	return "ipv6"
}

// canonicalKey is the destination key of an IP literal: its canonical
// ip:port, so that "[::ffff:127.0.0.1]:80", "127.0.0.1:80" and "[0::1]:80"
// versus "[::1]:80" share one breaker and one admission queue. The caller's
// text is reused when it already is canonical, which spares an allocation
// on the common path.
func canonicalKey(ap netip.AddrPort, address string) string {
	var buf [64]byte
	b := ap.AppendTo(buf[:0])
	if string(b) == address {
		return address
	}
	return string(b)
}
