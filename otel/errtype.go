package dialotel

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"syscall"

	"github.com/dialguard/dialguard/dialer"
)

// errorType is error.type's value for a dial's or an attempt's error: a
// short name from a fixed list, so that it never multiplies the series,
// or "_OTHER", the semantic conventions' fallback.
func errorType(err error) string {
	var errno syscall.Errno
	var dnsErr *net.DNSError
	var certErr *tls.CertificateVerificationError
	var unknownAuth x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var alert tls.AlertError
	var recordErr tls.RecordHeaderError
	switch {
	case err == nil:
		return ""
	case errors.Is(err, dialer.ErrCircuitOpen):
		return "circuit_open"
	case errors.Is(err, dialer.ErrHandshakeTimeout):
		return "tls_handshake_timeout"
	case errors.Is(err, dialer.ErrAttemptTimeout):
		return "stalled"
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	case errors.As(err, &dnsErr):
		if dnsErr.IsNotFound {
			return "dns_not_found"
		}
		if dnsErr.IsTimeout {
			return "dns_timeout"
		}
		return "dns_error"
	case errors.As(err, &certErr), errors.As(err, &unknownAuth), errors.As(err, &hostErr):
		return "tls_certificate"
	case errors.As(err, &alert), errors.As(err, &recordErr):
		return "tls_protocol"
	case errors.As(err, &errno):
		if name, ok := errnoNames[errno]; ok {
			return name
		}
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return "timeout"
	}
	return "_OTHER"
}

// errnoNames are the errors a connect returns that are worth telling
// apart.
var errnoNames = map[syscall.Errno]string{
	syscall.ECONNREFUSED:  "connection_refused",
	syscall.ECONNRESET:    "connection_reset",
	syscall.ECONNABORTED:  "connection_aborted",
	syscall.EHOSTUNREACH:  "host_unreachable",
	syscall.ENETUNREACH:   "network_unreachable",
	syscall.ETIMEDOUT:     "timeout",
	syscall.EADDRNOTAVAIL: "address_not_available",
	syscall.EPIPE:         "broken_pipe",
}
