package breaker

import (
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

type change struct {
	key      string
	from, to State
	seen     State // r.State(key) called from inside the hook
}

func TestStateChangeHookAndLogs(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		core, logs := observer.New(zapcore.DebugLevel)
		var (
			mu      sync.Mutex
			changes []change
			r       *Registry
		)
		r = newTestRegistry(t, Settings{
			ConsecutiveFailures: 1,
			Logger:              zap.New(core),
			OnStateChange: func(k string, from, to State) {
				seen := r.State(k) // must not deadlock
				mu.Lock()
				changes = append(changes, change{k, from, to, seen})
				mu.Unlock()
			},
		})

		report(t, r, Failure)
		time.Sleep(5*time.Second + time.Millisecond)
		report(t, r, Failure) // failed probe: open for 10s
		time.Sleep(10*time.Second + time.Millisecond)
		report(t, r, Success)

		want := []change{
			{key, Closed, Open, Open},
			{key, Open, HalfOpen, HalfOpen},
			{key, HalfOpen, Open, Open},
			{key, Open, HalfOpen, HalfOpen},
			{key, HalfOpen, Closed, Closed},
		}
		mu.Lock()
		defer mu.Unlock()
		if len(changes) != len(want) {
			t.Fatalf("hook calls = %+v, want %+v", changes, want)
		}
		for i := range want {
			if changes[i] != want[i] {
				t.Errorf("hook call %d = %+v, want %+v", i, changes[i], want[i])
			}
		}

		entries := logs.AllUntimed()
		if len(entries) != len(want) {
			t.Fatalf("got %d log entries, want %d: %+v", len(entries), len(want), entries)
		}
		wantLevels := []zapcore.Level{zapcore.WarnLevel, zapcore.InfoLevel, zapcore.WarnLevel, zapcore.InfoLevel, zapcore.InfoLevel}
		for i, e := range entries {
			if e.Level != wantLevels[i] {
				t.Errorf("entry %d %q: level %v, want %v", i, e.Message, e.Level, wantLevels[i])
			}
		}

		reopen := entries[2].ContextMap()
		wantFields := map[string]any{
			"key": key, "from": "half-open", "state": "open", "trips": int64(2), "open_for": 10 * time.Second,
		}
		for k, v := range wantFields {
			if reopen[k] != v {
				t.Errorf("reopen entry field %q = %v, want %v (all: %v)", k, reopen[k], v, reopen)
			}
		}
		closed := entries[4].ContextMap()
		if closed["key"] != key || closed["from"] != "half-open" || closed["state"] != "closed" || closed["trips"] != int64(0) {
			t.Errorf("close entry fields = %v", closed)
		}
	})
}
