package main

import (
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// newLogger returns zap's development logger (console encoding, Debug
// level), writing to w instead of stderr so that its lines and the fetch
// lines come out in order on one stream.
func newLogger(w zapcore.WriteSyncer) *zap.Logger {
	enc := zapcore.NewConsoleEncoder(zap.NewDevelopmentEncoderConfig())
	return zap.New(zapcore.NewCore(enc, w, zapcore.DebugLevel), zap.Development())
}
