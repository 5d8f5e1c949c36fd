package dialer

import (
	"context"
	"net"
	"net/netip"
	"os"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"testing/synctest"
	"time"
)

// Answers that lie or disagree (issue 20, item 4) get one rule on every
// network (answer.go): only what the network reaches, no invalid address,
// IPv4-mapped addresses unmapped and each address dialled once, and an
// answer that comes with an error not dialled. Inside synctest bubbles,
// over fake attempts that record what was dialled.

// scriptedAnswer is one network's answer of a scriptedResolver.
type scriptedAnswer struct {
	addrs []netip.Addr
	err   error
	after time.Duration
}

// scriptedResolver answers each lookup network ("ip", "ip4", "ip6") as
// its table says, addresses and error together if both are set; a network
// not in the table is "no such host".
type scriptedResolver map[string]scriptedAnswer

func (r scriptedResolver) LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error) {
	a, ok := r[network]
	if !ok {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	if a.after > 0 {
		select {
		case <-time.After(a.after):
		case <-ctx.Done():
			return nil, &net.DNSError{Err: ctx.Err().Error(), Name: host, IsTimeout: true}
		}
	}
	return a.addrs, a.err
}

var errMisbehaving = &net.DNSError{Err: "server misbehaving", Name: "lie.test", IsTemporary: true}

func TestAnswersThatLieOrDisagreeGetOneRuleOnEveryNetwork(t *testing.T) {
	zero := netip.Addr{}
	for _, tc := range []struct {
		name    string
		network string
		r       scriptedResolver
		dialled []string // the attempts made, in order
		err     string   // what the dial's error says
	}{
		{
			name: "tcp4 leaves out the IPv6 addresses of an A answer", network: "tcp4",
			r:       scriptedResolver{"ip4": {addrs: addrs("2001:db8::1", "192.0.2.1")}},
			dialled: []string{"192.0.2.1:80"}, err: "connection refused",
		},
		{
			name: "tcp4 with only IPv6 addresses dials nothing", network: "tcp4",
			r:   scriptedResolver{"ip4": {addrs: addrs("2001:db8::1")}},
			err: "no suitable address",
		},
		{
			name: "tcp6 leaves out the IPv4 and IPv4-mapped addresses of an AAAA answer", network: "tcp6",
			r:       scriptedResolver{"ip6": {addrs: addrs("192.0.2.1", "::ffff:192.0.2.2", "2001:db8::1")}},
			dialled: []string{"[2001:db8::1]:80"}, err: "connection refused",
		},
		{
			name: "tcp4 dials an IPv4-mapped address as the IPv4 address it carries", network: "tcp4",
			r:       scriptedResolver{"ip4": {addrs: addrs("::ffff:192.0.2.1")}},
			dialled: []string{"192.0.2.1:80"}, err: "connection refused",
		},
		{
			name: "tcp drops zero addresses", network: "tcp",
			r: scriptedResolver{
				"ip6": {addrs: []netip.Addr{zero, netip.MustParseAddr("2001:db8::1")}},
				"ip4": {addrs: []netip.Addr{zero}},
			},
			dialled: []string{"[2001:db8::1]:80"}, err: "connection refused",
		},
		{
			name: "tcp4 drops zero addresses", network: "tcp4",
			r:       scriptedResolver{"ip4": {addrs: []netip.Addr{zero, netip.MustParseAddr("192.0.2.1"), zero}}},
			dialled: []string{"192.0.2.1:80"}, err: "connection refused",
		},
		{
			name: "tcp6 with only zero addresses dials nothing", network: "tcp6",
			r:   scriptedResolver{"ip6": {addrs: []netip.Addr{zero}}},
			err: "no suitable address",
		},
		{
			name: "tcp4 dials an address given three times in one answer once", network: "tcp4",
			r:       scriptedResolver{"ip4": {addrs: addrs("192.0.2.1", "::ffff:192.0.2.1", "192.0.2.1")}},
			dialled: []string{"192.0.2.1:80"}, err: "connection refused",
		},
		{
			name: "tcp dials an address in both answers once when AAAA answers first", network: "tcp",
			r: scriptedResolver{
				"ip6": {addrs: addrs("::ffff:192.0.2.1")},
				"ip4": {addrs: addrs("192.0.2.1"), after: 20 * time.Millisecond},
			},
			dialled: []string{"192.0.2.1:80"}, err: "connection refused",
		},
		{
			name: "tcp dials an address in both answers once when A answers first", network: "tcp",
			r: scriptedResolver{
				"ip6": {addrs: addrs("::ffff:192.0.2.1"), after: 20 * time.Millisecond},
				"ip4": {addrs: addrs("192.0.2.1")},
			},
			dialled: []string{"192.0.2.1:80"}, err: "connection refused",
		},
		{
			name: "tcp dials a late answer's new addresses but not its old ones", network: "tcp",
			r: scriptedResolver{
				"ip6": {addrs: addrs("2001:db8::1")},
				"ip4": {addrs: addrs("192.0.2.1", "::ffff:192.0.2.1", "2001:db8::1"), after: 20 * time.Millisecond},
			},
			dialled: []string{"[2001:db8::1]:80", "192.0.2.1:80"}, err: "connection refused",
		},
		{
			name: "tcp4 does not dial an answer that comes with an error", network: "tcp4",
			r:   scriptedResolver{"ip4": {addrs: addrs("192.0.2.1"), err: errMisbehaving}},
			err: "server misbehaving",
		},
		{
			name: "tcp6 does not dial an answer that comes with an error", network: "tcp6",
			r:   scriptedResolver{"ip6": {addrs: addrs("2001:db8::1"), err: errMisbehaving}},
			err: "server misbehaving",
		},
		{
			name: "tcp does not dial an answer that comes with an error", network: "tcp",
			r: scriptedResolver{
				"ip6": {err: &net.DNSError{Err: "no such host", Name: "lie.test", IsNotFound: true}},
				"ip4": {addrs: addrs("192.0.2.1"), err: errMisbehaving},
			},
			err: "server misbehaving",
		},
		{
			name: "tcp dials the other family when one answer comes with an error", network: "tcp",
			r: scriptedResolver{
				"ip6": {addrs: addrs("2001:db8::1")},
				"ip4": {addrs: addrs("192.0.2.1"), err: errMisbehaving},
			},
			dialled: []string{"[2001:db8::1]:80"}, err: "connection refused",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				d, err := New(WithResolver(tc.r), WithMaxRetries(0))
				if err != nil {
					t.Fatal(err)
				}
				var mu sync.Mutex
				var dialled []string
				d.dialAddr = func(_ context.Context, network string, a netip.AddrPort, _ string) (net.Conn, error) {
					mu.Lock()
					dialled = append(dialled, a.String())
					mu.Unlock()
					time.Sleep(time.Millisecond) // the fake clock's: every address refuses after 1 ms
					return nil, &net.OpError{Op: "dial", Net: network, Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
				}
				c, err := d.DialContext(t.Context(), tc.network, "lie.test:80")
				if c != nil {
					c.Close()
					t.Fatal("the dial connected")
				}
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Errorf("err = %v, want it to say %q", err, tc.err)
				}
				if !slices.Equal(dialled, tc.dialled) {
					t.Errorf("dialled %q, want %q", dialled, tc.dialled)
				}
			})
		})
	}
}

