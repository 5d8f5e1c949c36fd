package dialtest_test

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/dialguard/dialguard/dialer/dialtest"
	"go.uber.org/goleak"
)

func TestSilentTLSAcceptsAndNeverAnswersTheHandshake(t *testing.T) {
	for _, address := range []string{"127.0.0.1:0", "[::1]:0"} {
		t.Run(address, func(t *testing.T) {
			s, err := dialtest.ListenSilentTLS(address)
			if err != nil {
				t.Fatal(err)
			}
			const wait = 300 * time.Millisecond
			start := time.Now() // before the deadline is set, which counts from its own now
			ctx, cancel := context.WithTimeout(t.Context(), wait)
			defer cancel()
			td := &tls.Dialer{Config: &tls.Config{ServerName: "silent.test"}}
			_, err = td.DialContext(ctx, "tcp", s.String())
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("tls dial: err = %v, want the context's deadline (the handshake never answered)", err)
			}
			if took := time.Since(start); took < wait {
				t.Errorf("tls dial returned after %v, before the deadline (%v)", took, wait)
			}
			if n := s.Accepted(); n != 1 {
				t.Errorf("Accepted() = %d, want 1: the TCP handshake completes", n)
			}

			// A held connection sees EOF when the SilentTLS closes.
			c, err := net.DialTimeout("tcp", s.String(), 10*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			for s.Accepted() < 2 {
				time.Sleep(time.Millisecond)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			if err := s.Close(); err != nil {
				t.Fatalf("second Close = %v, want nil", err)
			}
			c.SetReadDeadline(time.Now().Add(10 * time.Second))
			if _, err := c.Read(make([]byte, 1)); err != io.EOF {
				t.Errorf("read after Close = %v, want EOF", err)
			}
			goleak.VerifyNone(t)
		})
	}
}

func TestSilentTLSRejectsNonLoopback(t *testing.T) {
	if _, err := dialtest.ListenSilentTLS("192.0.2.1:0"); err == nil {
		t.Fatal("ListenSilentTLS(192.0.2.1:0) succeeded; want an error")
	}
}
