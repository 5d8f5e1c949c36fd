package main

import (
	"net/netip"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/dialguard/dialguard/breaker"
	"github.com/dialguard/dialguard/dialer"
	"github.com/dialguard/dialguard/dialer/dialtest"
)

// The settings that keep the demonstration short.
const (
	// attemptTimeout is dialguard's stall threshold (default 500 ms).
	attemptTimeout = 200 * time.Millisecond
	// openTimeout is how long the breaker stays open before a probe
	// (default 1 s, jittered); maxOpenTimeout lets it double on failed
	// probes, up to 2 s (by default it does not).
	openTimeout    = time.Second
	maxOpenTimeout = 2 * time.Second
)

// grpcBackoff shortens gRPC's connection backoff (default: 1 s base, 1.6
// multiplier, 0.2 jitter, 120 s maximum) so that the recovery shows within
// seconds.
var grpcBackoff = grpc.ConnectParams{
	Backoff: backoff.Config{
		BaseDelay:  100 * time.Millisecond,
		Multiplier: 1.6,
		Jitter:     0.2,
		MaxDelay:   time.Second,
	},
	MinConnectTimeout: 20 * time.Second, // gRPC's default
}

// newDialer returns the dialguard Dialer of the client: health.test
// resolved to [::1] then 127.0.0.1, the short timeouts above, and breaker
// state changes logged to log.
func newDialer(log *zap.Logger) (*dialer.Dialer, error) {
	res := dialtest.NewResolver(map[string]dialtest.Host{healthName: {
		IPv6: []netip.Addr{netip.IPv6Loopback()},
		IPv4: []netip.Addr{netip.AddrFrom4([4]byte{127, 0, 0, 1})},
	}})
	return dialer.New(
		dialer.WithResolver(res),
		dialer.WithAttemptTimeout(attemptTimeout),
		dialer.WithBreaker(breaker.Settings{OpenTimeout: openTimeout, MaxOpenTimeout: maxOpenTimeout}),
		dialer.WithLogger(log),
	)
}

// newClient returns a gRPC client for health.test:port whose every
// connection is dialled by d.
func newClient(d *dialer.Dialer, port uint16) (*grpc.ClientConn, error) {
	return grpc.NewClient("passthrough:///"+hostPort(healthName, port),
		grpc.WithContextDialer(d.DialGRPC),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithConnectParams(grpcBackoff),
	)
}

// newLogger returns a console logger at Info, without timestamps, writing to
// w: dialguard logs its breakers' state changes at Info and Warn.
func newLogger(w zapcore.WriteSyncer) *zap.Logger {
	cfg := zap.NewDevelopmentEncoderConfig()
	cfg.TimeKey = ""
	return zap.New(zapcore.NewCore(zapcore.NewConsoleEncoder(cfg), w, zapcore.InfoLevel))
}
