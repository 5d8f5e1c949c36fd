package clients_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/dialguard/dialguard/dialer"
	"github.com/dialguard/dialguard/examples/clients"
)

// natsOptions is the README's nats.go recipe: nats.go hands the name to
// dialguard (SkipHostLookup) through a NATSDialer, and reconnects often,
// since each reconnect dial fails at once while dialguard's breaker is
// open.
func natsOptions(nd clients.NATSDialer) []nats.Option {
	return []nats.Option{
		nats.SkipHostLookup(),
		nats.SetCustomDialer(nd),
		// The connect handshake's bound (default 2 s).
		nats.Timeout(opTimeout),
		// Reconnect for ever, every 50 ms (default: 60 times, 2 s apart
		// plus up to 100 ms of jitter).
		nats.MaxReconnects(-1),
		nats.ReconnectWait(50 * time.Millisecond),
		nats.ReconnectJitter(10*time.Millisecond, 10*time.Millisecond),
		// Publishes fail at once while disconnected instead of being
		// buffered (default: 8 MB buffered, flushed after reconnecting).
		nats.ReconnectBufSize(-1),
	}
}

// natsConn is a long-lived nats.Conn with the guard of the README's
// recipe: while nats.go reconnects, a Flush or a Request waits for the
// reconnect until its deadline (nats.go queues it), so ping fails at once
// instead, with the reconnect's last dial error, which keeps dialguard's
// error.
type natsConn struct {
	nc *nats.Conn

	mu      sync.Mutex
	lastErr error // of the last failed reconnect
}

// dialNATS connects to address for a long-lived connection.
func dialNATS(d *dialer.Dialer, address string) (*natsConn, error) {
	c := &natsConn{}
	opts := append(natsOptions(clients.NATSDialer{Dialer: d, Timeout: opTimeout}),
		nats.ReconnectErrHandler(func(_ *nats.Conn, err error) {
			c.mu.Lock()
			c.lastErr = err
			c.mu.Unlock()
		}))
	nc, err := nats.Connect("nats://"+address, opts...)
	if err != nil {
		return nil, err
	}
	c.nc = nc
	return c, nil
}

// ping makes a round trip to the server, failing at once while the
// connection is down.
func (c *natsConn) ping(ctx context.Context) error {
	if !c.nc.IsConnected() {
		c.mu.Lock()
		err := c.lastErr
		c.mu.Unlock()
		if err == nil {
			return fmt.Errorf("nats: %v", c.nc.Status())
		}
		return fmt.Errorf("nats: %v: %w", c.nc.Status(), err)
	}
	return c.nc.FlushWithContext(ctx)
}

// TestNATS puts nats.go, against nats-server, through the incident, an
// outage and a recovery: a connection per operation in the incident, one
// long-lived connection shared by the outage's callers.
func TestNATS(t *testing.T) {
	var shared *natsConn
	runScenario(t, subject{
		server: newNATSServer(t),
		fresh: func(ctx context.Context, d *dialer.Dialer, address string) error {
			// nats.Connect takes no context: the dialer carries the
			// caller's.
			opts := append(natsOptions(clients.NATSDialer{Dialer: d, Context: ctx}), nats.NoReconnect())
			nc, err := nats.Connect("nats://"+address, opts...)
			if err != nil {
				return err
			}
			defer nc.Close()
			return nc.FlushWithContext(ctx)
		},
		shared: func(d *dialer.Dialer, address string) (func(context.Context) error, func(), error) {
			c, err := dialNATS(d, address)
			if err != nil {
				return nil, nil, err
			}
			shared = c
			return c.ping, c.nc.Close, nil
		},
		duringOutage: func(t *testing.T) {
			// Without the guard: a Flush waits out its deadline.
			const deadline = 300 * time.Millisecond
			ctx, cancel := context.WithTimeout(context.Background(), deadline)
			defer cancel()
			start := time.Now()
			err := shared.nc.FlushWithContext(ctx)
			el := time.Since(start)
			t.Logf("nats: an unguarded Flush during the reconnects returned after %v: %v", el.Round(time.Millisecond), err)
			if !errors.Is(err, context.DeadlineExceeded) || el < deadline {
				t.Errorf("an unguarded Flush during the reconnects returned %v after %v; the README says it waits out its %v deadline", err, el, deadline)
			}
		},
		circuitOpen: func(err error) bool { return errors.Is(err, dialer.ErrCircuitOpen) },
	})
}
