package dialer

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"
	"time"
)

// ErrHandshakeTimeout is the cause of a TLS dial whose handshake reached
// WithHandshakeTimeout: the server accepted the TCP connection and never
// finished the handshake. It is a stall, so errors.Is(err,
// ErrAttemptTimeout) is true as well, and net.Error's Timeout reports
// true.
var ErrHandshakeTimeout error = handshakeTimeoutError{}

// handshakeTimeoutError is a TLS handshake that reached the handshake
// timeout. It matches ErrHandshakeTimeout and ErrAttemptTimeout.
type handshakeTimeoutError struct{ after time.Duration }

func (e handshakeTimeoutError) Error() string {
	if e.after == 0 {
		return "TLS handshake unanswered within the handshake timeout (stall)"
	}
	return fmt.Sprintf("TLS handshake unanswered after %v (stall)", e.after)
}
func (handshakeTimeoutError) Timeout() bool   { return true }
func (handshakeTimeoutError) Temporary() bool { return true }
func (handshakeTimeoutError) Is(target error) bool {
	switch target.(type) {
	case handshakeTimeoutError, stallError:
		return true
	}
	return false
}

// defaultHandshakeStall is the cause of a handshake stall under
// DefaultHandshakeTimeout.
var defaultHandshakeStall error = handshakeTimeoutError{DefaultHandshakeTimeout}

// DialTLSContext connects to address on network and runs the TLS handshake
// on the connection, as tls.Dialer.DialContext does. It returns a
// *tls.Conn whose handshake is complete. Its signature is the one of
// http.Transport's DialTLSContext.
//
// The TCP part is an ordinary DialContext dial: breaker, admission, the race
// of the addresses, stall memory, retries. The handshake is part of each
// attempt and runs under the earlier of the dial's deadline and
// WithHandshakeTimeout (10 s); cancelling ctx aborts it at once. So the
// outcome the dialer records for an address and its destination is that of
// TCP and TLS together:
//
//   - A handshake that reaches the handshake timeout is a stall: it counts
//     against the address and the destination exactly like a TCP stall (a
//     destination that keeps stalling trips its breaker, and callers then
//     fail fast with ErrCircuitOpen), the address is tried last next time,
//     and the dial may be retried on a fresh connection within its
//     deadline. Its error matches ErrHandshakeTimeout and
//     ErrAttemptTimeout.
//   - A certificate or protocol error (an unknown authority, a name that
//     does not match, an alert from the server, a peer that does not speak
//     TLS) is not an outage but a configuration problem: it is returned at
//     once, never retried, other addresses are not tried, and no breaker
//     counts it.
//   - A connection reset or closed during the handshake counts like a
//     refused connection, and is retried.
//
// The configuration is WithTLSConfig's, cloned, with ServerName set to the
// host of address when it is empty; NextProtos (ALPN) is kept. Errors are
// *net.OpError with Op "dial", as for DialContext, wrapping the standard
// library's: errors.As(err, new(*tls.CertificateVerificationError)),
// errors.As(err, new(tls.RecordHeaderError)) and errors.As(err,
// new(tls.AlertError)) work. Networks other than tcp, tcp4 and tcp6 are
// dialled with net.Dialer and the deadline applied, then handshaken under
// the same bounds, without breakers.
//
// To use it under HTTP/2, offer "h2" by ALPN and let the transport accept
// it:
//
//	d, err := dialer.New(dialer.WithTLSConfig(&tls.Config{
//		NextProtos: []string{"h2", "http/1.1"},
//	}))
//	...
//	client := &http.Client{Transport: &http.Transport{
//		DialTLSContext:    d.DialTLSContext,
//		ForceAttemptHTTP2: true,
//	}}
//
// http.Transport does not apply its TLSClientConfig or TLSHandshakeTimeout
// to connections from DialTLSContext: set them here.
func (d *Dialer) DialTLSContext(ctx context.Context, network, address string) (net.Conn, error) {
	return d.dial(ctx, network, address, true)
}

