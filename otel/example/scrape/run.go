package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	tracenoop "go.opentelemetry.io/otel/trace/noop"

	"github.com/dialguard/dialguard/dialer"
	"github.com/dialguard/dialguard/dialer/dialtest"
	dialotel "github.com/dialguard/dialguard/otel"
)

// maxDials bounds -n, so that a run stays bounded.
const maxDials = 1000

// run parses args, serves the metrics, dials the incident and serves until
// ctx ends. ready, if not nil, is called with the metrics address once the
// dials are done (the test then starts Prometheus).
func run(ctx context.Context, args []string, out io.Writer, ready func(addr string)) error {
	fs := flag.NewFlagSet("scrape", flag.ContinueOnError)
	fs.SetOutput(out)
	listen := fs.String("listen", "127.0.0.1:9464", "loopback address to serve /metrics on")
	n := fs.Int("n", 3, "number of dials to incident.test")
	interval := fs.Duration("interval", 100*time.Millisecond, "pause between dials")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if *n < 1 || *n > maxDials {
		return fmt.Errorf("-n must be between 1 and %d, got %d", maxDials, *n)
	}
	if *interval < 0 || *interval > time.Minute {
		return fmt.Errorf("-interval must be between 0 and 1m, got %v", *interval)
	}
	if ap, err := netip.ParseAddrPort(*listen); err != nil || !ap.Addr().IsLoopback() {
		return fmt.Errorf("-listen must be a loopback ip:port, got %q", *listen)
	}

	// OpenTelemetry's Prometheus exporter is a reader of the SDK's
	// MeterProvider; it registers with a registry of its own here, which
	// promhttp serves.
	reg := prometheus.NewRegistry()
	exp, err := otelprom.New(otelprom.WithRegisterer(reg))
	if err != nil {
		return err
	}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exp))
	defer mp.Shutdown(context.Background())
	inst, err := dialotel.New(dialotel.WithMeterProvider(mp), dialotel.WithTracerProvider(tracenoop.NewTracerProvider()))
	if err != nil {
		return err
	}

	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	defer func() {
		shut, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(shut)
		<-served
	}()
	fmt.Fprintf(out, "metrics at http://%s/metrics\n", ln.Addr())

	if err := dialIncident(ctx, inst, *n, *interval, out); err != nil {
		return err
	}
	if ready != nil {
		ready(ln.Addr().String())
	}
	<-ctx.Done()
	return nil
}

// dialIncident sets up the incident on loopback and dials it n times,
// printing the first dial's report and each later dial's line.
func dialIncident(ctx context.Context, inst *dialotel.Instrumentation, n int, interval time.Duration, out io.Writer) error {
	ds, err := dialtest.ListenDualStack()
	if err != nil {
		return err
	}
	defer ds.Close()
	res := dialtest.NewResolver(map[string]dialtest.Host{"incident.test": {
		IPv6: []netip.Addr{netip.IPv6Loopback()},
		IPv4: []netip.Addr{netip.AddrFrom4([4]byte{127, 0, 0, 1})},
	}})
	d, err := dialer.New(dialer.WithResolver(res), inst.Option())
	if err != nil {
		return err
	}
	target := net.JoinHostPort("incident.test", strconv.Itoa(int(ds.Port)))
	fmt.Fprintf(out, "incident.test resolves to [::1] (stalled: a full accept queue) and 127.0.0.1, port %d\n", ds.Port)
	for i := range n {
		if i > 0 {
			t := time.NewTimer(interval)
			select {
			case <-ctx.Done():
				t.Stop()
				return ctx.Err()
			case <-t.C:
			}
		}
		var rep dialer.Report
		dctx, cancel := context.WithTimeout(dialer.ContextWithReport(ctx, &rep), 10*time.Second)
		c, err := d.DialContext(dctx, "tcp", target)
		cancel()
		if err != nil {
			return errors.Join(fmt.Errorf("dial %d", i+1), err)
		}
		c.Close()
		fmt.Fprint(out, rep.String())
	}
	return nil
}
