package dialer

import (
	"context"
	"net"
	"time"
)

// portLookup is the part of *net.Resolver that finds a service's port. A
// Resolver that has it (WithResolver) is asked; otherwise the standard
// library's resolver is, which on Unix reads /etc/services, as net.Dialer
// does for "host:http".
type portLookup interface {
	LookupPort(ctx context.Context, network, service string) (int, error)
}

// resolveService looks up t's service name, if it has one, and sets its
// port and key. Its error is the resolver's (a *net.DNSError "unknown
// port" for a name that is not a service), as net.Dialer reports it. The
// lookup is bounded by the deadline of a dial started at start, whatever
// the resolver does (lookup.go).
func (d *Dialer) resolveService(ctx context.Context, t *target, start time.Time) error {
	if t.service == "" {
		return nil
	}
	deadline, cause := d.deadline(ctx, start)
	ctx, cancel := context.WithDeadlineCause(ctx, deadline, cause)
	defer cancel()
	var lookup portLookup = net.DefaultResolver
	if pl, ok := d.cfg.resolver.(portLookup); ok {
		lookup = pl
	}
	port, err := d.askPort(ctx, lookup, t.network, t.service)
	if err != nil {
		return err
	}
	if port < 0 || port > 65535 {
		return &net.AddrError{Err: "invalid port", Addr: t.service}
	}
	t.setPort(uint16(port))
	return nil
}
