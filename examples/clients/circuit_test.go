package clients_test

import (
	"context"
	"fmt"
	"net"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/dialguard/dialguard/dialer"
	"github.com/dialguard/dialguard/examples/clients"
)

// TestIsCircuitOpen checks the helper on errors of each shape it tells
// apart; TestGRPC checks it on what a real gRPC client returns.
func TestIsCircuitOpen(t *testing.T) {
	dialErr := &net.OpError{Op: "dial", Net: "tcp", Err: fmt.Errorf("svc.test:443: %w", dialer.ErrCircuitOpen)}
	grpcText := func(err error) string {
		return fmt.Sprintf("connection error: desc = %q", "transport: Error while dialing: "+err.Error())
	}
	cases := []struct {
		name string
		err  error
		want bool
	}{
		{"nil is not", nil, false},
		{"the wrapped sentinel is", dialErr, true},
		{"an error wrapping it further is", fmt.Errorf("redis: %w", dialErr), true},
		{"another dial error is not", &net.OpError{Op: "dial", Net: "tcp", Err: context.DeadlineExceeded}, false},
		{"gRPC's Unavailable with the dial failure is", status.Error(codes.Unavailable, grpcText(dialErr)), true},
		{"gRPC's Unavailable with another dial failure is not", status.Error(codes.Unavailable, grpcText(context.DeadlineExceeded)), false},
		{"a server's own circuit-open status is not", status.Error(codes.Unavailable, dialer.ErrCircuitOpen.Error()), false},
		{"another code with the dial failure text is not", status.Error(codes.Internal, grpcText(dialErr)), false},
		{"a deadline status is not", status.Error(codes.DeadlineExceeded, "context deadline exceeded"), false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := clients.IsCircuitOpen(c.err); got != c.want {
				t.Errorf("IsCircuitOpen(%v) = %v, want %v", c.err, got, c.want)
			}
		})
	}
}
