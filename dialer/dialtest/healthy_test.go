package dialtest_test

import (
	"io"
	"net"
	"testing"
	"time"

	"github.com/dialguard/dialguard/dialer/dialtest"
	"go.uber.org/goleak"
)

func TestHealthyEchoesAndCounts(t *testing.T) {
	for _, address := range []string{"127.0.0.1:0", "[::1]:0"} {
		t.Run(address, func(t *testing.T) {
			h, err := dialtest.ListenHealthy(address)
			if err != nil {
				t.Fatal(err)
			}
			var conns []net.Conn
			for i := range 3 {
				c, err := net.DialTimeout("tcp", h.String(), 10*time.Second)
				if err != nil {
					t.Fatal(err)
				}
				conns = append(conns, c)
				msg := []byte("ping")
				if _, err := c.Write(msg); err != nil {
					t.Fatal(err)
				}
				got := make([]byte, len(msg))
				c.SetReadDeadline(time.Now().Add(10 * time.Second))
				if _, err := io.ReadFull(c, got); err != nil || string(got) != "ping" {
					t.Fatalf("echo = %q, %v; want %q", got, err, msg)
				}
				if n := h.Accepted(); n != int64(i+1) {
					t.Errorf("Accepted() = %d, want %d", n, i+1)
				}
			}
			// Close with client connections still open: it must close
			// the accepted ones and end every goroutine.
			if err := h.Close(); err != nil {
				t.Fatal(err)
			}
			if err := h.Close(); err != nil {
				t.Fatalf("second Close = %v, want nil", err)
			}
			for _, c := range conns {
				c.Close()
			}
			goleak.VerifyNone(t)
		})
	}
}
