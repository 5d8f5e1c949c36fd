package dialer_test

import (
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/dialguard/dialguard/dialer"
	"github.com/dialguard/dialguard/dialer/dialtest"
)

func TestPolicyDeniesBeforeAnyAttempt(t *testing.T) {
	h := dialtest.NewHealthy(t, "127.0.0.1:0")
	port := h.Addr().Port()
	mapped := netip.AddrFrom16(v4loop.As16()) // ::ffff:127.0.0.1
	res := dialtest.NewResolver(map[string]dialtest.Host{
		"internal.test": {IPv4: []netip.Addr{v4loop}},
		"mapped.test":   {IPv6: []netip.Addr{mapped}},
	})
	var seen attempts
	d := newDialer(t, dialer.WithResolver(res), dialer.WithAttemptObserver(seen.observe),
		dialer.WithPolicy(dialer.Policy{Deny: dialer.Internal()}))
	for _, address := range []string{
		h.String(),
		hostPort("internal.test", port),
		hostPort("mapped.test", port),
		hostPort(mapped.String(), port),
	} {
		t.Run(address, func(t *testing.T) {
			_, err := d.DialContext(t.Context(), "tcp", address)
			var de *dialer.DeniedError
			if !errors.Is(err, dialer.ErrDenied) || !errors.As(err, &de) {
				t.Fatalf("err = %v, want a *DeniedError", err)
			}
			if de.Addr != h.Addr() || de.Rule != netip.MustParsePrefix("127.0.0.0/8") {
				t.Errorf("denied %v by %v, want %v by 127.0.0.0/8", de.Addr, de.Rule, h.Addr())
			}
		})
	}
	if n := len(seen.all()); n != 0 || h.Accepted() != 0 {
		t.Errorf("%d attempts made and %d connections accepted for denied addresses", n, h.Accepted())
	}
}

func TestPolicyAllowList(t *testing.T) {
	h := dialtest.NewHealthy(t, "127.0.0.1:0")
	h2 := dialtest.NewHealthy(t, hostPort("127.0.0.2", h.Addr().Port()))
	d := newDialer(t, dialer.WithPolicy(dialer.Policy{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.2/32")}}))
	if _, err := d.DialContext(t.Context(), "tcp", h.String()); !errors.Is(err, dialer.ErrDenied) {
		t.Errorf("dial outside the allow list: err = %v, want ErrDenied", err)
	}
	c, err := d.DialContext(t.Context(), "tcp", h2.String())
	if err != nil {
		t.Fatalf("dial inside the allow list: %v", err)
	}
	c.Close()
}

// TestPolicyPrefixesInMappedFormAreTheirIPv4Prefix: ::ffff:127.0.0.0/104
// is 127.0.0.0/8. As written it would match nothing, since addresses are
// judged unmapped.
func TestPolicyPrefixesInMappedFormAreTheirIPv4Prefix(t *testing.T) {
	h := dialtest.NewHealthy(t, "127.0.0.1:0")
	h2 := dialtest.NewHealthy(t, hostPort("127.0.0.2", h.Addr().Port()))
	deny := newDialer(t, dialer.WithPolicy(dialer.Policy{Deny: []netip.Prefix{netip.MustParsePrefix("::ffff:127.0.0.0/104")}}))
	_, err := deny.DialContext(t.Context(), "tcp", h.String())
	var de *dialer.DeniedError
	if !errors.As(err, &de) || de.Rule != netip.MustParsePrefix("127.0.0.0/8") {
		t.Fatalf("dial under deny ::ffff:127.0.0.0/104: err = %v, want denied by 127.0.0.0/8", err)
	}
	allow := newDialer(t, dialer.WithPolicy(dialer.Policy{Allow: []netip.Prefix{netip.MustParsePrefix("::ffff:127.0.0.2/128")}}))
	if _, err := allow.DialContext(t.Context(), "tcp", h.String()); !errors.Is(err, dialer.ErrDenied) {
		t.Errorf("dial outside allow ::ffff:127.0.0.2/128: err = %v, want ErrDenied", err)
	}
	c, err := allow.DialContext(t.Context(), "tcp", h2.String())
	if err != nil {
		t.Fatalf("dial inside allow ::ffff:127.0.0.2/128: %v", err)
	}
	c.Close()
	if h.Accepted() != 0 {
		t.Errorf("the denied listener accepted %d connections", h.Accepted())
	}
}

// TestDenyLocalDeniesThisHostsOwnAddresses reads the real interfaces: lo's
// addresses are this host's, and a policy with DenyLocal (and nothing else
// to deny) refuses them, 127.0.0.0/8 whole, since Linux answers every
// address of lo's prefix; without DenyLocal the same dial connects.
func TestDenyLocalDeniesThisHostsOwnAddresses(t *testing.T) {
	h := dialtest.NewHealthy(t, "127.0.0.1:0")
	h2 := dialtest.NewHealthy(t, hostPort("127.0.0.2", h.Addr().Port()))
	d := newDialer(t, dialer.WithPolicy(dialer.Policy{DenyLocal: true}))
	for _, target := range []string{h.String(), h2.String()} {
		_, err := d.DialContext(t.Context(), "tcp", target)
		var de *dialer.DeniedError
		if !errors.As(err, &de) || !de.Local || de.Rule != netip.MustParsePrefix("127.0.0.0/8") {
			t.Errorf("dial %s with DenyLocal: err = %v, want denied as this host's 127.0.0.0/8", target, err)
		}
	}
	if h.Accepted()+h2.Accepted() != 0 {
		t.Errorf("denied listeners accepted %d connections", h.Accepted()+h2.Accepted())
	}
	open := newDialer(t, dialer.WithPolicy(dialer.Policy{}))
	c, err := open.DialContext(t.Context(), "tcp", h.String())
	if err != nil {
		t.Fatalf("dial without DenyLocal: %v", err)
	}
	c.Close()
	if _, err := dialer.New(dialer.WithPolicy(dialer.Policy{DenyLocal: true, LocalRefresh: -time.Second})); err == nil {
		t.Error("a negative LocalRefresh was accepted")
	}
}
