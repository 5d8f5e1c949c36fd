// Package clients holds what the clients people use need to dial through
// dialguard beyond a dial function: IsCircuitOpen tells an open breaker
// from an error in which gRPC kept only the dial error's text, and
// NATSDialer lets nats.go, which dials without a context, dial through a
// dialguard Dialer.
//
// The module's tests are its recipes' proof: go-redis, pgx, nats.go, gRPC
// and net/http, each against its real server on loopback (redis-server,
// PostgreSQL and nats-server from Debian's packages; gRPC and HTTP servers
// in process), through a name whose first address stalls, through an
// outage under 50 callers, and back. See README.md.
//
// It is a module of its own, so that these clients stay out of
// dialguard's dependencies.
package clients
