package clients_test

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"

	"github.com/dialguard/dialguard/breaker"
	"github.com/dialguard/dialguard/dialer"
	"github.com/dialguard/dialguard/dialer/dialtest"
)

// The bounds of openOutage.
const (
	openWithin = 5 * time.Second // the breaker must open within this
	openedOps  = 3               // operations measured once it is open
)

// openOutage starts srv behind a stalled [::1], makes one operation with
// the client newOp returns (dialling through dialguard), takes the server
// away (its address stalls too), makes operations until dialguard's
// breaker is open, and then returns how long each of openedOps operations
// took, each begun with the breaker open, as their caller saw them.
func openOutage(t *testing.T, srv server, newOp func(d *dialer.Dialer, address string) (func(context.Context) error, func())) []time.Duration {
	t.Helper()
	_, port := startBehindStalled(t, srv)
	t.Cleanup(srv.stop)
	address := net.JoinHostPort(svcName, strconv.Itoa(int(port)))
	d, err := dialer.New(
		dialer.WithResolver(dialtest.NewResolver(map[string]dialtest.Host{svcName: {
			IPv6: []netip.Addr{netip.IPv6Loopback()},
			IPv4: []netip.Addr{netip.AddrFrom4([4]byte{127, 0, 0, 1})},
		}})),
		dialer.WithBreaker(breaker.Settings{OpenTimeout: openTimeout}),
	)
	if err != nil {
		t.Fatal(err)
	}
	op, closeFn := newOp(d, address)
	defer closeFn()
	if _, err := timed(op); err != nil {
		t.Fatalf("before the outage: %v", err)
	}
	srv.stop()
	dialtest.NewStalled(t, v4(port))

	// Its first trip: with a 300 ms open time the breaker is often
	// half-open (probing) when looked at between two 1 s commands.
	state := func() breaker.Snapshot { s, _ := d.DestinationState(address); return s }
	for start := time.Now(); state().Trips == 0; {
		if time.Since(start) > openWithin {
			t.Fatalf("the breaker did not open within %v", openWithin)
		}
		timed(op)
	}
	var els []time.Duration
	for start := time.Now(); len(els) < openedOps && time.Since(start) < openWithin; {
		if state().State != breaker.Open {
			time.Sleep(time.Millisecond) // half-open: wait for the probe's end
			continue
		}
		el, err := timed(op)
		if err == nil {
			t.Fatal("an operation succeeded during the outage")
		}
		els = append(els, el)
	}
	if len(els) < openedOps {
		t.Fatalf("only %d operations begun with the breaker open", len(els))
	}
	return els
}

// TestRedisDefaultsUndoFailFast backs the go-redis recipe: with its
// default retries (5 dials 100 ms apart per connection, 3 command
// retries), a command begun with dialguard's breaker open takes its
// caller's whole deadline, though each dial fails in microseconds.
func TestRedisDefaultsUndoFailFast(t *testing.T) {
	redis.SetLogger(discardLogger{})
	els := openOutage(t, newRedisServer(t), func(d *dialer.Dialer, address string) (func(context.Context) error, func()) {
		c := redis.NewClient(&redis.Options{Addr: address, Dialer: d.DialContext})
		return func(ctx context.Context) error { return c.Ping(ctx).Err() }, func() { c.Close() }
	})
	t.Logf("go-redis with its defaults, breaker open: commands took %v (deadline %v)", els, opTimeout)
	// The recipe's commands fail within failFastBound; the defaults'
	// must be far slower for the recipe to matter.
	if m := percentile(els, 0.5); m < 10*failFastBound {
		t.Errorf("with go-redis's defaults a command took %v (median), want at least %v: if the defaults fail fast now, the README's recipe is stale", m, 10*failFastBound)
	}
}

// TestPgxResolvingItselfPaysTheStall backs the pgx recipe: pgx's default
// LookupFunc resolves the host and pgx dials the addresses one by one, so
// dialguard is handed IP literals and cannot race them. Here a LookupFunc
// answering as a system resolver would for svc.test ([::1], then
// 127.0.0.1) stands in for the default: the first connection waits for
// dialguard to give up on the literal [::1]:port (its stall bound, and
// retries) before pgx tries 127.0.0.1. Later ones fail fast on [::1]
// while dialguard's breaker for that literal is open, and pay the stall
// again at each of its probes. The recipe's connections (TestPgx) pay
// nothing for [::1].
func TestPgxResolvingItselfPaysTheStall(t *testing.T) {
	srv := newPostgresServer(t)
	_, port := startBehindStalled(t, srv)
	t.Cleanup(srv.stop)
	address := net.JoinHostPort(svcName, strconv.Itoa(int(port)))
	res := dialtest.NewResolver(map[string]dialtest.Host{svcName: {
		IPv6: []netip.Addr{netip.IPv6Loopback()},
		IPv4: []netip.Addr{netip.AddrFrom4([4]byte{127, 0, 0, 1})},
	}})
	d, err := dialer.New(dialer.WithResolver(res), dialer.WithBreaker(breaker.Settings{OpenTimeout: openTimeout}))
	if err != nil {
		t.Fatal(err)
	}
	var els []time.Duration
	for range 3 {
		el, err := timed(func(ctx context.Context) error {
			cfg, err := pgx.ParseConfig(pgxConnString(address))
			if err != nil {
				return err
			}
			cfg.DialFunc = d.DialContext
			cfg.LookupFunc = func(ctx context.Context, host string) ([]string, error) {
				ips, err := res.LookupNetIP(ctx, "ip", host)
				var out []string
				for _, ip := range ips {
					out = append(out, ip.String())
				}
				return out, err
			}
			c, err := pgx.ConnectConfig(ctx, cfg)
			if err != nil {
				return err
			}
			return errors.Join(pgxPing(ctx, c), c.Close(ctx))
		})
		els = append(els, el)
		t.Logf("pgx resolving svc.test itself: connection and query: %v, %v", el, err)
	}
	// The recipe's first connection took well under firstOpBound; a
	// pgx that resolves itself must be slower for the recipe to matter.
	if els[0] < firstOpBound/3 {
		t.Errorf("pgx resolving itself connected in %v: if it no longer pays the stalled [::1], the README's recipe is stale", els[0])
	}
}