// tlsConfigFor returns the config of a handshake with host: the base config
// itself when it names its server, else a clone naming host.
func (d *Dialer) tlsConfigFor(host string) *tls.Config {
	base := d.cfg.tls.base
	if base == nil {
		return &tls.Config{ServerName: host}
	}
	if base.ServerName != "" {
		return base // shared read-only, as tls.Dialer shares it
	}
	c := base.Clone()
	c.ServerName = host
	return c
}

// handshakeLimit returns the handshake timeout and its stall cause.
func (d *Dialer) handshakeLimit() (time.Duration, error) {
	if d.cfg.tls.handshakeTimeout == 0 {
		return DefaultHandshakeTimeout, defaultHandshakeStall
	}
	return d.cfg.tls.handshakeTimeout, d.cfg.tls.stallErr
}

// handshake runs the TLS handshake on res.conn, just connected, under the
// earlier of the handshake timeout and the dial's deadline, and classifies
// the attempt: Connected with the *tls.Conn, Stalled, Failed (the
// connection dropped), Rejected (certificate or protocol), or, when ctx
// cut it short, Lost, LostSlow or Canceled as for a TCP attempt. The TCP
// connection is closed unless the handshake completed.
func (d *Dialer) handshake(ctx context.Context, b bounds, res *attemptResult) {
	hsStart := time.Now()
	timeout, limitCause := d.handshakeLimit()
	limit := hsStart.Add(timeout)
	if !b.deadline.After(limit) {
		limit, limitCause = b.deadline, b.expired
	}
	hctx, cancel := context.WithDeadlineCause(ctx, limit, limitCause)
	tc := tls.Client(res.conn, b.tls)
	err := tc.HandshakeContext(hctx)
	cause, ended := context.Cause(hctx), hctx.Err() // read before cancel, which would set them
	cancel()
	now := time.Now()
	res.elapsed, res.handshake = now.Sub(res.start), now.Sub(hsStart)
	if err == nil {
		res.conn, res.outcome = tc, Connected
		return
	}
	tc.Close() // closes the TCP connection; no alert before the handshake completed
	res.conn, res.err = nil, err
	switch {
	case cause != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)):
		res.err = cause // HandshakeContext reports ctx.Err(), not its cause
		d.classifyCut(res, cause, ended)
	case droppedInHandshake(err):
		res.outcome = Failed
	default:
		res.outcome = Rejected
	}
}

// droppedInHandshake reports whether a handshake failed because the
// connection broke (closed, reset) rather than on what the peer said: the
// first is a transport failure, worth a retry; the second is Rejected.
func droppedInHandshake(err error) bool {
	var errno syscall.Errno
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, net.ErrClosed) || errors.As(err, &errno)
}

// dialTLSPassThrough is DialTLSContext for networks other than tcp*: the
// net.Dialer connection with the deadline applied, then the handshake under
// the same bounds as in a tcp dial, without breakers or memory. The server
// name is taken from address as tls.Dialer takes it.
func (d *Dialer) dialTLSPassThrough(ctx context.Context, network, address string) (net.Conn, error) {
	start := time.Now()
	deadline, expired := d.deadline(ctx, start)
	dctx, cancel := context.WithDeadlineCause(ctx, deadline, expired)
	defer cancel()
	conn, err := d.cfg.netDialer.DialContext(dctx, network, address)
	if err != nil {
		return nil, err
	}
	host := address
	if i := strings.LastIndex(address, ":"); i >= 0 {
		host = address[:i]
	}
	res := attemptResult{conn: conn, start: start}
	d.handshake(ctx, bounds{network: network, deadline: deadline, expired: expired, tls: d.tlsConfigFor(host)}, &res)
	if res.conn == nil {
		return nil, opError(network, address, res.err)
	}
	return res.conn, nil
}
