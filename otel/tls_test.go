package dialotel_test

import (
	"crypto/tls"
	"crypto/x509"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"

	"github.com/dialguard/dialguard/dialer"
	dialotel "github.com/dialguard/dialguard/otel"
)

// A TLS dial's attempt span has the handshake as its child span, ending
// with it, and inside it.
func TestTLSHandshakeSpan(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.NotFoundHandler())
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the connection is closed unused
	srv.StartTLS()
	t.Cleanup(srv.Close)
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	r := newRig(t)
	d := r.dialer(t, dialer.WithTLSConfig(&tls.Config{RootCAs: pool}))
	c, err := d.DialTLSContext(t.Context(), "tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	c.Close()

	attempts := r.spansNamed(dialotel.SpanAttempt)
	handshakes := r.spansNamed(dialotel.SpanHandshake)
	if len(attempts) != 1 || len(handshakes) != 1 {
		t.Fatalf("%d attempt spans and %d handshake spans, want 1 and 1", len(attempts), len(handshakes))
	}
	a, h := attempts[0], handshakes[0]
	if h.Parent().SpanID() != a.SpanContext().SpanID() {
		t.Error("the handshake span is not the attempt span's child")
	}
	if !h.EndTime().Equal(a.EndTime()) || h.StartTime().Before(a.StartTime()) || !h.StartTime().Before(h.EndTime()) {
		t.Errorf("handshake span %v..%v, attempt span %v..%v: want the handshake to end the attempt",
			h.StartTime(), h.EndTime(), a.StartTime(), a.EndTime())
	}
	dials := r.spansNamed(dialotel.SpanDial)
	if v, _ := attr(dials[0], "dialguard.tls"); len(dials) != 1 || !v.AsBool() {
		t.Errorf("dial span of a TLS dial: tls attribute %v", v)
	}
}

// A plain TCP dial has no handshake span.
func TestNoHandshakeSpanWithoutTLS(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	t.Cleanup(srv.Close)
	r := newRig(t)
	d := r.dialer(t)
	c, err := d.DialContext(t.Context(), "tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	if n := len(r.spansNamed(dialotel.SpanAttempt)); n != 1 {
		t.Errorf("%d attempt spans, want 1", n)
	}
	if n := len(r.spansNamed(dialotel.SpanHandshake)); n != 0 {
		t.Errorf("%d handshake spans in a plain TCP dial", n)
	}
}

// A handshake refused on its certificate: the attempt is rejected, and the
// handshake span carries the error and its type.
func TestRejectedHandshakeSpan(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.NotFoundHandler())
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshake is expected
	srv.StartTLS()
	t.Cleanup(srv.Close)
	r := newRig(t)
	d := r.dialer(t) // the system's roots: httptest's certificate is unknown
	if _, err := d.DialTLSContext(t.Context(), "tcp", srv.Listener.Addr().String()); err == nil {
		t.Fatal("a TLS dial to an untrusted certificate connected")
	}
	attempts := r.spansNamed(dialotel.SpanAttempt)
	handshakes := r.spansNamed(dialotel.SpanHandshake)
	if len(attempts) != 1 || len(handshakes) != 1 {
		t.Fatalf("%d attempt spans and %d handshake spans, want 1 and 1", len(attempts), len(handshakes))
	}
	if o, _ := attr(attempts[0], "dialguard.outcome"); o.AsString() != "rejected" {
		t.Errorf("attempt outcome %q, want rejected", o.AsString())
	}
	h := handshakes[0]
	if et, _ := attr(h, "error.type"); h.Status().Code != codes.Error || et.AsString() != "tls_certificate" {
		t.Errorf("handshake span: status %v, error.type %q; want an error of type tls_certificate", h.Status(), et.AsString())
	}
	if n := r.total(t, dialotel.MetricAttempts, attribute.String("dialguard.outcome", "rejected"),
		attribute.String("error.type", "tls_certificate")); n != 1 {
		t.Errorf("%v rejected attempts with error.type tls_certificate counted, want 1", n)
	}
}
