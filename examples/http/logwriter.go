package main

import (
	"io"
	"sync"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// lockedWriter serialises writes to w, which the dialer's log lines and the
// fetch lines share.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

// Write writes p to the underlying writer under the lock.
func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// Sync does nothing; it makes lockedWriter a zapcore.WriteSyncer.
func (l *lockedWriter) Sync() error { return nil }

// newLogger returns zap's development logger (console encoding, Debug
// level), writing to w instead of stderr so that its lines and the fetch
// lines come out in order on one stream.
func newLogger(w zapcore.WriteSyncer) *zap.Logger {
	enc := zapcore.NewConsoleEncoder(zap.NewDevelopmentEncoderConfig())
	return zap.New(zapcore.NewCore(enc, w, zapcore.DebugLevel), zap.Development())
}
