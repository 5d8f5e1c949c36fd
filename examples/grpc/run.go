package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"go.uber.org/zap/zapcore"
	"google.golang.org/grpc/health/grpc_health_v1"

	"github.com/dialguard/dialguard/dialer/dialtest"
)

// healthName is the made-up name the client dials.
const healthName = "health.test"

// run sets up the stalled [::1] and the gRPC server on 127.0.0.1, builds
// the client and runs the three phases, printing one line per call to out.
// It takes no arguments. Everything it starts is stopped and closed before it
// returns.
func run(ctx context.Context, args []string, out io.Writer) (err error) {
	if len(args) > 0 {
		return fmt.Errorf("unexpected argument %q (grpc takes no arguments)", args[0])
	}
	stalled6, srv, err := listenPair()
	if err != nil {
		return err
	}
	port := stalled6.Addr().Port()
	var stalled4 *dialtest.Stalled
	defer func() {
		var errs []error
		if srv != nil {
			errs = append(errs, srv.stop())
		}
		if stalled4 != nil {
			errs = append(errs, stalled4.Close())
		}
		errs = append(errs, stalled6.Close())
		if cerr := errors.Join(errs...); cerr != nil && err == nil {
			err = fmt.Errorf("closing: %w", cerr)
		}
	}()

	w := zapcore.Lock(zapcore.AddSync(out)) // the log (from gRPC's goroutines) and the call lines share out
	log := newLogger(w)
	d, err := newDialer(log)
	if err != nil {
		return err
	}
	cc, err := newClient(d, port)
	if err != nil {
		return err
	}
	defer cc.Close()
	p := &prober{client: grpc_health_v1.NewHealthClient(cc), out: w}

	fmt.Fprintf(w, "%s resolves to [::1] (stalled: %s) and 127.0.0.1 (gRPC health server on %s)\n",
		healthName, stalled6, v4(port))
	fmt.Fprintf(w, "dialguard: attempt timeout %v, breaker open timeout %v; each call has a %v deadline\n\n",
		attemptTimeout, openTimeout, callTimeout)

	// Phase 1: the stalled-first name works.
	fmt.Fprintln(w, "== phase 1: healthy ([::1] stalls, 127.0.0.1 serves)")
	if r := p.calls(ctx, "healthy", healthyCalls, 0, func(r result) bool { return false }); r.code != okCode {
		return fmt.Errorf("phase 1: call failed: %s", r.text)
	}

	// Phase 2: the server stalls.
	fmt.Fprintln(w, "\n== phase 2: stalled (gRPC server stopped, 127.0.0.1 replaced by a stalled listener)")
	err = srv.stop()
	srv = nil
	if err != nil {
		return fmt.Errorf("stopping the server: %w", err)
	}
	if stalled4, err = dialtest.ListenStalled(v4(port)); err != nil {
		return err
	}
	openSeen := 0
	p.calls(ctx, "stalled", maxStalledCalls, callPause, func(r result) bool {
		if r.circuitOpen {
			openSeen++
		}
		return openSeen >= circuitOpenCalls
	})

	// Phase 3: recovery.
	fmt.Fprintln(w, "\n== phase 3: recovered (stalled listener closed, gRPC server on 127.0.0.1 again)")
	err = stalled4.Close()
	stalled4 = nil
	if err != nil {
		return fmt.Errorf("closing the stalled listener: %w", err)
	}
	if srv, err = listenHealth(port); err != nil {
		return err
	}
	okSeen := 0
	last := p.calls(ctx, "recovered", maxRecoveryCalls, callPause, func(r result) bool {
		if r.code == okCode {
			okSeen++
		} else {
			okSeen = 0
		}
		return okSeen >= recoveredCalls
	})
	if last.code != okCode {
		return fmt.Errorf("phase 3: no recovery after %d calls: %s", maxRecoveryCalls, last.text)
	}
	return ctx.Err()
}
