package dialer

import (
	"errors"
	"net/netip"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// The policy's judgement, address by address, called directly: none of
// these addresses is dialled, so a case that fails sends nothing anywhere.

func mustPolicy(t *testing.T, p Policy) *Policy {
	t.Helper()
	var c config
	if err := WithPolicy(p)(&c); err != nil {
		t.Fatal(err)
	}
	return c.policy
}

type judged struct {
	addr    string
	rule    string // "" for allowed; "allow" for outside the allow list
	carried string
}

func wantJudged(t *testing.T, p *Policy, cases []judged) {
	t.Helper()
	for _, c := range cases {
		a := netip.AddrPortFrom(netip.MustParseAddr(c.addr), 80)
		err := p.check(a)
		var de *DeniedError
		switch {
		case c.rule == "":
			if err != nil {
				t.Errorf("%s: %v, want allowed", c.addr, err)
			}
		case !errors.As(err, &de):
			t.Errorf("%s: err = %v, want denied by %s", c.addr, err, c.rule)
		case c.rule == "allow":
			if de.Rule.IsValid() {
				t.Errorf("%s: denied by %v, want for matching no Allow prefix", c.addr, de.Rule)
			}
		case de.Rule.String() != c.rule:
			t.Errorf("%s: denied by %v, want %s (%v)", c.addr, de.Rule, c.rule, err)
		case c.carried != "" && de.Carried.String() != c.carried, c.carried == "" && de.Carried.IsValid():
			t.Errorf("%s: carried %v, want %q (%v)", c.addr, de.Carried, c.carried, err)
		}
	}
}

// TestInternalCoversEmbeddedAndSpecialRanges: issue 20's item 6. Addresses
// carrying an internal IPv4 address are denied by that address's rule;
// the special ranges by their own.
func TestInternalCoversEmbeddedAndSpecialRanges(t *testing.T) {
	wantJudged(t, mustPolicy(t, Policy{Deny: Internal()}), []judged{
		{"::127.0.0.1", "127.0.0.0/8", "127.0.0.1"},           // IPv4-compatible
		{"::8.8.8.8", "::/96", ""},                            // IPv4-compatible, public: the prefix
		{"::ffff:0:7f00:1", "127.0.0.0/8", "127.0.0.1"},       // SIIT
		{"::ffff:0:808:808", "::ffff:0:0:0/96", ""},           // SIIT, public
		{"64:ff9b::a00:1", "10.0.0.0/8", "10.0.0.1"},          // NAT64
		{"64:ff9b::808:808", "64:ff9b::/96", ""},              // NAT64, public
		{"2002:c0a8:101::1", "192.168.0.0/16", "192.168.1.1"}, // 6to4
		{"fec0::1", "fec0::/10", ""},                          // site-local
		// Teredo, RFC 4380's example: server 65.54.227.120, client
		// 192.0.2.45 (documentation) behind port 40000, inverted.
		{"2001:0:4136:e378:8000:63bf:3fff:fdd2", "192.0.2.0/24", "192.0.2.45"},
		{"2001:0:4136:e378:8000:63bf:f7f7:f7f7", "2001::/32", ""},         // client 8.8.8.8
		{"2001:0:a00:1:8000:63bf:f7f7:f7f7", "10.0.0.0/8", "10.0.0.1"},    // server 10.0.0.1
		{"2001:db8:1:2:200:5efe:a00:1", "10.0.0.0/8", "10.0.0.1"},         // ISATAP, u bit set
		{"2001:db8:1:2:0:5efe:c0a8:101", "192.168.0.0/16", "192.168.1.1"}, // ISATAP
		{"2001:2::1", "2001::/23", ""},                                    // benchmarking
		{"192.0.2.1", "192.0.2.0/24", ""},                                 // documentation
		{"198.51.100.1", "198.51.100.0/24", ""},
		{"203.0.113.1", "203.0.113.0/24", ""},
		{"2001:db8::1", "2001:db8::/32", ""},
		{"3fff::1", "3fff::/20", ""},
		{"8.8.8.8", "", ""},
		{"2a00:1450:4001::1", "", ""},
		{"2a00:1450:4001::200:5efe:808:808", "", ""}, // ISATAP form, public IPv4
	})
}

// TestEmbeddedIPv4IsJudgedByDenyOnly: a user's Deny of an IPv4 prefix
// denies the IPv6 forms that carry it; an Allow list is matched by the
// address dialled, so the forms of an allowed IPv4 address are not let
// through unless their IPv6 prefix is allowed.
func TestEmbeddedIPv4IsJudgedByDenyOnly(t *testing.T) {
	wantJudged(t, mustPolicy(t, Policy{Deny: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}), []judged{
		{"10.1.2.3", "10.0.0.0/8", ""},
		{"::ffff:10.1.2.3", "10.0.0.0/8", ""},
		{"::10.1.2.3", "10.0.0.0/8", "10.1.2.3"},
		{"::ffff:0:a01:203", "10.0.0.0/8", "10.1.2.3"},
		{"64:ff9b::a01:203", "10.0.0.0/8", "10.1.2.3"},
		{"2002:a01:203::", "10.0.0.0/8", "10.1.2.3"},
		{"2001:0:4136:e378:8000:63bf:f5fe:fdfc", "10.0.0.0/8", "10.1.2.3"}, // Teredo client ^0a010203
		{"2001:db8::200:5efe:a01:203", "10.0.0.0/8", "10.1.2.3"},
		{"2002:808:808::", "", ""},
		{"2001:db8::a01:203", "", ""}, // an ordinary address whose last bits spell 10.1.2.3
	})
	wantJudged(t, mustPolicy(t, Policy{Allow: []netip.Prefix{netip.MustParsePrefix("203.0.113.0/24")}}), []judged{
		{"203.0.113.7", "", ""},
		{"::ffff:203.0.113.7", "", ""},
		{"2002:cb00:7107::", "allow", ""},
		{"64:ff9b::cb00:7107", "allow", ""},
	})
}

// TestLocalAddressesAreReadLazilyAndKeptCurrent drives DenyLocal's list
// with a fake reader and synctest's clock: read on first use, not again
// within the refresh interval (however many checks come, at once or not),
// read again on the first check after it; a failed reading keeps the last
// list, and with no list at all the policy fails closed.
func TestLocalAddressesAreReadLazilyAndKeptCurrent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := mustPolicy(t, Policy{DenyLocal: true, LocalRefresh: time.Second})
		var (
			mu    sync.Mutex
			reads int
			list  = []netip.Prefix{netip.MustParsePrefix("198.18.7.1/32")}
			fail  error
		)
		p.local.read = func() ([]netip.Prefix, error) {
			mu.Lock()
			defer mu.Unlock()
			reads++
			return list, fail
		}
		set := func(l []netip.Prefix, err error) {
			mu.Lock()
			list, fail = l, err
			mu.Unlock()
		}
		a1 := netip.MustParseAddrPort("198.18.7.1:80")
		a2 := netip.MustParseAddrPort("198.18.7.2:80")
		denied := func(a netip.AddrPort) bool {
			var de *DeniedError
			return errors.As(p.check(a), &de) && de.Local
		}
		var wg sync.WaitGroup
		for range 50 {
			wg.Go(func() {
				if !denied(a1) {
					t.Error("198.18.7.1, listed as this host's, was not denied")
				}
			})
		}
		wg.Wait()
		if denied(a2) {
			t.Error("198.18.7.2, not this host's, was denied")
		}
		if reads != 1 {
			t.Fatalf("%d readings for 51 checks within the interval, want 1", reads)
		}

		set([]netip.Prefix{netip.MustParsePrefix("198.18.7.2/32")}, nil) // the host's address changed
		time.Sleep(999 * time.Millisecond)
		if !denied(a1) || denied(a2) || reads != 1 {
			t.Fatalf("within the interval: the list was read again (%d readings)", reads)
		}
		time.Sleep(time.Millisecond)
		if denied(a1) || !denied(a2) || reads != 2 {
			t.Fatalf("after the interval: the new list was not read (%d readings)", reads)
		}

		set(nil, errors.New("netlink: boom")) // reading fails: keep the last list
		time.Sleep(time.Second)
		if !denied(a2) || denied(a1) || reads != 3 {
			t.Fatalf("a failed reading lost the last list (%d readings)", reads)
		}

		fresh := mustPolicy(t, Policy{DenyLocal: true})
		fresh.local.read = func() ([]netip.Prefix, error) { return nil, errors.New("netlink: boom") }
		err := fresh.check(netip.MustParseAddrPort("198.18.9.9:80"))
		if !errors.Is(err, ErrDenied) || !errors.Is(err, errNoLocalAddrs) {
			t.Fatalf("with no list ever read: err = %v, want denied, cannot read this host's addresses", err)
		}
	})
}
