package dialer

import (
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// logAttempt writes one attempt at Debug. The Check comes first so that a
// disabled level costs no allocation.
func (d *Dialer) logAttempt(dest string, try int, res *attemptResult) {
	ce := d.log.Check(zapcore.DebugLevel, "dial attempt")
	if ce == nil {
		return
	}
	ce.Write(
		zap.String("destination", dest),
		zap.Stringer("address", res.addr),
		zap.String("family", familyName(res.addr.Addr())),
		zap.Int("attempt", try),
		zap.Stringer("outcome", res.outcome),
		zap.Duration("elapsed", res.elapsed),
		zap.Error(res.err),
	)
}

// logRetry writes one retry decision at Debug.
func (d *Dialer) logRetry(dest string, try int, wait time.Duration, cause error) {
	ce := d.log.Check(zapcore.DebugLevel, "dial retry")
	if ce == nil {
		return
	}
	ce.Write(
		zap.String("destination", dest),
		zap.Int("attempt", try),
		zap.Duration("wait", wait),
		zap.Error(cause),
	)
}

// breakerLogger returns the logger the breaker registries use for their
// state changes (Warn on open, Info on close), tagged with what they guard.
func (d *Dialer) breakerLogger(kind string) *zap.Logger {
	return d.log.With(zap.String("breaker", kind))
}
