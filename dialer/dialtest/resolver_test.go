package dialtest_test

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/dialguard/dialguard/dialer/dialtest"
)

var (
	v6 = netip.MustParseAddr("::1")
	v4 = netip.MustParseAddr("127.0.0.1")
)

func TestResolverAnswersByFamily(t *testing.T) {
	r := dialtest.NewResolver(map[string]dialtest.Host{
		"both.test":   {IPv6: []netip.Addr{v6}, IPv4: []netip.Addr{v4}},
		"v4only.test": {IPv4: []netip.Addr{v4}},
	})
	tests := []struct {
		name, network, host string
		want                []netip.Addr
		notFound            bool
	}{
		{"ip gives IPv6 then IPv4", "ip", "both.test", []netip.Addr{v6, v4}, false},
		{"ip6 gives only IPv6", "ip6", "both.test", []netip.Addr{v6}, false},
		{"ip4 gives only IPv4", "ip4", "both.test", []netip.Addr{v4}, false},
		{"names ignore case and a trailing dot", "ip4", "Both.TEST.", []netip.Addr{v4}, false},
		{"ip with one family gives that family", "ip", "v4only.test", []netip.Addr{v4}, false},
		{"a missing family is not found", "ip6", "v4only.test", nil, true},
		{"an unknown host is not found", "ip", "nowhere.test", nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := r.LookupNetIP(context.Background(), tt.network, tt.host)
			if tt.notFound {
				var dnsErr *net.DNSError
				if !errors.As(err, &dnsErr) || !dnsErr.IsNotFound || dnsErr.Name != tt.host {
					t.Fatalf("LookupNetIP = %v, %v; want a not-found *net.DNSError for %q", got, err, tt.host)
				}
				return
			}
			if err != nil || !slices.Equal(got, tt.want) {
				t.Fatalf("LookupNetIP = %v, %v; want %v", got, err, tt.want)
			}
		})
	}
	if _, err := r.LookupNetIP(context.Background(), "tcp", "both.test"); err == nil {
		t.Error("network tcp: no error")
	}
}

func TestResolverReturnsConfiguredError(t *testing.T) {
	temp := &net.DNSError{Err: "server misbehaving", Name: "flaky.test", IsTemporary: true}
	r := dialtest.NewResolver(nil)
	r.Set("flaky.test", dialtest.Host{IPv4: []netip.Addr{v4}, Err: temp})
	for _, network := range []string{"ip", "ip4", "ip6"} {
		if _, err := r.LookupNetIP(context.Background(), network, "flaky.test"); err != temp {
			t.Errorf("%s: err = %v, want %v", network, err, temp)
		}
	}
}

func TestResolverCountsLookups(t *testing.T) {
	r := dialtest.NewResolver(map[string]dialtest.Host{"a.test": {IPv4: []netip.Addr{v4}}})
	for range 3 {
		r.LookupNetIP(context.Background(), "ip", "a.test")
	}
	r.LookupNetIP(context.Background(), "ip", "unknown.test")
	if n := r.Lookups("a.test"); n != 3 {
		t.Errorf("Lookups(a.test) = %d, want 3", n)
	}
	if n := r.Lookups("unknown.test"); n != 1 {
		t.Errorf("Lookups(unknown.test) = %d, want 1", n)
	}
	if n := r.Lookups("never.test"); n != 0 {
		t.Errorf("Lookups(never.test) = %d, want 0", n)
	}
}

func TestResolverDelays(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := dialtest.NewResolver(map[string]dialtest.Host{
			"slow.test": {
				IPv6: []netip.Addr{v6}, IPv6Delay: 2 * time.Second,
				IPv4: []netip.Addr{v4}, IPv4Delay: 50 * time.Millisecond,
			},
		})
		for _, tt := range []struct {
			network string
			want    time.Duration
		}{
			{"ip4", 50 * time.Millisecond},
			{"ip6", 2 * time.Second},
			{"ip", 2 * time.Second},
		} {
			start := time.Now()
			if _, err := r.LookupNetIP(context.Background(), tt.network, "slow.test"); err != nil {
				t.Fatal(err)
			}
			if got := time.Since(start); got != tt.want {
				t.Errorf("%s answered after %v, want %v", tt.network, got, tt.want)
			}
		}

		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		start := time.Now()
		_, err := r.LookupNetIP(ctx, "ip6", "slow.test")
		var dnsErr *net.DNSError
		if !errors.As(err, &dnsErr) || !dnsErr.IsTimeout || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("lookup past its deadline: %v, want a timeout *net.DNSError wrapping DeadlineExceeded", err)
		}
		if got := time.Since(start); got != time.Second {
			t.Errorf("lookup gave up after %v, want 1s", got)
		}

		ctx, cancel = context.WithCancel(context.Background())
		cancel()
		if _, err := r.LookupNetIP(ctx, "ip4", "slow.test"); !errors.Is(err, context.Canceled) {
			t.Errorf("lookup with a canceled context: %v, want context.Canceled", err)
		}
	})
}
