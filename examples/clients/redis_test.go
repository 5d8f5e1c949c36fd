package clients_test

import (
	"context"
	"errors"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/dialguard/dialguard/dialer"
)

// redisOptions is the README's go-redis recipe: dialguard dials, and
// go-redis's own retries, which would multiply dialguard's fail-fast into
// seconds, are off.
func redisOptions(d *dialer.Dialer, address string) *redis.Options {
	return &redis.Options{
		Addr:   address,
		Dialer: d.DialContext,
		// One dial per new connection (default 5, 100 ms apart):
		// dialguard already retries inside the caller's deadline, and
		// fails at once while its breaker is open.
		DialerRetries: 1,
		// No command retries (default 3, -1 means none): a retry that
		// dials again would pay the open breaker's answer again and
		// sleep its backoff between.
		MaxRetries: -1,
		// go-redis dials on a context of its own, not the caller's: this
		// bounds how long a dial goes on after its caller gave up
		// (default 5 s). dialguard bounds each dial by its own
		// WithTimeout too.
		DialTimeout: opTimeout,
		// At most 4 dials at a time (default PoolSize, 10 per CPU: 20
		// here). When the server goes dark, the pool's connections
		// break together and their callers dial together; without this
		// limit the outage's peak SYN_SENT was 14 in one run and 40 in
		// another (20 dials, one socket per address), with it 8.
		MaxConcurrentDials: 4,
		// Reads and writes follow the caller's deadline.
		ContextTimeoutEnabled: true,
	}
}

// TestRedis puts go-redis, against redis-server, through the incident, an
// outage and a recovery.
func TestRedis(t *testing.T) {
	// go-redis logs every failed dial of its pool; the outage makes
	// thousands.
	redis.SetLogger(discardLogger{})
	runScenario(t, subject{
		server: newRedisServer(t),
		fresh: func(ctx context.Context, d *dialer.Dialer, address string) error {
			c := redis.NewClient(redisOptions(d, address))
			return errors.Join(c.Ping(ctx).Err(), c.Close())
		},
		shared: func(d *dialer.Dialer, address string) (func(context.Context) error, func(), error) {
			c := redis.NewClient(redisOptions(d, address))
			return func(ctx context.Context) error { return c.Ping(ctx).Err() }, func() { c.Close() }, nil
		},
		circuitOpen: func(err error) bool { return errors.Is(err, dialer.ErrCircuitOpen) },
	})
}

// discardLogger is a go-redis logger that drops everything.
type discardLogger struct{}

func (discardLogger) Printf(context.Context, string, ...any) {}
