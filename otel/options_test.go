package dialotel_test

import (
	"context"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"

	"github.com/dialguard/dialguard/dialer"
	"github.com/dialguard/dialguard/dialer/dialtest"
	dialotel "github.com/dialguard/dialguard/otel"
)

func TestNewRefusesNilProviders(t *testing.T) {
	var mp *sdkmetric.MeterProvider
	var tp *sdktrace.TracerProvider
	for _, tc := range []struct {
		opt  dialotel.Option
		want string
	}{
		{dialotel.WithMeterProvider(nil), "WithMeterProvider"},
		{dialotel.WithMeterProvider(metric.MeterProvider(mp)), "WithMeterProvider"},
		{dialotel.WithTracerProvider(nil), "WithTracerProvider"},
		{dialotel.WithTracerProvider(trace.TracerProvider(tp)), "WithTracerProvider"},
	} {
		if _, err := dialotel.New(tc.opt); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("New = %v, want an error naming %s", err, tc.want)
		}
	}
}

// With OpenTelemetry's no-op TracerProvider the hooks make no spans and
// leave the caller's context (and its span) as it was, but still record
// the metrics.
func TestNoopTracerLeavesTheContextAlone(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	t.Cleanup(func() { mp.Shutdown(context.Background()) })
	inst, err := dialotel.New(dialotel.WithMeterProvider(mp), dialotel.WithTracerProvider(tracenoop.NewTracerProvider()))
	if err != nil {
		t.Fatal(err)
	}
	h := inst.Hooks()
	if h.DialStart != nil || h.Resolved != nil {
		t.Error("hooks with a no-op tracer still start spans")
	}
	srv := dialtest.NewHealthy(t, "127.0.0.1:0")
	d, err := dialer.New(dialer.WithHooks(h))
	if err != nil {
		t.Fatal(err)
	}
	c, err := d.DialContext(t.Context(), "tcp", srv.String())
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	r := &rig{reader: reader}
	if n := r.total(t, dialotel.MetricAttempts); n != 1 {
		t.Errorf("%v attempts recorded, want 1", n)
	}
}

// The global providers are the default, as they are when New is called.
func TestNewDefaultsToTheGlobalProviders(t *testing.T) {
	inst, err := dialotel.New()
	if err != nil {
		t.Fatal(err)
	}
	// The global TracerProvider starts as a delegate of no one (not the
	// noop type), so the dial hooks are all there.
	if h := inst.Hooks(); h.DialStart == nil || h.DialDone == nil || h.Attempt == nil || h.BreakerChange == nil {
		t.Errorf("hooks with the global providers: %+v", h)
	}
	if _, err := dialer.New(inst.Option()); err != nil {
		t.Fatal(err)
	}
}
