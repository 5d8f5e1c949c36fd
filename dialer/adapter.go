package dialer

import (
	"context"
	"net"
)

// DialGRPC dials address over "tcp". Its two-argument signature is the one
// grpc.WithContextDialer takes:
//
//	grpc.NewClient("passthrough:///api.internal:443",
//		grpc.WithContextDialer(d.DialGRPC), ...)
//
// The passthrough scheme hands the host name to dialguard, so that it
// resolves and races the addresses itself; with gRPC's default dns scheme,
// gRPC resolves first and dialguard sees single addresses.
func (d *Dialer) DialGRPC(ctx context.Context, address string) (net.Conn, error) {
	return d.DialContext(ctx, "tcp", address)
}
