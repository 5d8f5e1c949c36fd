package dialer_test

import (
	"context"
	"crypto/tls"
	"net"
	"testing"

	"github.com/dialguard/dialguard/dialer"
)

// BenchmarkTLSDial compares a full TLS dial (TCP and a TLS 1.3 handshake,
// no session resumption) on the healthy path: tls.Dialer beside dialguard's
// DialTLSContext, to the same loopback server with the same config.
func BenchmarkTLSDial(b *testing.B) {
	srv := mustTLSServer(b, "127.0.0.1:0", false)
	addr := serverAddr(srv).String()
	cfg := trusting(srv)
	d := newDialer(b, dialer.WithTLSConfig(cfg))
	dialers := []struct {
		name string
		dial func(context.Context, string, string) (net.Conn, error)
	}{
		{"tls.Dialer", (&tls.Dialer{Config: cfg}).DialContext},
		{"dialguard", d.DialTLSContext},
	}
	for _, bd := range dialers {
		b.Run(bd.name, func(b *testing.B) {
			b.ReportAllocs()
			ctx := b.Context()
			for b.Loop() {
				c, err := bd.dial(ctx, "tcp", addr)
				if err != nil {
					b.Fatal(err)
				}
				c.Close()
			}
		})
	}
}
