package dialotel

import (
	"errors"
	"reflect"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
)

// ScopeName is the instrumentation scope of the meter and tracer: the
// import path of this package.
const ScopeName = "github.com/dialguard/dialguard/otel"

// Option configures New.
type Option func(*config) error

type config struct {
	meters  metric.MeterProvider
	tracers trace.TracerProvider
}

// WithMeterProvider sets where the metrics go. The default is the global
// MeterProvider (otel.GetMeterProvider) as it is when New is called. A nil
// provider is an error; to record no metrics, pass
// go.opentelemetry.io/otel/metric/noop's provider.
func WithMeterProvider(mp metric.MeterProvider) Option {
	return func(c *config) error {
		if isNil(mp) {
			return errors.New("dialotel: WithMeterProvider: nil MeterProvider")
		}
		c.meters = mp
		return nil
	}
}

// WithTracerProvider sets where the spans go. The default is the global
// TracerProvider (otel.GetTracerProvider) as it is when New is called. A
// nil provider is an error; to record no spans, pass
// go.opentelemetry.io/otel/trace/noop's provider.
func WithTracerProvider(tp trace.TracerProvider) Option {
	return func(c *config) error {
		if isNil(tp) {
			return errors.New("dialotel: WithTracerProvider: nil TracerProvider")
		}
		c.tracers = tp
		return nil
	}
}

// isNil reports whether v is nil or a nil pointer in an interface (which
// would crash the first dial instead of failing here).
func isNil(v any) bool {
	if v == nil {
		return true
	}
	rv := reflect.ValueOf(v)
	return rv.Kind() == reflect.Pointer && rv.IsNil()
}

// defaults fills what no option set.
func (c *config) defaults() {
	if c.meters == nil {
		c.meters = otel.GetMeterProvider()
	}
	if c.tracers == nil {
		c.tracers = otel.GetTracerProvider()
	}
}
