package dialotel_test

import (
	"context"
	"net"
	"net/netip"
	"testing"
	"time"

	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"

	"github.com/dialguard/dialguard/dialer"
	"github.com/dialguard/dialguard/dialer/dialtest"
	dialotel "github.com/dialguard/dialguard/otel"
)

// What the cost benchmarks compare, each on the same healthy loopback
// listener: net.Dialer; dialguard with nothing watching (off); dialguard
// asked for a Report through the context; and dialguard with this
// package's hooks: metrics alone (the no-op TracerProvider), metrics and a
// tracer whose sampler drops every span, and metrics and spans recorded
// (the SDK with every span sampled, ended into a processor that keeps
// nothing, so the cost is the spans' and not an exporter's). The metrics
// go to the SDK with a ManualReader, as they would to any reader.
type contender struct {
	name string
	new  func(b *testing.B, r *net.Resolver) func(ctx context.Context, address string) (net.Conn, error)
}

// discard is a span processor that keeps nothing.
type discard struct{}

func (discard) OnStart(context.Context, sdktrace.ReadWriteSpan) {}
func (discard) OnEnd(sdktrace.ReadOnlySpan)                     {}
func (discard) Shutdown(context.Context) error                  { return nil }
func (discard) ForceFlush(context.Context) error                { return nil }

func meterProvider(b *testing.B) metric.MeterProvider {
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
	b.Cleanup(func() { mp.Shutdown(context.Background()) })
	return mp
}

func tracerProvider(b *testing.B, s sdktrace.Sampler) trace.TracerProvider {
	tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(s), sdktrace.WithSpanProcessor(discard{}))
	b.Cleanup(func() { tp.Shutdown(context.Background()) })
	return tp
}

// guarded builds a dialguard contender with opts, and with a Report asked
// for on every dial if report is set.
func guarded(report bool, opts func(b *testing.B) []dialer.Option) func(*testing.B, *net.Resolver) func(context.Context, string) (net.Conn, error) {
	return func(b *testing.B, r *net.Resolver) func(context.Context, string) (net.Conn, error) {
		o := opts(b)
		if r != nil {
			o = append(o, dialer.WithResolver(r))
		}
		d, err := dialer.New(o...)
		if err != nil {
			b.Fatal(err)
		}
		if !report {
			return func(ctx context.Context, a string) (net.Conn, error) { return d.DialContext(ctx, "tcp", a) }
		}
		var rep dialer.Report
		return func(ctx context.Context, a string) (net.Conn, error) {
			return d.DialContext(dialer.ContextWithReport(ctx, &rep), "tcp", a)
		}
	}
}

func instrumented(tp func(b *testing.B) trace.TracerProvider) func(b *testing.B) []dialer.Option {
	return func(b *testing.B) []dialer.Option {
		inst, err := dialotel.New(dialotel.WithMeterProvider(meterProvider(b)), dialotel.WithTracerProvider(tp(b)))
		if err != nil {
			b.Fatal(err)
		}
		return []dialer.Option{inst.Option()}
	}
}

var (
	stdlib = contender{"net.Dialer", func(b *testing.B, r *net.Resolver) func(context.Context, string) (net.Conn, error) {
		d := &net.Dialer{Resolver: r}
		return func(ctx context.Context, a string) (net.Conn, error) { return d.DialContext(ctx, "tcp", a) }
	}}
	off     = contender{"off", guarded(false, func(*testing.B) []dialer.Option { return nil })}
	watched = []contender{
		{"report", guarded(true, func(*testing.B) []dialer.Option { return nil })},
		{"metrics", guarded(false, instrumented(func(*testing.B) trace.TracerProvider { return tracenoop.NewTracerProvider() }))},
		{"metrics+sampled-out", guarded(false, instrumented(func(b *testing.B) trace.TracerProvider { return tracerProvider(b, sdktrace.NeverSample()) }))},
		{"metrics+traces", guarded(false, instrumented(func(b *testing.B) trace.TracerProvider { return tracerProvider(b, sdktrace.AlwaysSample()) }))},
	}
)

// scenario is a healthy destination: 127.0.0.1:P as a literal, or a name
// resolving to it through a real *net.Resolver (dialtest.DNSServer).
type scenario struct {
	name, addr string
	r          *net.Resolver
}

func scenarios(b *testing.B) []scenario {
	h := dialtest.NewHealthy(b, "127.0.0.1:0")
	srv := dialtest.NewDNSServer(map[string][]netip.Addr{"healthy.test": {v4loop}})
	b.Cleanup(func() { srv.Close() })
	return []scenario{
		{"literal", h.String(), nil},
		{"name", hostPort("healthy.test", h.Addr().Port()), srv.Resolver()},
	}
}

