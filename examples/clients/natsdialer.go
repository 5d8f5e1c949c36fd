package clients

import (
	"context"
	"net"
	"time"

	"github.com/dialguard/dialguard/dialer"
)

// NATSDialer lets nats.go dial through dialguard: it has the method of
// nats.CustomDialer (nats.SetCustomDialer), which takes no context, and
// dials with Dialer on a context derived from Context, bounded by Timeout.
//
// Give nats.Connect a NATSDialer whose Context is the caller's, so that the
// connect ends with it; give a long-lived connection's reconnects one
// whose Context is nil (context.Background) and whose Timeout bounds each
// reconnect's dial. Use it with nats.SkipHostLookup, or nats.go resolves
// the name itself, with the system resolver, and dials the addresses one
// by one, and dialguard sees only IP literals.
type NATSDialer struct {
	// Dialer dials. It must not be nil.
	Dialer *dialer.Dialer
	// Context, if not nil, bounds every dial; nil means
	// context.Background().
	Context context.Context
	// Timeout, if positive, bounds each dial on top of Context; zero
	// or negative leaves the bound to Context and to the Dialer's own
	// WithTimeout (30 s by default).
	Timeout time.Duration
}

// Dial dials address on network through n.Dialer.
func (n NATSDialer) Dial(network, address string) (net.Conn, error) {
	ctx := n.Context
	if ctx == nil {
		ctx = context.Background()
	}
	if n.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, n.Timeout)
		defer cancel()
	}
	return n.Dialer.DialContext(ctx, network, address)
}
