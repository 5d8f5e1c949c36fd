package dialer

import (
	"errors"
	"testing"
	"testing/synctest"
	"time"
)

// The handshake's bounds, exact: inside a synctest bubble the fake network
// connects at once over net.Pipe, and nobody reads the other end, so the
// ClientHello is never answered.

func TestTLSHandshakeStallTakesExactlyTheHandshakeTimeout(t *testing.T) {
	cases := []struct {
		name string
		opts []Option
		want time.Duration
	}{
		{"the default", nil, DefaultHandshakeTimeout},
		{"WithHandshakeTimeout", []Option{WithHandshakeTimeout(2 * time.Second)}, 2 * time.Second},
		{"WithTimeout, when shorter", []Option{WithTimeout(3 * time.Second)}, 3 * time.Second},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := newFakeNet(map[string]*script{"192.0.2.1:443": {}})
				opts := append([]Option{WithMaxRetries(0)}, tc.opts...)
				d := newFakeDialer(t, f, nil, opts...)
				start := time.Now()
				_, err := d.DialTLSContext(t.Context(), "tcp", "192.0.2.1:443")
				if got := time.Since(start); got != tc.want {
					t.Errorf("dial took %v, want %v", got, tc.want)
				}
				stall := errors.Is(err, ErrHandshakeTimeout)
				if wantStall := tc.want != 3*time.Second; stall != wantStall || err == nil {
					t.Errorf("err = %v; ErrHandshakeTimeout %v, want %v", err, stall, wantStall)
				}
				for _, c := range f.conns {
					if !c.closed.Load() {
						t.Error("the stalled connection was left open")
					}
				}
			})
		})
	}
}
