package clients_test

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	"google.golang.org/grpc/health/grpc_health_v1"

	"github.com/dialguard/dialguard/dialer"
	"github.com/dialguard/dialguard/examples/clients"
)

// grpcServer is an in-process gRPC server with the health service.
type grpcServer struct {
	srv    *grpc.Server
	served chan error
}

func (s *grpcServer) start(port uint16) error {
	l, err := net.Listen("tcp", v4(port))
	if err != nil {
		return err
	}
	srv := grpc.NewServer()
	hs := health.NewServer()
	hs.SetServingStatus("", grpc_health_v1.HealthCheckResponse_SERVING)
	grpc_health_v1.RegisterHealthServer(srv, hs)
	s.srv, s.served = srv, make(chan error, 1)
	go func() { s.served <- srv.Serve(l) }()
	return nil
}

// stop closes the listener and every connection (grpc.Server.Stop) and
// waits for Serve.
func (s *grpcServer) stop() {
	if s.srv != nil {
		s.srv.Stop()
		<-s.served
		s.srv = nil
	}
}

// grpcClient is the README's gRPC recipe: passthrough hands the name to
// dialguard (gRPC's default dns resolver would resolve it and hand
// dialguard one address at a time), and gRPC's connection backoff is
// short, so a server that is back is dialled again soon.
func grpcClient(d *dialer.Dialer, address string) (*grpc.ClientConn, error) {
	return grpc.NewClient("passthrough:///"+address,
		grpc.WithContextDialer(d.DialGRPC),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithConnectParams(grpc.ConnectParams{
			// Default: 1 s base, x1.6, 0.2 jitter, up to 120 s. Each
			// try costs a microsecond while dialguard's breaker is
			// open.
			Backoff: backoff.Config{
				BaseDelay:  50 * time.Millisecond,
				Multiplier: 1.6,
				Jitter:     0.2,
				MaxDelay:   250 * time.Millisecond,
			},
			// The dial's context ends after this (default 20 s):
			// gRPC dials on a context of its own, not the call's.
			MinConnectTimeout: opTimeout,
		}),
	)
}

// grpcCheck makes a health check on c.
func grpcCheck(ctx context.Context, c *grpc.ClientConn) error {
	resp, err := grpc_health_v1.NewHealthClient(c).Check(ctx, &grpc_health_v1.HealthCheckRequest{})
	if err != nil {
		return err
	}
	if resp.GetStatus() != grpc_health_v1.HealthCheckResponse_SERVING {
		return errors.New("health: " + resp.GetStatus().String())
	}
	return nil
}

// TestGRPC puts a gRPC client, against an in-process gRPC server, through
// the incident, an outage and a recovery. gRPC keeps only the text of a
// dial error: clients.IsCircuitOpen tells the open breaker from it.
func TestGRPC(t *testing.T) {
	runScenario(t, subject{
		server: &grpcServer{},
		fresh: func(ctx context.Context, d *dialer.Dialer, address string) error {
			c, err := grpcClient(d, address)
			if err != nil {
				return err
			}
			return errors.Join(grpcCheck(ctx, c), c.Close())
		},
		shared: func(d *dialer.Dialer, address string) (func(context.Context) error, func(), error) {
			c, err := grpcClient(d, address)
			if err != nil {
				return nil, nil, err
			}
			return func(ctx context.Context) error { return grpcCheck(ctx, c) }, func() { c.Close() }, nil
		},
		circuitOpen: func(err error) bool {
			if errors.Is(err, dialer.ErrCircuitOpen) {
				t.Errorf("gRPC kept the dial error itself (%v): the README says it keeps only its text", err)
			}
			return clients.IsCircuitOpen(err)
		},
	})
}
