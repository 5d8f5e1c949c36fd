package dialtest_test

import (
	"errors"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/dialguard/dialguard/dialer/dialtest"
)

func TestRefusedRefusesQuickly(t *testing.T) {
	for _, address := range []string{"127.0.0.1:0", "[::1]:0"} {
		t.Run(address, func(t *testing.T) {
			r := dialtest.NewRefused(t, address)
			start := time.Now()
			c, err := net.DialTimeout("tcp", r.String(), 10*time.Second)
			if err == nil {
				c.Close()
				t.Fatal("dial to a Refused connected")
			}
			if !errors.Is(err, syscall.ECONNREFUSED) {
				t.Fatalf("dial error = %v, want ECONNREFUSED", err)
			}
			if elapsed := time.Since(start); elapsed > 2*time.Second {
				t.Errorf("refusal took %v", elapsed)
			}
			if _, err := net.Listen("tcp", r.String()); err == nil {
				t.Error("another listener took the port of a Refused")
			}
			if err := r.Close(); err != nil {
				t.Fatal(err)
			}
			if err := r.Close(); err != nil {
				t.Fatalf("second Close = %v, want nil", err)
			}
		})
	}
}
