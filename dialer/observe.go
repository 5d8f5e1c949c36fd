package dialer

import (
	"context"
	"net"
	"net/netip"
	"time"

	"github.com/dialguard/dialguard/breaker"
)

// watcher is a dial's view for its hooks (WithHooks) and its report
// (ContextWithReport). It lives in the call; its zero value, for a dial
// nothing watches, is off, and every event is then one test of on.
type watcher struct {
	on     bool
	hooks  []Hooks
	ctx    context.Context // the dial's context as DialStart returned it
	report *Report
	start  DialStartInfo

	failedFast bool
	tries      int
	lookupAt   time.Time // when the round's per-family lookups began
}

// observed reports whether anything watches a dial made with ctx.
func (d *Dialer) observed(ctx context.Context) bool {
	return len(d.cfg.hooks) > 0 || reportFrom(ctx) != nil
}

// begin starts watching the dial c, made with ctx, and returns the
// context the dial goes on with.
func (o *watcher) begin(ctx context.Context, d *Dialer, c *call, tls bool) context.Context {
	*o = watcher{on: true, hooks: d.cfg.hooks, report: reportFrom(ctx)}
	o.start = DialStartInfo{Network: c.t.network, Destination: c.t.key, TLS: tls, Start: c.start}
	if o.report != nil {
		*o.report = Report{DialDoneInfo: DialDoneInfo{Network: c.t.network, Destination: c.t.key, TLS: tls, Start: c.start}}
	}
	for i := range o.hooks {
		if fn := o.hooks[i].DialStart; fn != nil {
			if next := fn(ctx, o.start); next != nil {
				ctx = next
			}
		}
	}
	o.ctx = ctx
	return ctx
}

// end reports how the dial ended.
func (o *watcher) end(d *Dialer, c *call, conn net.Conn, err error) {
	info := DialDoneInfo{
		Network: o.start.Network, Destination: o.start.Destination, TLS: o.start.TLS,
		Start: o.start.Start, Elapsed: time.Since(o.start.Start),
		Tries: o.tries, FailedFast: o.failedFast, Probe: c.led.destProbe, Err: err,
	}
	if conn != nil {
		info.Winner = remoteAddrPort(conn)
	}
	if c.dst != nil {
		info.RTT = c.dst.srtt(time.Now(), d.cfg.memoryTTL)
	}
	if r := o.report; r != nil {
		r.DialDoneInfo = info
	}
	for i := range o.hooks {
		if fn := o.hooks[i].DialDone; fn != nil {
			fn(o.ctx, info)
		}
	}
}

// remoteAddrPort is conn's remote address as an AddrPort (a TLS
// connection's too).
func remoteAddrPort(conn net.Conn) netip.AddrPort {
	if ta, ok := conn.RemoteAddr().(*net.TCPAddr); ok {
		return ta.AddrPort()
	}
	ap, _ := netip.ParseAddrPort(conn.RemoteAddr().String())
	return ap
}

func (o *watcher) resolved(info ResolveInfo) {
	if r := o.report; r != nil {
		info.Addrs = append([]netip.Addr(nil), info.Addrs...) // the report keeps it
		r.Resolutions = append(r.Resolutions, info)
	}
	for i := range o.hooks {
		if fn := o.hooks[i].Resolved; fn != nil {
			fn(o.ctx, info)
		}
	}
}

// lookedUp reports one family's answer to the lookups begun at lookupAt.
func (o *watcher) lookedUp(c *call, l lookup) {
	network := "ip4"
	if l.v6 {
		network = "ip6"
	}
	o.resolved(ResolveInfo{Destination: c.t.key, Network: network, Start: o.lookupAt, Elapsed: time.Since(o.lookupAt), Addrs: l.addrs, Err: l.err})
}

func (o *watcher) admitted(info AdmissionInfo) {
	if r := o.report; r != nil {
		r.Admission = info.Waited
	}
	for i := range o.hooks {
		if fn := o.hooks[i].Admission; fn != nil {
			fn(o.ctx, info)
		}
	}
}

func (o *watcher) attempt(info AttemptInfo) {
	if r := o.report; r != nil {
		r.Attempts = append(r.Attempts, info)
	}
	for i := range o.hooks {
		if fn := o.hooks[i].Attempt; fn != nil {
			fn(o.ctx, info)
		}
	}
}

func (o *watcher) retry(info RetryInfo) {
	if r := o.report; r != nil {
		r.Retries = append(r.Retries, info)
	}
	for i := range o.hooks {
		if fn := o.hooks[i].Retry; fn != nil {
			fn(o.ctx, info)
		}
	}
}

// breakerChanged hands a breaker's change to every BreakerChange hook.
func (d *Dialer) breakerChanged(kind, key string, from, to breaker.State) {
	if len(d.cfg.hooks) == 0 {
		return
	}
	info := BreakerChange{Kind: kind, Key: key, From: from, To: to, At: time.Now()}
	for i := range d.cfg.hooks {
		if fn := d.cfg.hooks[i].BreakerChange; fn != nil {
			fn(info)
		}
	}
}

// srtt is the destination's smoothed round trip, zero when it has none.
func (dst *destination) srtt(now time.Time, ttl time.Duration) time.Duration {
	dst.mu.Lock()
	defer dst.mu.Unlock()
	if !dst.rtt.known(now, ttl) {
		return 0
	}
	return dst.rtt.srtt
}
