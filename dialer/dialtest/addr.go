package dialtest

import (
	"fmt"
	"net/netip"
)

// The benchmarking ranges (RFC 2544 and RFC 5180), which no network routes:
// package netlab gives its far hosts addresses from them, inside network
// namespaces of its own, and puts these endpoints there.
var (
	benchmarking4 = netip.MustParsePrefix("198.18.0.0/15")
	benchmarking6 = netip.MustParsePrefix("2001:2::/48")
)

// parseTestAddr parses address ("ip:port") and checks that the IP is one the
// helpers may use: a loopback address (127.0.0.0/8 or ::1), or an address of
// the benchmarking ranges, where only a lab's namespaced hosts live. The
// helpers never touch anything else.
func parseTestAddr(address string) (netip.AddrPort, error) {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("dialtest: %w", err)
	}
	ip := ap.Addr()
	if ip.Zone() != "" || !(ip.IsLoopback() || benchmarking4.Contains(ip) || benchmarking6.Contains(ip)) {
		return netip.AddrPort{}, fmt.Errorf("dialtest: %s is neither a loopback address nor a lab address (198.18.0.0/15, 2001:2::/48)", address)
	}
	return ap, nil
}
