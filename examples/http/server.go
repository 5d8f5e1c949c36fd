package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/dialguard/dialguard/dialer/dialtest"
)

// portTries is how many ports listenIncident tries before giving up.
const portTries = 5

// incident is the server side of the demonstration: a Stalled on [::1]:port
// and an HTTP server on 127.0.0.1:port. Close releases both.
type incident struct {
	stalled *dialtest.Stalled
	srv     *http.Server
	port    uint16
	served  chan error // Serve's result, once it has returned
}

// listenIncident binds a Stalled on [::1]:0 and then an HTTP listener on
// 127.0.0.1 at the same port, trying a fresh port if that one is taken, and
// starts serving. On error nothing is left open.
func listenIncident() (*incident, error) {
	var errs []error
	for range portTries {
		st, err := dialtest.ListenStalled("[::1]:0")
		if err != nil {
			return nil, fmt.Errorf("stalled listener: %w", err)
		}
		port := st.Addr().Port()
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(int(port))))
		if err != nil {
			st.Close()
			errs = append(errs, err)
			continue
		}
		in := &incident{
			stalled: st,
			port:    port,
			srv:     &http.Server{Handler: http.HandlerFunc(hello), ReadHeaderTimeout: 5 * time.Second},
			served:  make(chan error, 1),
		}
		go func() { in.served <- in.srv.Serve(l) }()
		return in, nil
	}
	return nil, fmt.Errorf("no port free on both [::1] and 127.0.0.1 after %d tries: %w", portTries, errors.Join(errs...))
}

// hello answers every request with where it was served.
func hello(w http.ResponseWriter, r *http.Request) {
	local, _ := r.Context().Value(http.LocalAddrContextKey).(net.Addr)
	io.WriteString(w, "hello from "+local.String())
}

// Close stops the HTTP server (closing its connections), waits for Serve to
// return, and closes the Stalled. Call it once.
func (in *incident) Close() error {
	err := in.srv.Close()
	if serr := <-in.served; !errors.Is(serr, http.ErrServerClosed) {
		err = errors.Join(err, serr)
	}
	return errors.Join(err, in.stalled.Close())
}
