package dialotel

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"syscall"
	"testing"

	"go.opentelemetry.io/otel/attribute"

	"github.com/dialguard/dialguard/dialer"
)

func TestErrorTypeIsFromAFixedList(t *testing.T) {
	op := func(err error) error { return &net.OpError{Op: "dial", Net: "tcp", Err: err} }
	for _, tc := range []struct {
		err  error
		want string
	}{
		{nil, ""},
		{op(os.NewSyscallError("connect", syscall.ECONNREFUSED)), "connection_refused"},
		{op(os.NewSyscallError("connect", syscall.EHOSTUNREACH)), "host_unreachable"},
		{op(fmt.Errorf("round 2: %w", dialer.ErrAttemptTimeout)), "stalled"},
		{op(dialer.ErrCircuitOpen), "circuit_open"},
		{op(dialer.ErrHandshakeTimeout), "tls_handshake_timeout"},
		{op(context.Canceled), "canceled"},
		{op(context.DeadlineExceeded), "timeout"},
		{&net.DNSError{Err: "no such host", Name: "x.test", IsNotFound: true}, "dns_not_found"},
		{&net.DNSError{Err: "server misbehaving", Name: "x.test"}, "dns_error"},
		{op(os.NewSyscallError("connect", syscall.EINVAL)), "_OTHER"},
		{errors.New("something new"), "_OTHER"},
	} {
		if got := errorType(tc.err); got != tc.want {
			t.Errorf("errorType(%v) = %q, want %q", tc.err, got, tc.want)
		}
	}
}

// The cache of attribute sets stops growing at its bound and still
// answers.
func TestAttrCacheIsBounded(t *testing.T) {
	var c attrCache
	for i := range maxCachedSets + 10 {
		k := setKey{metric: setServer, destination: fmt.Sprintf("h%d.test:1", i)}
		s := c.get(k, func() attribute.Set { h, p := serverAttrs(k.destination); return attribute.NewSet(h, p) })
		if v, ok := s.set.Value(keyServerAddress); !ok || v.AsString() != fmt.Sprintf("h%d.test", i) {
			t.Fatalf("set for %s has server.address %v", k.destination, v)
		}
	}
	if n := c.n.Load(); n != maxCachedSets {
		t.Errorf("%d sets cached, want the bound %d", n, maxCachedSets)
	}
}
