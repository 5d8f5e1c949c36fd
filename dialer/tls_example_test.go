package dialer_test

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"

	"github.com/dialguard/dialguard/dialer"
)

// An http.Client whose TLS connections are dialled by dialguard: the TCP
// connection is raced and guarded, the handshake is bounded and counted by
// the breaker, and HTTP/2 is negotiated by ALPN.
func ExampleDialer_DialTLSContext() {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "hello over "+r.Proto)
	}))
	srv.EnableHTTP2 = true
	srv.StartTLS()
	defer srv.Close()
	roots := x509.NewCertPool()
	roots.AddCert(srv.Certificate()) // in production: leave RootCAs nil for the system's roots

	d, err := dialer.New(dialer.WithTLSConfig(&tls.Config{
		RootCAs:    roots,
		NextProtos: []string{"h2", "http/1.1"}, // offer HTTP/2 by ALPN
	}))
	if err != nil {
		panic(err)
	}
	transport := &http.Transport{
		DialTLSContext:    d.DialTLSContext,
		ForceAttemptHTTP2: true, // a custom dialer turns HTTP/2 off unless forced
	}
	defer transport.CloseIdleConnections()
	client := &http.Client{Transport: transport}

	resp, err := client.Get(srv.URL)
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Println(resp.Proto, string(body))
	// Output: HTTP/2.0 hello over HTTP/2.0
}
