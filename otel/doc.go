// Package dialotel reports what a dialguard Dialer sees to OpenTelemetry:
// metrics of its dials, attempts, retries, admission waits, stalls and
// circuit breakers, and a trace span per dial with a child span per
// connection attempt (and per TLS handshake and DNS answer).
//
// It is a module of its own so that the OpenTelemetry SDK stays out of the
// dialer's dependencies. Turn it on with one option:
//
//	inst, err := dialotel.New() // the global MeterProvider and TracerProvider
//	if err != nil { ... }
//	d, err := dialer.New(inst.Option())
//
// No semantic convention exists yet for a client's connection setup, so
// the attributes are the existing general ones (server.address,
// server.port, network.peer.address, network.type, error.type) and the
// rest are named under "dialguard.". Durations are in seconds. Every
// attribute has few values per destination: server.address is the
// destination's host, so a client dialing many hosts has as many series
// as hosts; there is never a per-dial value.
package dialotel
