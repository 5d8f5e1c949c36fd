package dialer

import (
	"net/netip"
	"time"
)

// order turns resolved addresses into the race's schedule (RFC 8305
// section 4): families interleaved, starting with the family of the first
// answer and taking one address of it (First Address Family Count 1); then
// the address that won last time moves to the front and addresses that
// stalled recently move to the back, so the incident's stalled ::1 is not
// paid for again; then the list is capped at MaxAddresses.
func (d *Dialer) order(addrs []netip.Addr, port uint16, dst *destination, now time.Time) []netip.AddrPort {
	out := make([]netip.AddrPort, 0, len(addrs))
	out = interleave(out, addrs, port)
	out = dst.arrange(out, now, d.cfg.memoryTTL)
	if len(out) > d.cfg.maxAddresses {
		out = out[:d.cfg.maxAddresses]
	}
	return out
}

// interleave appends addrs to out alternating families, starting with the
// family of addrs[0], dropping duplicates.
func interleave(out []netip.AddrPort, addrs []netip.Addr, port uint16) []netip.AddrPort {
	var first, second []netip.Addr
	for _, a := range addrs {
		if a.Is4() == addrs[0].Is4() {
			first = append(first, a)
		} else {
			second = append(second, a)
		}
	}
	seen := make(map[netip.Addr]struct{}, len(addrs))
	add := func(a netip.Addr) {
		if _, dup := seen[a]; !dup {
			seen[a] = struct{}{}
			out = append(out, netip.AddrPortFrom(a, port))
		}
	}
	for i := 0; i < len(first) || i < len(second); i++ {
		if i < len(first) {
			add(first[i])
		}
		if i < len(second) {
			add(second[i])
		}
	}
	return out
}

// mergeLate adds the family that answered after the race began (RFC 8305
// section 3) to the addresses not yet tried, alternating with them and
// starting with the newcomers, since the race so far used the other family.
// A newcomer already pending or tried (the same address in both answers,
// once unmapped) is left out: no address is dialled twice for being in
// both answers. The memory then arranges the list (as order does) and it
// is cut to room, what the race may still start (MaxAddresses less the
// attempts made).
//
// It runs in the dialing goroutine, so its cost is bounded by the lists'
// lengths, whatever the resolver answered: one pass over each, with a set
// of the few addresses already in the race.
func (d *Dialer) mergeLate(pending, tried []netip.AddrPort, late []netip.Addr, port uint16, dst *destination, now time.Time, room int) []netip.AddrPort {
	if room <= 0 {
		return nil
	}
	seen := make(map[netip.AddrPort]struct{}, len(pending)+len(tried))
	for _, a := range pending {
		seen[a] = struct{}{}
	}
	for _, a := range tried {
		seen[a] = struct{}{}
	}
	out := make([]netip.AddrPort, 0, len(pending)+len(late))
	for i := 0; i < len(late) || i < len(pending); i++ {
		if i < len(late) {
			if ap := netip.AddrPortFrom(late[i], port); !contains(seen, ap) {
				out = append(out, ap)
			}
		}
		if i < len(pending) {
			out = append(out, pending[i])
		}
	}
	out = dst.arrange(out, now, d.cfg.memoryTTL)
	if len(out) > room {
		out = out[:room]
	}
	return out
}

func contains(set map[netip.AddrPort]struct{}, a netip.AddrPort) bool {
	_, ok := set[a]
	return ok
}
