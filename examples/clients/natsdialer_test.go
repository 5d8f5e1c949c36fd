package clients_test

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strconv"
	"testing"
	"time"

	"github.com/dialguard/dialguard/dialer"
	"github.com/dialguard/dialguard/dialer/dialtest"
	"github.com/dialguard/dialguard/examples/clients"
)

// TestNATSDialer checks that a NATSDialer's dial ends with its Context and
// with its Timeout, on an address that stalls (and not at dialguard's 30 s
// WithTimeout), and connects where the address answers.
func TestNATSDialer(t *testing.T) {
	st := dialtest.NewStalled(t, "127.0.0.1:0")
	h := dialtest.NewHealthy(t, "127.0.0.2:0")
	res := dialtest.NewResolver(map[string]dialtest.Host{
		"stalled.test": {IPv4: []netip.Addr{st.Addr().Addr()}},
		"healthy.test": {IPv4: []netip.Addr{h.Addr().Addr()}},
	})
	d, err := dialer.New(dialer.WithResolver(res), dialer.WithoutBreaker(), dialer.WithAttemptTimeout(10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	stalled := net.JoinHostPort("stalled.test", portOf(st.Addr()))

	// A generous bound: the dial must end near its bound, far from the
	// 10 s attempt timeout.
	const bound = 200 * time.Millisecond
	const slack = 2 * time.Second

	ctx, cancel := context.WithTimeout(context.Background(), bound)
	defer cancel()
	cases := []struct {
		name string
		nd   clients.NATSDialer
		want error
	}{
		{"its context ends the dial", clients.NATSDialer{Dialer: d, Context: ctx}, context.DeadlineExceeded},
		{"its timeout ends the dial", clients.NATSDialer{Dialer: d, Timeout: bound}, context.DeadlineExceeded},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			start := time.Now()
			conn, err := c.nd.Dial("tcp", stalled)
			el := time.Since(start)
			if err == nil {
				conn.Close()
				t.Fatal("dial to a stalled address connected")
			}
			if !errors.Is(err, c.want) || el > bound+slack {
				t.Errorf("Dial = %v after %v, want %v within %v", err, el, c.want, bound+slack)
			}
		})
	}
	t.Run("it connects where the address answers", func(t *testing.T) {
		conn, err := clients.NATSDialer{Dialer: d, Timeout: time.Second}.Dial("tcp", net.JoinHostPort("healthy.test", portOf(h.Addr())))
		if err != nil {
			t.Fatal(err)
		}
		conn.Close()
	})
}

// portOf returns ap's port as text.
func portOf(ap netip.AddrPort) string { return strconv.Itoa(int(ap.Port())) }
