// Package dialtest provides real loopback endpoints and name resolution for
// testing dialers, in the spirit of net/http/httptest.
//
// The incident dialguard exists for is a host whose IPv6 address swallows
// SYNs while its IPv4 address answers: a dialer that tries IPv6 first sits in
// SYN_SENT until its timeout. This package reproduces that on loopback,
// without root and without mocks of the network:
//
//   - Stalled is an address whose handshakes never complete. It listens with a
//     backlog of 0 and fills its own accept queue, after which the kernel
//     drops every SYN sent to it.
//   - Refused is an address that answers every SYN with a RST.
//   - Healthy is an echo server.
//   - SilentTLS accepts TCP connections and never answers the TLS
//     ClientHello: it parks a TLS client in its handshake.
//   - DualStack puts a Stalled on [::1]:P and a Healthy on 127.0.0.1:P.
//   - Resolver is a table-driven fake with the LookupNetIP method of
//     *net.Resolver, with per-family delays that follow testing/synctest.
//   - DNSServer is an in-process DNS responder behind a real *net.Resolver,
//     so that net.Dialer itself can dial chosen names for a side-by-side
//     measurement; SetDelay makes it a slow one.
//   - CountSynSent, SampleSynSent and OpenFDs observe the kernel
//     (/proc/net/tcp, /proc/self/fd) to show stalled dials and leaks.
//
// Endpoints take an "ip:port" on loopback (127.0.0.0/8 or ::1), or on a far
// host of the network lab in package netlab (198.18.0.0/15, 2001:2::/48,
// made from inside that host's namespace); nothing else. Port 0
// picks a free port, and a fixed port lets several loopback addresses share
// one port ("127.0.0.2:" + port). Each NewX constructor is the ListenX
// function for tests: it fails the test on error and closes the endpoint in
// tb.Cleanup. Every goroutine the package starts is ended by the Close or
// Stop of the value that started it.
//
// The socket helpers (Stalled, Refused, DualStack) and the /proc helpers
// are available on Linux only.
package dialtest
