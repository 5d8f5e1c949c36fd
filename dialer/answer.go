package dialer

import "net/netip"

// The answer rules: what a dial takes from one lookup's answer, the same
// on every network, whatever the resolver says (WithResolver accepts any
// code, and a resolver may lie or be broken):
//
//   - An answer that comes with an error is an error: its addresses are not
//     dialled. That is net.Dialer's rule (its lookups fail whole), and the
//     standard resolver never returns both. On "tcp", where each family is
//     asked on its own, the failed family contributes nothing and the other
//     family's addresses are raced, as net's resolver does when one of its
//     two queries fails.
//   - IPv4-mapped IPv6 addresses (::ffff:127.0.0.2) are the IPv4 address
//     they carry.
//   - Only what the network can reach is kept: IPv4 for "tcp4", IPv6 for
//     "tcp6" (where a mapped address, being IPv4, is left out, as net
//     leaves it out), both for "tcp".
//   - Invalid (zero) addresses are dropped.
//   - Each address is dialled once per dial: duplicates within an answer
//     are dropped here, and across the two families' answers by order and
//     mergeLate.
//
// An answer left with no address is "no suitable address" (noAddress).

// smallAnswer is the length up to which an answer is checked in place,
// without a set: the common answer has one or two addresses.
const smallAnswer = 16

// cleanAnswer applies the answer rules to the addresses of one successful
// lookup for a dial on fam, keeping their order. addrs is not written to
// (it may be the resolver's); an answer already clean, the common case, is
// returned as it is, without allocation. Its cost is linear in the
// answer's length.
func cleanAnswer(addrs []netip.Addr, fam family) []netip.Addr {
	if len(addrs) > smallAnswer {
		return rebuildAnswer(addrs, fam)
	}
	for i, a := range addrs {
		if !clean(a, fam) || indexOf(addrs[:i], a) >= 0 {
			return rebuildAnswer(addrs, fam)
		}
	}
	return addrs
}

// clean reports whether a may be dialled as it is on fam.
func clean(a netip.Addr, fam family) bool {
	return a.IsValid() && !a.Is4In6() && reaches(fam, a)
}

// reaches reports whether a dial on fam can reach the (unmapped) address a.
func reaches(fam family, a netip.Addr) bool {
	switch fam {
	case family4:
		return a.Is4()
	case family6:
		return a.Is6()
	}
	return true
}

// rebuildAnswer is cleanAnswer's copy: unmapped, filtered, de-duplicated.
func rebuildAnswer(addrs []netip.Addr, fam family) []netip.Addr {
	out := make([]netip.Addr, 0, len(addrs))
	var seen map[netip.Addr]struct{}
	if len(addrs) > smallAnswer {
		seen = make(map[netip.Addr]struct{}, len(addrs))
	}
	for _, a := range addrs {
		a = a.Unmap()
		if !a.IsValid() || !reaches(fam, a) {
			continue
		}
		if seen == nil {
			if indexOf(out, a) >= 0 {
				continue
			}
		} else {
			if _, dup := seen[a]; dup {
				continue
			}
			seen[a] = struct{}{}
		}
		out = append(out, a)
	}
	return out
}

func indexOf(list []netip.Addr, a netip.Addr) int {
	for i, b := range list {
		if a == b {
			return i
		}
	}
	return -1
}

// usable applies the answer rules to one lookup's result for a dial on fam.
func usable(addrs []netip.Addr, err error, fam family, host string) ([]netip.Addr, error) {
	if err != nil {
		return nil, err
	}
	if addrs = cleanAnswer(addrs, fam); len(addrs) == 0 {
		return nil, noAddress(host)
	}
	return addrs, nil
}
