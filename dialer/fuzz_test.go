package dialer

import (
	"errors"
	"math"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/dialguard/dialguard/breaker"
)

// FuzzParseTarget feeds arbitrary networks and addresses to the validation
// that runs before any I/O. It must never panic, must answer with the
// standard library's error types, and whatever it accepts must be
// dialable: a port in range, a key, a family that matches.
// The seed corpus is in testdata/fuzz/FuzzParseTarget.
func FuzzParseTarget(f *testing.F) {
	for _, seed := range [][2]string{
		{"tcp", "example.com:443"}, {"tcp6", "[::1]:80"}, {"tcp4", "[::1]:80"},
		{"tcp", "[fe80::1%eth0]:22"}, {"tcp", "127.0.0.1:0"}, {"udp", "x:1"},
		{"tcp", "Example.COM:443"}, {"tcp", "[example.com]:80"}, {"tcp6", ":80"}, {"tcp", ":http"},
	} {
		f.Add(seed[0], seed[1])
	}
	f.Fuzz(func(t *testing.T, network, address string) {
		tg, err := parseTarget(network, address)
		if err != nil {
			var ae *net.AddrError
			var une net.UnknownNetworkError
			if !errors.As(err, &ae) && !errors.As(err, &une) {
				t.Fatalf("parseTarget(%q, %q) error %T %v: not a standard library type", network, address, err, err)
			}
			return
		}
		if tg.host == "" || (tg.service == "") == (tg.key == "") || (tg.service != "" && !validServiceName(tg.service)) {
			t.Fatalf("parseTarget(%q, %q) accepted %+v", network, address, tg)
		}
		if tg.service != "" {
			return // the port is looked up at dial time (service.go)
		}
		if tg.ip.IsValid() {
			if (tg.family == family4 && !tg.ip.Is4()) || (tg.family == family6 && !tg.ip.Is6()) {
				t.Fatalf("parseTarget(%q, %q): family %d with %v", network, address, tg.family, tg.ip)
			}
		} else if !validHostName(tg.host) || strings.ContainsAny(tg.host, " %[]/") {
			t.Fatalf("parseTarget(%q, %q) accepted host %q", network, address, tg.host)
		} else if _, port, _ := net.SplitHostPort(address); tg.key != net.JoinHostPort(tg.host, port) {
			t.Fatalf("parseTarget(%q, %q): key %q, want the lower-case host:port", network, address, tg.key)
		}
	})
}

// FuzzOptions checks that New accepts exactly the valid option values and
// never panics, whatever they are. The seed corpus is in
// testdata/fuzz/FuzzOptions.
func FuzzOptions(f *testing.F) {
	f.Add(int64(time.Second), int64(time.Second), int64(250*time.Millisecond), 0.2, 10, 3, 4, uint32(3), 0.0, int64(0))
	f.Add(int64(-1), int64(0), int64(time.Millisecond), 1.5, -1, -1, -1, uint32(0), -0.1, int64(-1))
	f.Fuzz(func(t *testing.T, timeout, attemptTimeout, attemptDelay int64, ratio float64, floor, retries, admission int, consecutive uint32, failRatio float64, openTimeout int64) {
		d, err := New(
			WithTimeout(time.Duration(timeout)),
			WithAttemptTimeout(time.Duration(attemptTimeout)),
			WithAttemptDelay(time.Duration(attemptDelay)),
			WithRetryBudget(ratio, floor),
			WithMaxRetries(retries),
			WithAdmissionLimit(admission),
			WithBreaker(breaker.Settings{ConsecutiveFailures: consecutive, FailureRatio: failRatio, OpenTimeout: time.Duration(openTimeout)}),
		)
		valid := timeout > 0 && attemptTimeout > 0 && time.Duration(attemptDelay) >= MinAttemptDelay &&
			ratio >= 0 && ratio <= 1 && !math.IsNaN(ratio) && floor >= 0 && retries >= 0 && admission >= 0 &&
			!math.IsNaN(failRatio) && failRatio <= 1 && openTimeout >= 0
		if valid != (err == nil) {
			t.Fatalf("New: err = %v, want valid=%v", err, valid)
		}
		if err != nil && !strings.HasPrefix(err.Error(), "dialguard: With") {
			t.Fatalf("error %q does not name the option", err)
		}
		if (d == nil) == (err == nil) {
			t.Fatalf("New returned %v, %v", d, err)
		}
	})
}
