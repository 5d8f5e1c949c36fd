package clients_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"testing"

	"github.com/dialguard/dialguard/dialer"
)

// httpServer is an in-process HTTP server answering "ok" to every request.
type httpServer struct {
	srv    *http.Server
	served chan error
}

func (s *httpServer) start(port uint16) error {
	l, err := net.Listen("tcp", v4(port))
	if err != nil {
		return err
	}
	s.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		io.WriteString(w, "ok")
	})}
	s.served = make(chan error, 1)
	go func() { s.served <- s.srv.Serve(l) }()
	return nil
}

// stop closes the listener and every connection and waits for Serve.
func (s *httpServer) stop() {
	if s.srv != nil {
		s.srv.Close()
		<-s.served
		s.srv = nil
	}
}

// httpTransport is the README's net/http recipe.
func httpTransport(d *dialer.Dialer) *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.DialContext = d.DialContext
	// MaxConnsPerHost stays 0 (no limit): with a limit, callers queue
	// for a connection slot behind each other's dials, and an open
	// breaker's answer reaches the last of them late (with 8, a third
	// of the outage's calls took over 10 ms here). dialguard's admission
	// limit already bounds the dials to a host that stalls.
	return t
}

// httpGet gets http://address/ with c.
func httpGet(ctx context.Context, c *http.Client, address string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+address+"/", nil)
	if err != nil {
		return err
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK || string(body) != "ok" {
		return fmt.Errorf("GET: %s %q", resp.Status, body)
	}
	return nil
}

// TestHTTP puts net/http, against an in-process server, through the
// incident, an outage and a recovery.
func TestHTTP(t *testing.T) {
	runScenario(t, subject{
		server:        &httpServer{},
		dialPerCaller: true,
		fresh: func(ctx context.Context, d *dialer.Dialer, address string) error {
			tr := httpTransport(d)
			defer tr.CloseIdleConnections()
			return httpGet(ctx, &http.Client{Transport: tr}, address)
		},
		shared: func(d *dialer.Dialer, address string) (func(context.Context) error, func(), error) {
			tr := httpTransport(d)
			c := &http.Client{Transport: tr}
			return func(ctx context.Context) error { return httpGet(ctx, c, address) }, tr.CloseIdleConnections, nil
		},
		circuitOpen: func(err error) bool { return errors.Is(err, dialer.ErrCircuitOpen) },
	})
}
