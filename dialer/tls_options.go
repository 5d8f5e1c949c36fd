package dialer

import (
	"crypto/tls"
	"time"
)

// DefaultHandshakeTimeout bounds the TLS handshake of a DialTLSContext
// dial, as http.DefaultTransport's TLSHandshakeTimeout does (10 s).
const DefaultHandshakeTimeout = 10 * time.Second

// tlsOptions are the settings of DialTLSContext.
type tlsOptions struct {
	// base is the caller's config, cloned when WithTLSConfig was applied;
	// nil means a zero tls.Config. It is never mutated: a dial that must
	// set ServerName clones it again.
	base *tls.Config
	// handshakeTimeout is zero for DefaultHandshakeTimeout; stallErr is the
	// matching handshakeTimeoutError, boxed once (nil for the default).
	handshakeTimeout time.Duration
	stallErr         error
}

// WithTLSConfig sets the TLS configuration of DialTLSContext. The config
// is cloned when the option is applied, so later changes to c do not affect
// the Dialer, and the Dialer never changes c. The default is a zero
// tls.Config: the system's roots, TLS 1.2 and up, no ALPN.
//
// An empty ServerName is filled, per dial, with the host being dialled
// (the name as given, or the IP literal), as tls.Dialer does. NextProtos
// (ALPN) is kept as given: to use HTTP/2 through http.Transport's
// DialTLSContext, set NextProtos to []string{"h2", "http/1.1"} here and
// ForceAttemptHTTP2 on the transport (see DialTLSContext). A nil config is
// an error.
func WithTLSConfig(c *tls.Config) Option {
	return func(cfg *config) error {
		if c == nil {
			return optionError("WithTLSConfig", "nil *tls.Config (omit the option for the default)")
		}
		cfg.tls.base = c.Clone()
		return nil
	}
}

// WithHandshakeTimeout bounds the TLS handshake of DialTLSContext on its
// own, from the moment the TCP connection is made; the dial's deadline
// (WithTimeout or the context's) still bounds the whole. A handshake that
// reaches it is a stall, like a TCP attempt that reaches the attempt
// timeout: it counts against the address and the destination and may be
// retried on a fresh connection. The default is DefaultHandshakeTimeout
// (10 s, like http.DefaultTransport). It must be positive.
func WithHandshakeTimeout(d time.Duration) Option {
	return func(cfg *config) error {
		if d <= 0 {
			return optionError("WithHandshakeTimeout", "must be positive, got %v", d)
		}
		cfg.tls.handshakeTimeout = d
		cfg.tls.stallErr = handshakeTimeoutError{d}
		return nil
	}
}
