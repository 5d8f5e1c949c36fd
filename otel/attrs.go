package dialotel

import (
	"net"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/dialguard/dialguard/dialer"
)

// Attribute keys. The first five are OpenTelemetry's general semantic
// conventions (no convention exists for a client's dial yet); the rest are
// this package's.
const (
	keyServerAddress = attribute.Key("server.address")
	keyServerPort    = attribute.Key("server.port")
	keyPeerAddress   = attribute.Key("network.peer.address")
	keyPeerPort      = attribute.Key("network.peer.port")
	keyNetworkType   = attribute.Key("network.type")
	keyErrorType     = attribute.Key("error.type")

	// keyOutcome is how a dial ended (connected, failed, circuit_open) or
	// how an attempt ended (dialer.AttemptOutcome's names).
	keyOutcome = attribute.Key("dialguard.outcome")
	// keyNetwork is the dial's network as asked: tcp, tcp4 or tcp6.
	keyNetwork = attribute.Key("dialguard.network")
	keyTLS     = attribute.Key("dialguard.tls")
	// keyBreakerKind is "destination" or "address"; keyBreakerState the
	// state a breaker moved to, keyBreakerFrom the one it left.
	keyBreakerKind  = attribute.Key("dialguard.breaker.kind")
	keyBreakerState = attribute.Key("dialguard.breaker.state")
	keyBreakerFrom  = attribute.Key("dialguard.breaker.from_state")
)

// Outcomes of a dial, as keyOutcome's values.
const (
	dialConnected   = "connected"
	dialFailed      = "failed"
	dialCircuitOpen = "circuit_open"
)

// serverAttrs are a destination's server.address and server.port.
func serverAttrs(destination string) (attribute.KeyValue, attribute.KeyValue) {
	host, port, err := net.SplitHostPort(destination)
	if err != nil {
		return keyServerAddress.String(destination), keyServerPort.Int(0)
	}
	p, _ := strconv.Atoi(port)
	return keyServerAddress.String(host), keyServerPort.Int(p)
}

// networkType is network.type's value for an address: ipv4 or ipv6 (an
// IPv4-mapped IPv6 address is ipv4, as the socket carries IPv4).
func networkType(a netip.Addr) string {
	if a.Unmap().Is4() {
		return "ipv4"
	}
	return "ipv6"
}

// peerAttrs are an address's network.peer.address, network.peer.port and
// network.type.
func peerAttrs(ap netip.AddrPort) (attribute.KeyValue, attribute.KeyValue, attribute.KeyValue) {
	a := ap.Addr()
	return keyPeerAddress.String(a.Unmap().String()), keyPeerPort.Int(int(ap.Port())), keyNetworkType.String(networkType(a))
}

// maxCachedSets bounds the attribute sets kept for reuse. A client dialing
// more distinct destinations than this builds the sets of the rest on
// every dial: slower, never unbounded.
const maxCachedSets = 4096

// setKey names a cached attribute set: the healthy path's sets depend only
// on the destination, the address (zero for the dial's own) and how it
// ended.
type setKey struct {
	metric      uint8
	destination string
	peer        netip.AddrPort
	outcome     dialer.AttemptOutcome
}

const (
	setDialConnected uint8 = iota
	setAttempt
	setServer
)

// attrCache keeps the attribute sets of successful dials and attempts,
// made into measurement options, so the healthy path neither sorts and
// allocates a set nor boxes an option on every dial. Sets with an
// error.type are built each time: failures are rarer and their error
// types many.
type attrCache struct {
	sets sync.Map // setKey -> *measureOpts
	n    atomic.Int64
}

// measureOpts is one attribute set as the options of a counter's Add and
// a histogram's or gauge's Record: made once, passed as they are.
type measureOpts struct {
	set    attribute.Set
	add    []metric.AddOption
	record []metric.RecordOption
}

func newMeasureOpts(s attribute.Set) *measureOpts {
	o := metric.WithAttributeSet(s)
	return &measureOpts{set: s, add: []metric.AddOption{o}, record: []metric.RecordOption{o}}
}

// get returns the cached options for k, building their set with build if
// they are not cached (and caching them while there is room).
func (c *attrCache) get(k setKey, build func() attribute.Set) *measureOpts {
	if v, ok := c.sets.Load(k); ok {
		return v.(*measureOpts)
	}
	m := newMeasureOpts(build())
	if c.n.Load() < maxCachedSets {
		if _, loaded := c.sets.LoadOrStore(k, m); !loaded {
			c.n.Add(1)
		}
	}
	return m
}
