package dialer

import (
	"net/netip"

	"github.com/dialguard/dialguard/breaker"
)

// DestinationState returns the breaker state and counts of a destination,
// given as it is dialled ("host:port"; host names lower-cased). The second
// result is false when the dialer holds no breaker for it (never dialled,
// forgotten, or breakers off).
func (d *Dialer) DestinationState(destination string) (breaker.Snapshot, bool) {
	if d.destBreakers == nil {
		return breaker.Snapshot{}, false
	}
	if t, err := parseTarget("tcp", destination); err == nil {
		destination = t.key
	}
	return d.destBreakers.Snapshot(destination)
}

// AddressState returns the breaker state and counts of one address. The
// second result is false when the dialer holds no breaker for it. An
// address dialled as an IP literal has one breaker, its destination's, and
// AddressState reports that one.
func (d *Dialer) AddressState(addr netip.AddrPort) (breaker.Snapshot, bool) {
	if d.addrBreakers == nil {
		return breaker.Snapshot{}, false
	}
	if s, ok := d.addrBreakers.Snapshot(addr.String()); ok {
		return s, true
	}
	return d.destBreakers.Snapshot(addr.String())
}
