package dialer

import (
	"net/netip"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/dialguard/dialguard/dialer/dialtest"
)

func TestAttemptsAndRetriesAreLoggedAtDebugWithStructuredFields(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		core, logs := observer.New(zapcore.DebugLevel)
		f := newFakeNet(map[string]*script{
			"[2001:db8::1]:80": {stall: true},
			"192.0.2.1:80":     {refuseN: 1, after: time.Millisecond},
		})
		d := newFakeDialer(t, f, map[string]dialtest.Host{
			"log.test": {IPv6: addrs("2001:db8::1"), IPv4: addrs("192.0.2.1")},
		}, WithLogger(zap.New(core)), WithAttemptTimeout(100*time.Millisecond))
		c, err := d.DialContext(t.Context(), "tcp", "log.test:80")
		if err != nil {
			t.Fatal(err)
		}
		c.Close()
		attempts := logs.FilterMessage("dial attempt").All()
		if len(attempts) < 3 {
			t.Fatalf("%d attempt entries, want at least 3 (stall, refusal, success)", len(attempts))
		}
		for _, e := range attempts {
			if e.Level != zapcore.DebugLevel || e.LoggerName != "dialguard" {
				t.Errorf("attempt logged at %v by %q, want Debug by dialguard", e.Level, e.LoggerName)
			}
			fields := e.ContextMap()
			for _, k := range []string{"destination", "address", "family", "attempt", "outcome", "elapsed"} {
				if _, ok := fields[k]; !ok {
					t.Errorf("attempt entry lacks field %q: %v", k, fields)
				}
			}
			if fields["destination"] != "log.test:80" {
				t.Errorf("destination = %v", fields["destination"])
			}
		}
		retries := logs.FilterMessage("dial retry").All()
		if len(retries) != 1 {
			t.Fatalf("%d retry entries, want 1", len(retries))
		}
		r := retries[0].ContextMap()
		if r["attempt"] != int64(2) || r["wait"] == nil || r["error"] == nil {
			t.Errorf("retry entry %v: want attempt 2, the wait and the cause", r)
		}
	})
}

func TestHealthyPathLogsNothingAboveDebug(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		core, logs := observer.New(zapcore.InfoLevel)
		f := newFakeNet(map[string]*script{"192.0.2.1:80": {after: time.Millisecond}})
		d := newFakeDialer(t, f, nil, WithLogger(zap.New(core)))
		for range 10 {
			c, err := d.DialContext(t.Context(), "tcp", "192.0.2.1:80")
			if err != nil {
				t.Fatal(err)
			}
			c.Close()
		}
		if n := logs.Len(); n != 0 {
			t.Errorf("%d entries at Info or above on the healthy path: %v", n, logs.All())
		}
	})
}

func TestLoggingADisabledLevelAllocatesNothing(t *testing.T) {
	res := attemptResult{addr: netip.MustParseAddrPort("192.0.2.1:80"), outcome: Connected, elapsed: time.Millisecond}
	for name, l := range map[string]*zap.Logger{
		"nop":  zap.NewNop(),
		"info": zap.New(zapcore.NewCore(zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig()), zapcore.AddSync(discard{}), zapcore.InfoLevel)),
	} {
		d, err := New(WithLogger(l))
		if err != nil {
			t.Fatal(err)
		}
		if n := testing.AllocsPerRun(100, func() { d.logAttempt("x.test:80", 1, &res) }); n != 0 {
			t.Errorf("%s logger: %v allocations per attempt log, want 0", name, n)
		}
		if n := testing.AllocsPerRun(100, func() { d.logRetry("x.test:80", 2, time.Millisecond, errLostRace) }); n != 0 {
			t.Errorf("%s logger: %v allocations per retry log, want 0", name, n)
		}
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
