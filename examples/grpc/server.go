package main

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	"google.golang.org/grpc/health/grpc_health_v1"

	"github.com/dialguard/dialguard/dialer/dialtest"
)

// portTries is how many ports listenPair tries before giving up.
const portTries = 5

// healthServer is a gRPC server with the standard health service, serving
// on one listener. stop ends it.
type healthServer struct {
	srv    *grpc.Server
	served chan error // Serve's result
}

// serveHealth starts a gRPC server reporting SERVING on l.
func serveHealth(l net.Listener) *healthServer {
	srv := grpc.NewServer()
	hs := health.NewServer()
	hs.SetServingStatus("", grpc_health_v1.HealthCheckResponse_SERVING)
	grpc_health_v1.RegisterHealthServer(srv, hs)
	h := &healthServer{srv: srv, served: make(chan error, 1)}
	go func() { h.served <- srv.Serve(l) }()
	return h
}

// listenHealth listens on 127.0.0.1:port and serves health there.
func listenHealth(port uint16) (*healthServer, error) {
	l, err := net.Listen("tcp", v4(port))
	if err != nil {
		return nil, err
	}
	return serveHealth(l), nil
}

// stop closes the listener and every connection at once (grpc.Server.Stop),
// so that clients must redial, and waits for Serve to return. Call it once.
func (h *healthServer) stop() error {
	h.srv.Stop()
	return <-h.served
}

// listenPair binds a Stalled on [::1]:0 and then a gRPC health server on
// 127.0.0.1 at the same port, trying a fresh port if that one is taken. On
// error nothing is left open.
func listenPair() (*dialtest.Stalled, *healthServer, error) {
	var errs []error
	for range portTries {
		st, err := dialtest.ListenStalled("[::1]:0")
		if err != nil {
			return nil, nil, fmt.Errorf("stalled listener: %w", err)
		}
		h, err := listenHealth(st.Addr().Port())
		if err != nil {
			st.Close()
			errs = append(errs, err)
			continue
		}
		return st, h, nil
	}
	return nil, nil, fmt.Errorf("no port free on both [::1] and 127.0.0.1 after %d tries: %w", portTries, errors.Join(errs...))
}

// v4 returns "127.0.0.1:port".
func v4(port uint16) string {
	return netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 1}), port).String()
}

// hostPort returns "host:port".
func hostPort(host string, port uint16) string {
	return net.JoinHostPort(host, strconv.Itoa(int(port)))
}