func dialClose(b *testing.B, dial func(context.Context, string) (net.Conn, error), addr string) {
	c, err := dial(context.Background(), addr)
	if err != nil {
		b.Fatal(err)
	}
	c.Close()
}

// BenchmarkCost is each contender alone, for its allocs/op (run with
// -benchmem) and ns/op.
func BenchmarkCost(b *testing.B) {
	for _, sc := range scenarios(b) {
		for _, c := range append([]contender{stdlib, off}, watched...) {
			b.Run(sc.name+"/"+c.name, func(b *testing.B) {
				dial := c.new(b, sc.r)
				dialClose(b, dial, sc.addr) // warm: the destination known, the sets cached
				b.ReportAllocs()
				for b.Loop() {
					dialClose(b, dial, sc.addr)
				}
			})
		}
	}
}

// BenchmarkCostRatio puts the watched dial beside the unwatched one and
// net.Dialer in the same run: each iteration dials once with each of the
// three, in an order that rotates, so all see the same machine load. It
// reports stdlib-ns/dial, off-ns/dial, ns/dial (the watched contender's),
// x_vs_off = the watched dial's time / the unwatched one's (1.05 is 5 %
// slower) and x_vs_stdlib = net.Dialer's time / the watched dial's (above
// 1: faster than net.Dialer). ns/op covers all three dials and is not the
// result.
func BenchmarkCostRatio(b *testing.B) {
	for _, sc := range scenarios(b) {
		for _, c := range watched {
			b.Run(sc.name+"/"+c.name, func(b *testing.B) {
				dials := [3]func(context.Context, string) (net.Conn, error){stdlib.new(b, sc.r), off.new(b, sc.r), c.new(b, sc.r)}
				for _, d := range dials {
					dialClose(b, d, sc.addr)
				}
				var took [3]time.Duration
				n := 0
				for b.Loop() {
					for k := range 3 {
						j := (k + n) % 3
						t0 := time.Now()
						dialClose(b, dials[j], sc.addr)
						took[j] += time.Since(t0)
					}
					n++
				}
				b.ReportMetric(float64(took[0].Nanoseconds())/float64(n), "stdlib-ns/dial")
				b.ReportMetric(float64(took[1].Nanoseconds())/float64(n), "off-ns/dial")
				b.ReportMetric(float64(took[2].Nanoseconds())/float64(n), "ns/dial")
				b.ReportMetric(float64(took[2])/float64(took[1]), "x_vs_off")
				b.ReportMetric(float64(took[0])/float64(took[2]), "x_vs_stdlib")
			})
		}
	}
}

// BenchmarkHooks is the hooks' own work for one healthy literal dial
// (DialStart, one connected Attempt, DialDone), without the network, so
// that it can be set beside BenchmarkCost's off-ns/dial: the dial's cost
// with the hooks is about off + this. ns/op and allocs/op are per dial.
func BenchmarkHooks(b *testing.B) {
	for _, c := range []struct {
		name string
		tp   func(b *testing.B) trace.TracerProvider
	}{
		{"metrics", func(*testing.B) trace.TracerProvider { return tracenoop.NewTracerProvider() }},
		{"metrics+sampled-out", func(b *testing.B) trace.TracerProvider { return tracerProvider(b, sdktrace.NeverSample()) }},
		{"metrics+traces", func(b *testing.B) trace.TracerProvider { return tracerProvider(b, sdktrace.AlwaysSample()) }},
	} {
		b.Run(c.name, func(b *testing.B) {
			inst, err := dialotel.New(dialotel.WithMeterProvider(meterProvider(b)), dialotel.WithTracerProvider(c.tp(b)))
			if err != nil {
				b.Fatal(err)
			}
			h := inst.Hooks()
			addr := netip.AddrPortFrom(v4loop, 8080)
			start := time.Now()
			begin := dialer.DialStartInfo{Network: "tcp", Destination: addr.String(), Start: start}
			attempt := dialer.AttemptInfo{Destination: begin.Destination, Address: addr, Try: 1, DialStart: start,
				Start: start.Add(10 * time.Microsecond), Elapsed: 80 * time.Microsecond, Outcome: dialer.Connected}
			done := dialer.DialDoneInfo{Network: "tcp", Destination: begin.Destination, Start: start, Elapsed: 100 * time.Microsecond,
				Winner: addr, Tries: 1, RTT: 80 * time.Microsecond}
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				dctx := ctx
				if h.DialStart != nil {
					dctx = h.DialStart(ctx, begin)
				}
				h.Attempt(dctx, attempt)
				h.DialDone(dctx, done)
			}
		})
	}
}
