package dialotel_test

import (
	"context"
	"net"
	"net/netip"
	"strconv"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/dialguard/dialguard/dialer"
	dialotel "github.com/dialguard/dialguard/otel"
)

var (
	v6loop = netip.IPv6Loopback()
	v4loop = netip.MustParseAddr("127.0.0.1")
)

func hostPort(host string, port uint16) string {
	return net.JoinHostPort(host, strconv.Itoa(int(port)))
}

// rig is an Instrumentation on the SDK's in-memory reader and recorder.
type rig struct {
	reader *sdkmetric.ManualReader
	spans  *tracetest.SpanRecorder
	tp     *sdktrace.TracerProvider
	inst   *dialotel.Instrumentation
}

func newRig(t *testing.T) *rig {
	t.Helper()
	r := &rig{reader: sdkmetric.NewManualReader(), spans: tracetest.NewSpanRecorder()}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(r.reader))
	r.tp = sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(r.spans))
	t.Cleanup(func() {
		mp.Shutdown(context.Background())
		r.tp.Shutdown(context.Background())
	})
	inst, err := dialotel.New(dialotel.WithMeterProvider(mp), dialotel.WithTracerProvider(r.tp))
	if err != nil {
		t.Fatal(err)
	}
	r.inst = inst
	return r
}

func (r *rig) dialer(t *testing.T, opts ...dialer.Option) *dialer.Dialer {
	t.Helper()
	d, err := dialer.New(append(opts, r.inst.Option())...)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// point is one data point of a metric: its attributes and its value (a
// sum's value, a gauge's value, or a histogram's count and sum).
type point struct {
	attrs attribute.Set
	value float64
	count uint64
}

// has reports whether the point has every attribute of kv.
func (p point) has(kv ...attribute.KeyValue) bool {
	for _, want := range kv {
		got, ok := p.attrs.Value(want.Key)
		if !ok || got != want.Value {
			return false
		}
	}
	return true
}

// collect reads the metric name's points.
func (r *rig) collect(t *testing.T, name string) []point {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := r.reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	var pts []point
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name != name {
				continue
			}
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				for _, dp := range d.DataPoints {
					pts = append(pts, point{attrs: dp.Attributes, value: float64(dp.Value)})
				}
			case metricdata.Gauge[float64]:
				for _, dp := range d.DataPoints {
					pts = append(pts, point{attrs: dp.Attributes, value: dp.Value})
				}
			case metricdata.Histogram[float64]:
				for _, dp := range d.DataPoints {
					pts = append(pts, point{attrs: dp.Attributes, value: dp.Sum, count: dp.Count})
				}
			default:
				t.Fatalf("metric %s has data of type %T", name, m.Data)
			}
		}
	}
	return pts
}

// total sums the values (or counts, for histograms) of the points of name
// that have kv.
func (r *rig) total(t *testing.T, name string, kv ...attribute.KeyValue) float64 {
	t.Helper()
	var n float64
	for _, p := range r.collect(t, name) {
		if p.has(kv...) {
			if p.count > 0 {
				n += float64(p.count)
			} else {
				n += p.value
			}
		}
	}
	return n
}

// spansNamed returns the ended spans called name.
func (r *rig) spansNamed(name string) []sdktrace.ReadOnlySpan {
	var out []sdktrace.ReadOnlySpan
	for _, s := range r.spans.Ended() {
		if s.Name() == name {
			out = append(out, s)
		}
	}
	return out
}

// attr returns a span's attribute key.
func attr(s sdktrace.ReadOnlySpan, key string) (attribute.Value, bool) {
	for _, kv := range s.Attributes() {
		if string(kv.Key) == key {
			return kv.Value, true
		}
	}
	return attribute.Value{}, false
}
