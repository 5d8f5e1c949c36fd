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
//
// The metrics (and their names through OpenTelemetry's Prometheus
// exporter):
//
//	dialguard.dial.duration       histogram, s  dialguard_dial_duration_seconds   server.*, dialguard.outcome (connected, failed, circuit_open), network.type of the winner, error.type
//	dialguard.attempts            counter       dialguard_attempts_total          server.*, network.peer.address, network.type, dialguard.outcome (the attempt's), error.type
//	dialguard.stalls              counter       dialguard_stalls_total            server.*, network.peer.address, network.type
//	dialguard.retries             counter       dialguard_retries_total           server.*, error.type of the failure retried
//	dialguard.admission.wait      histogram, s  dialguard_admission_wait_seconds  server.*, error.type when not let through
//	dialguard.breaker.transitions counter       dialguard_breaker_transitions_total  dialguard.breaker.kind, .from_state, .state
//	dialguard.breaker.open        up-down       dialguard_breaker_open            dialguard.breaker.kind
//	dialguard.rtt                 gauge, s      dialguard_rtt_seconds             server.*
//
// The spans: "dialguard.dial" per dial, a child of the caller's span,
// with "socket connect" per attempt (its address, family, round, start
// offset and outcome), "TLS client handshake" under a TLS dial's attempt,
// and "DNS lookup" per answer of the resolver; retries and admission
// waits are events of the dial's span.
package dialotel
