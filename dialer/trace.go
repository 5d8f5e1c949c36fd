package dialer

import (
	"context"
	"net"
	"net/http/httptrace"
	"net/netip"
	"reflect"
)

// What a net/http/httptrace ClientTrace sees of a dial: one DNSStart and
// one DNSDone per round that resolves a name (not one per family, although
// the families are asked apart), DNSDone with the combined answer, and a
// ConnectStart and ConnectDone per attempt, as net.Dialer reports them.
//
// The standard resolver reports each lookup to the trace itself (through
// the context), so the round's lookups get a context that hides the DNS
// hooks from it, and the round reports the resolution once.

// dnsTrace reports one round's resolution to a ClientTrace, once.
type dnsTrace struct {
	trace *httptrace.ClientTrace
	addrs []netip.Addr // the answer so far (a late family adds to it)
	done  bool
}

// startDNSTrace reports the start of a round's resolution of host to the
// ClientTrace in ctx, if there is one, and returns the context for the
// round's lookups (hiding their own reports) and the trace to finish; a
// nil trace when ctx has none.
func startDNSTrace(ctx context.Context, host string) (context.Context, *dnsTrace) {
	ct := httptrace.ContextClientTrace(ctx)
	if ct == nil || (ct.DNSStart == nil && ct.DNSDone == nil) {
		return ctx, nil
	}
	if ct.DNSStart != nil {
		ct.DNSStart(httptrace.DNSStartInfo{Host: host})
	}
	return hideDNSHooks{ctx}, &dnsTrace{trace: ct}
}

// add notes addresses of the answer.
func (t *dnsTrace) add(addrs []netip.Addr) {
	if t != nil {
		t.addrs = append(t.addrs, addrs...)
	}
}

// finish reports the resolution, with err if it failed; later calls do
// nothing.
func (t *dnsTrace) finish(err error) {
	if t == nil || t.done {
		return
	}
	t.done = true
	if t.trace.DNSDone == nil {
		return
	}
	info := httptrace.DNSDoneInfo{Err: err}
	for _, a := range t.addrs {
		info.Addrs = append(info.Addrs, net.IPAddr{IP: a.AsSlice(), Zone: a.Zone()})
	}
	t.trace.DNSDone(info)
}

// hideDNSHooks is a context whose trace hooks for the standard library's
// network code have no DNSStart and DNSDone: the round reports those once
// itself. Every other value, and the connect hooks, are the parent's.
type hideDNSHooks struct{ context.Context }

// Value returns the parent's value for key, except for the standard
// library's internal trace hooks (net/http/httptrace installs them, of an
// unexported type of package internal/nettrace), which it returns copied
// without their DNS hooks.
func (c hideDNSHooks) Value(key any) any {
	v := c.Context.Value(key)
	if v == nil {
		return nil
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return v
	}
	if t := rv.Type().Elem(); t.Kind() != reflect.Struct || t.PkgPath() != "internal/nettrace" || t.Name() != "Trace" {
		return v
	}
	cp := reflect.New(rv.Type().Elem())
	cp.Elem().Set(rv.Elem())
	for _, name := range []string{"DNSStart", "DNSDone"} {
		if f := cp.Elem().FieldByName(name); f.IsValid() && f.CanSet() {
			f.Set(reflect.Zero(f.Type()))
		}
	}
	return cp.Interface()
}
