// Package dialer is a drop-in replacement for net.Dialer that never lets a
// stalled TCP handshake hold its caller.
//
// It exists because of an outage: a client dialing "localhost" got ::1
// first, ::1 never answered the SYN, sockets sat in SYN_SENT and callers
// piled up behind them until the service died, while 127.0.0.1 worked all
// along. net.Dialer falls back to the other family after 300 ms on every
// dial, forever, and without a deadline leaves the kernel's SYN retries (about
// 127 s on Linux) in charge.
//
// A Dialer bounds, races, remembers and refuses:
//
//   - Every dial is bounded by the earlier of the context's deadline and
//     WithTimeout (30 s), retries included.
//   - Every attempt is timed by what the destination's handshakes have
//     shown (timing.go: RFC 6298's smoothed round trip and variation, per
//     address and destination). Past its retransmission timeout it is
//     suspect: the next address starts beside it and admission engages.
//     Past ten of them it is a stall, charged to the breakers: 100 ms for a
//     LAN host, seconds for one 700 ms away, 2 s for an address never seen
//     (so the kernel's SYN retransmission has had its chance), 100 ms on
//     loopback. WithAttemptDelay and WithAttemptTimeout fix either value.
//   - AAAA and A are resolved concurrently and the addresses raced as RFC
//     8305 (Happy Eyeballs v2) describes: families interleaved, the next
//     address started once the running one is suspect (the Connection
//     Attempt Delay, from history as section 5 recommends) or at once when
//     it fails; the first connection wins, the others
//     are cancelled and late winners closed. A name whose addresses are all
//     of one family, the other family answering "none" within the
//     Resolution Delay (50 ms), is asked for both families in one lookup on
//     later dials, as net.Dialer does, which costs the standard resolver
//     less and delays nothing there; the lookup gets the Resolution Delay
//     and no more, and a resolver that turns slow is asked per family again.
//   - The address that won is remembered per destination, and addresses
//     that stalled are tried last, so only the first dial of the incident
//     pays the attempt delay; IPv6 failing beside a working IPv4 at several
//     destinations makes new ones race IPv4 first (family.go).
//   - Failures a retry can fix are retried with exponential backoff and
//     jitter (github.com/cenkalti/backoff/v4), within the deadline and a
//     per-destination retry budget.
//   - Circuit breakers per destination and per address
//     (github.com/sony/gobreaker, through package breaker) fail callers fast
//     with ErrCircuitOpen once a destination stalls, and admission control
//     keeps a destination that is not answering to a few dials in flight, so
//     a storm of callers does not park a socket each.
//
// The pipeline of one dial, each step in its own file:
//
//	DialContext            dialer.go    validate (target.go), deadline
//	  breaker open?        dialer.go    -> ErrCircuitOpen
//	  admission            destination.go
//	  rounds, retries      retry.go, budget.go
//	    resolve            resolve.go   AAAA and A, RFC 8305 section 3
//	    order              order.go     interleave, memory, section 4
//	    policy             policy.go    allowed and denied prefixes
//	    race               race.go      section 5
//	      attempt          attempt.go   stall bound (timing.go), net.Dialer
//	        handshake      tls.go       DialTLSContext only
//	  record outcomes      ledger.go    breakers; log.go, the observer
//
// DialTLSContext gives the TLS handshake the same protection: it is part of
// each attempt, bounded by WithHandshakeTimeout, and a handshake that stalls
// counts like a TCP stall. WithPolicy keeps dials away from denied prefixes
// (for services that dial user-supplied addresses).
//
// Package dialtest reproduces stalled handshakes on loopback, without root,
// for this package's tests and for its users'.
package dialer