// The rules in place: an answer already clean is handed back as it is,
// without a copy (the healthy path is counted in allocations), and the
// resolver's slice is never written to.
func TestCleanAnswerCopiesOnlyWhatItMustChange(t *testing.T) {
	clean := addrs("2001:db8::1", "192.0.2.1")
	if got := cleanAnswer(clean, familyAny); &got[0] != &clean[0] {
		t.Error("a clean answer was copied")
	}
	if n := testing.AllocsPerRun(100, func() { cleanAnswer(clean, familyAny) }); n != 0 {
		t.Errorf("%v allocations for a clean answer, want 0", n)
	}
	mapped := addrs("::ffff:192.0.2.1", "192.0.2.2")
	got := cleanAnswer(mapped, family4)
	if want := addrs("192.0.2.1", "192.0.2.2"); !slices.Equal(got, want) {
		t.Errorf("cleanAnswer = %v, want %v", got, want)
	}
	if mapped[0] != netip.MustParseAddr("::ffff:192.0.2.1") {
		t.Error("the resolver's slice was written to")
	}
}

// A long answer is cleaned with a set, in one pass, and keeps its order.
func TestCleanAnswerOfALongAnswerKeepsTheFirstOfEachAddress(t *testing.T) {
	var in, want []netip.Addr
	for i := range 3 * smallAnswer {
		a := netip.AddrFrom4([4]byte{192, 0, 2, byte(i % smallAnswer)})
		in = append(in, a, netip.AddrFrom16(a.As16()), netip.Addr{}, netip.MustParseAddr("2001:db8::1"))
		if i < smallAnswer {
			want = append(want, a)
		}
	}
	if got := cleanAnswer(in, family4); !slices.Equal(got, want) {
		t.Errorf("cleanAnswer = %v, want %v", got, want)
	}
}
