package dialtest

import (
	"fmt"
	"net/netip"
)

// parseLoopback parses address ("ip:port") and checks that the IP is a
// loopback address (127.0.0.0/8 or ::1): the helpers never touch anything else.
func parseLoopback(address string) (netip.AddrPort, error) {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("dialtest: %w", err)
	}
	if !ap.Addr().IsLoopback() || ap.Addr().Zone() != "" {
		return netip.AddrPort{}, fmt.Errorf("dialtest: %s is not a loopback address", address)
	}
	return ap, nil
}
