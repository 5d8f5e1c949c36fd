package dialer

import "net/netip"

// maxCarried is the most IPv4 addresses one IPv6 address is read to carry:
// a Teredo address carries two (server and client), and its interface id
// may also look like ISATAP's.
const maxCarried = 3

// carriedIPv4 returns the IPv4 addresses an IPv6 address carries in a form
// that a gateway, relay or translator forwards to: packets sent to the
// IPv6 address end up at (or are tunnelled to) the IPv4 one, so a policy
// that denies the IPv4 address must deny these forms too. The forms are
//
//   - IPv4-compatible (::a.b.c.d, ::/96; RFC 4291 2.5.5.1, deprecated, but
//     a host with automatic tunnelling still sends them to a.b.c.d);
//   - SIIT IPv4-translated (::ffff:0:a.b.c.d, ::ffff:0:0:0/96; RFC 7915);
//   - NAT64 with the well-known prefix (64:ff9b::a.b.c.d, 64:ff9b::/96;
//     RFC 6052; the local-use 64:ff9b:1::/48 embeds where its operator
//     chooses, so only its prefix can be judged);
//   - 6to4 (2002:AABB:CCDD::/48 carries the router AA.BB.CC.DD; RFC 3056);
//   - Teredo (2001:0::/32; RFC 4380 section 4: bits 32-63 are the Teredo
//     server's IPv4 address, and the last 32 bits the client's public
//     (NAT-mapped) IPv4 address with every bit inverted. A relay sends the
//     traffic to the client's address, and may reach the server first, so
//     both are judged);
//   - ISATAP interface ids (any /64 followed by 0000:5efe:a.b.c.d, or
//     0200:5efe:a.b.c.d for a global a.b.c.d; RFC 5214 6.1): the ISATAP
//     link tunnels to a.b.c.d.
//
// ip must be unmapped (IPv4-mapped addresses are judged as IPv4 already).
// It returns how many addresses it wrote to out.
func carriedIPv4(ip netip.Addr, out *[maxCarried]netip.Addr) int {
	if !ip.Is6() {
		return 0
	}
	b := ip.As16()
	v4 := func(i int) netip.Addr { return netip.AddrFrom4([4]byte{b[i], b[i+1], b[i+2], b[i+3]}) }
	n := 0
	switch {
	case zero(b[:12]): // ::a.b.c.d
		out[n] = v4(12)
		n++
	case zero(b[:8]) && b[8] == 0xff && b[9] == 0xff && b[10] == 0 && b[11] == 0: // ::ffff:0:a.b.c.d
		out[n] = v4(12)
		n++
	case b[0] == 0x00 && b[1] == 0x64 && b[2] == 0xff && b[3] == 0x9b && zero(b[4:12]): // 64:ff9b::a.b.c.d
		out[n] = v4(12)
		n++
	case b[0] == 0x20 && b[1] == 0x02: // 2002:AABB:CCDD::
		out[n] = v4(2)
		n++
	case b[0] == 0x20 && b[1] == 0x01 && b[2] == 0 && b[3] == 0: // 2001:0:SSSS:SSSS:flags:port:CCCC:CCCC
		out[n] = v4(4)
		out[n+1] = netip.AddrFrom4([4]byte{^b[12], ^b[13], ^b[14], ^b[15]})
		n += 2
	}
	if (b[8] == 0x00 || b[8] == 0x02) && b[9] == 0 && b[10] == 0x5e && b[11] == 0xfe { // ...:0[2]00:5efe:a.b.c.d
		out[n] = v4(12)
		n++
	}
	return n
}

func zero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}
