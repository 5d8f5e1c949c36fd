package dialer_test

import (
	"net"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dialguard/dialguard/breaker"
	"github.com/dialguard/dialguard/dialer"
	"github.com/dialguard/dialguard/dialer/dialtest"
)

// Each bad value is refused by New with an error that names its option.
func TestBadOptionValuesAreRefused(t *testing.T) {
	for _, tc := range []struct {
		name string
		opt  dialer.Option
	}{
		{"WithResolver", dialer.WithResolver(nil)},
		{"WithResolver", dialer.WithResolver((*dialtest.Resolver)(nil))},
		{"WithLogger", dialer.WithLogger(nil)},
		{"WithTimeout", dialer.WithTimeout(0)},
		{"WithAttemptTimeout", dialer.WithAttemptTimeout(-time.Second)},
		{"WithAttemptDelay", dialer.WithAttemptDelay(time.Millisecond)},
		{"WithResolutionDelay", dialer.WithResolutionDelay(-time.Millisecond)},
		{"WithNetDialer", dialer.WithNetDialer(nil)},
		{"WithNetDialer", dialer.WithNetDialer(&net.Dialer{Timeout: time.Second})},
		{"WithNetDialer", dialer.WithNetDialer(&net.Dialer{Deadline: time.Now()})},
		{"WithNetDialer", dialer.WithNetDialer(&net.Dialer{Cancel: make(chan struct{})})},
		{"WithMaxAddresses", dialer.WithMaxAddresses(0)},
		{"WithAdmissionLimit", dialer.WithAdmissionLimit(-1)},
		{"WithMaxRetries", dialer.WithMaxRetries(-1)},
		{"WithRetryBudget", dialer.WithRetryBudget(1.5, 10)},
		{"WithRetryBudget", dialer.WithRetryBudget(0.2, -1)},
		{"WithStallMemory", dialer.WithStallMemory(0, 100)},
		{"WithStallMemory", dialer.WithStallMemory(time.Minute, 0)},
		{"WithBreaker", dialer.WithBreaker(breaker.Settings{FailureRatio: 2})},
		{"WithBackoff", dialer.WithBackoff(nil)},
		{"WithAttemptObserver", dialer.WithAttemptObserver(nil)},
		{"WithPolicy", dialer.WithPolicy(dialer.Policy{Deny: []netip.Prefix{{}}})},
		{"WithPolicy", dialer.WithPolicy(dialer.Policy{DenyLocal: true, LocalRefresh: -time.Second})},
	} {
		if _, err := dialer.New(tc.opt); err == nil || !strings.Contains(err.Error(), tc.name) {
			t.Errorf("New(%s(bad)) = %v, want an error naming the option", tc.name, err)
		}
	}
}

// A nil *net.Resolver is net's default resolver, as for net.Dialer.
func TestNilNetResolverIsTheDefault(t *testing.T) {
	d, err := dialer.New(dialer.WithResolver((*net.Resolver)(nil)))
	if err != nil {
		t.Fatalf("New(WithResolver((*net.Resolver)(nil))) = %v, want the default resolver", err)
	}
	srv := dialtest.NewHealthy(t, "127.0.0.1:0")
	// localhost resolves (through /etc/hosts) with the default resolver.
	c, err := d.DialContext(t.Context(), "tcp4", net.JoinHostPort("localhost", strconv.Itoa(int(srv.Addr().Port()))))
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
}
