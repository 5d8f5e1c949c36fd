package clients_test

import (
	"context"
	"errors"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/dialguard/dialguard/dialer"
)

// pgxConfig is the README's pgx recipe, applied to a parsed config: pgx
// resolves a host itself and dials its addresses one by one (so dialguard
// would see only [::1], which eats the whole deadline), unless LookupFunc
// hands the name through unchanged to DialFunc, where dialguard resolves
// and races it.
func pgxConfig(cfg *pgx.ConnConfig, d *dialer.Dialer) {
	cfg.LookupFunc = func(_ context.Context, host string) ([]string, error) {
		return []string{host}, nil
	}
	cfg.DialFunc = d.DialContext
}

// pgxConnString returns the connection string of the tests' cluster at
// address (svc.test:port): no TLS (sslmode=prefer would make two dials per
// connection), and no connect_timeout (the caller's context and dialguard
// bound the dial).
func pgxConnString(address string) string {
	return "postgres://postgres@" + address + "/postgres?sslmode=disable"
}

// pgxPing runs a query on q.
func pgxPing(ctx context.Context, q interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}) error {
	var one int
	if err := q.QueryRow(ctx, "select 1").Scan(&one); err != nil {
		return err
	}
	if one != 1 {
		return errors.New("select 1 returned another number")
	}
	return nil
}

// TestPgx puts pgx (a connection per operation, and a pgxpool shared by
// the outage's callers), against PostgreSQL, through the incident, an
// outage and a recovery.
func TestPgx(t *testing.T) {
	runScenario(t, subject{
		server: newPostgresServer(t),
		fresh: func(ctx context.Context, d *dialer.Dialer, address string) error {
			cfg, err := pgx.ParseConfig(pgxConnString(address))
			if err != nil {
				return err
			}
			pgxConfig(cfg, d)
			c, err := pgx.ConnectConfig(ctx, cfg)
			if err != nil {
				return err
			}
			return errors.Join(pgxPing(ctx, c), c.Close(ctx))
		},
		shared: func(d *dialer.Dialer, address string) (func(context.Context) error, func(), error) {
			cfg, err := pgxpool.ParseConfig(pgxConnString(address))
			if err != nil {
				return nil, nil, err
			}
			pgxConfig(cfg.ConnConfig, d)
			// pgxpool connects on a context that keeps the caller's
			// values but not its cancellation (puddle ends it when the
			// pool closes): this bounds a connect that goes on after
			// its caller gave up.
			cfg.ConnConfig.ConnectTimeout = opTimeout
			p, err := pgxpool.NewWithConfig(context.Background(), cfg)
			if err != nil {
				return nil, nil, err
			}
			return func(ctx context.Context) error { return pgxPing(ctx, p) }, p.Close, nil
		},
		circuitOpen: func(err error) bool { return errors.Is(err, dialer.ErrCircuitOpen) },
	})
}
