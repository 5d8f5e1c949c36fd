package clients

import (
	"errors"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/dialguard/dialguard/dialer"
)

// grpcDialFailure is the text gRPC puts before a dial error's text when a
// connection could not be made (google.golang.org/grpc/internal/transport).
const grpcDialFailure = "transport: Error while dialing: "

// IsCircuitOpen reports whether err tells that dialguard's breaker refused
// the dial: errors.Is(err, dialer.ErrCircuitOpen), or, for gRPC, which
// keeps only the text of a dial error, a status error with code
// Unavailable whose message carries gRPC's dial failure with
// ErrCircuitOpen's text in it.
//
// A status the server sent has no dial failure in it, so a server's own
// "circuit open" is not taken for dialguard's. The gRPC test is on text:
// it holds as long as gRPC words its dial failures as it does today
// (TestGRPC checks it against a real gRPC client).
func IsCircuitOpen(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, dialer.ErrCircuitOpen) {
		return true
	}
	st, ok := status.FromError(err)
	if !ok || st.Code() != codes.Unavailable {
		return false
	}
	msg := st.Message()
	i := strings.Index(msg, grpcDialFailure)
	return i >= 0 && strings.Contains(msg[i+len(grpcDialFailure):], dialer.ErrCircuitOpen.Error())
}
