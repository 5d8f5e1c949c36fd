package fleet_test

import (
	"context"
	"net/netip"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/dialguard/dialguard/dialer"
	"github.com/dialguard/dialguard/dialer/dialtest"
	"github.com/dialguard/dialguard/fleet"
)

// waitFor polls cond every 5 ms, failing the test after within.
func waitFor(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, within)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// A destination's round-trip estimate, learnt by one process, is
// published once and seeds another process's first dial to it: that
// dial's estimate starts from the seed (three handshakes' worth) and adds
// its own handshake, where alone it would hold one. Steady dials publish
// nothing more, and the seeded process echoes nothing back.
func TestTimingIsShared(t *testing.T) {
	r := newRedis(t)
	h := dialtest.NewHealthy(t, "127.0.0.1:0")
	a := newMember(t, r.client(t), "timing")
	b := newMember(t, r.client(t), "timing")
	if _, err := dial(a.d, h.String()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "first estimate published", func() bool { return a.share.Stats().Sent == 1 })
	waitFor(t, 5*time.Second, "estimate received", func() bool { return b.share.Stats().Received == 1 })
	seedTm, _ := a.d.DestinationTiming(h.String())
	if _, ok := b.d.DestinationTiming(h.String()); ok {
		t.Fatal("b holds an estimate before dialling: the seed must wait for a dial")
	}
	if _, err := dial(b.d, h.String()); err != nil {
		t.Fatal(err)
	}
	tm, ok := b.d.DestinationTiming(h.String())
	if !ok || tm.Samples != 4 || b.share.Stats().Seeded != 1 {
		t.Fatalf("b's estimate after its first dial %+v (seeded %d), want the seed's 3 handshakes and its own", tm, b.share.Stats().Seeded)
	}
	// srtt = (7 seed + own) / 8: at least 7/8 of the seed.
	if tm.SRTT < seedTm.SRTT*7/8 {
		t.Errorf("b's srtt %v after one handshake on a seed of %v, want at least 7/8 of it", tm.SRTT, seedTm.SRTT)
	}
	for range 100 {
		for _, m := range []*member{a, b} {
			if _, err := dial(m.d, h.String()); err != nil {
				t.Fatal(err)
			}
		}
	}
	// What is queued is sent within a command timeout; give it as long.
	time.Sleep(100 * time.Millisecond)
	if got := a.share.Stats().Sent; got != 1 {
		t.Errorf("a sent %d messages over 101 dials, want 1 (the first estimate)", got)
	}
	if got := b.share.Stats().Sent; got != 0 {
		t.Errorf("b sent %d messages, want none (its estimate is the fleet's)", got)
	}
	st := a.share.Stats()
	t.Logf("201 dials by two processes: %d message (%d bytes) from a, %d from b; b seeded %d", st.Sent, st.SentBytes, b.share.Stats().Sent, b.share.Stats().Seeded)
}

// A process with an estimate of its own keeps it: another's is no seed.
// (c starts after b's estimate went out, so it learns its own and
// publishes it, to b.)
func TestTimingSeedNeverOverridesOwn(t *testing.T) {
	r := newRedis(t)
	h := dialtest.NewHealthy(t, "127.0.0.1:0")
	b := newMember(t, r.client(t), "own")
	if _, err := dial(b.d, h.String()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "b's estimate published", func() bool { return b.share.Stats().Sent == 1 })
	c := newMember(t, r.client(t), "own")
	if _, err := dial(c.d, h.String()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "c's estimate received", func() bool { return b.share.Stats().Received == 1 })
	if _, err := dial(b.d, h.String()); err != nil {
		t.Fatal(err)
	}
	if tm, _ := b.d.DestinationTiming(h.String()); tm.Samples != 2 || b.share.Stats().Seeded != 0 {
		t.Errorf("b's estimate %+v (seeded %d), want its own 2 handshakes", tm, b.share.Stats().Seeded)
	}
}

// attemptLog records the addresses of a Dialer's attempts, in order.
type attemptLog struct {
	mu    sync.Mutex
	addrs []netip.AddrPort
}

func (l *attemptLog) hook(_ context.Context, a dialer.AttemptInfo) {
	l.mu.Lock()
	l.addrs = append(l.addrs, a.Address)
	l.mu.Unlock()
}

func (l *attemptLog) get() []netip.AddrPort {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]netip.AddrPort(nil), l.addrs...)
}

// familyNet is three dual-stack names whose [::1] stalls while 127.0.0.1
// answers, and one, v6.test, answering on [::1] only.
func familyNet(t *testing.T) (*dialtest.Resolver, map[string]string) {
	hosts := map[string]dialtest.Host{}
	addr := map[string]string{}
	loop6, loop4 := netip.MustParseAddr("::1"), netip.MustParseAddr("127.0.0.1")
	for _, name := range []string{"a.test", "b.test", "c.test"} {
		ds := dialtest.NewDualStack(t)
		hosts[name] = dialtest.Host{IPv6: []netip.Addr{loop6}, IPv4: []netip.Addr{loop4}}
		addr[name] = name + ":" + strconv.Itoa(int(ds.Port))
	}
	h6 := dialtest.NewHealthy(t, "[::1]:0")
	hosts["v6.test"] = dialtest.Host{IPv6: []netip.Addr{loop6}}
	addr["v6.test"] = "v6.test:" + strconv.Itoa(int(h6.Addr().Port()))
	return dialtest.NewResolver(hosts), addr
}

// One process's dials find IPv6 broken: the fleet holds it broken (a
// process starting then too, from the stored verdict), and their first
// dial to a fresh dual-stack name tries IPv4 first. While its verdict
// stands the process says it again each half ttl, so the others' does
// not lapse; when its IPv6 connects again, the others' verdict ends.
func TestFamilyVerdictIsShared(t *testing.T) {
	r := newRedis(t)
	res, addr := familyNet(t)
	const ttl = time.Second
	opts := []fleet.Option{fleet.WithFamilyTTL(ttl)}
	var bLog attemptLog
	a := newMemberWith(t, r.client(t), "family", opts, []dialer.Option{dialer.WithResolver(res)})
	b := newMemberWith(t, r.client(t), "family", opts, []dialer.Option{dialer.WithResolver(res), dialer.WithHooks(dialer.Hooks{Attempt: bLog.hook})})
	for _, name := range []string{"a.test", "b.test"} {
		if _, err := dial(a.d, addr[name]); err != nil {
			t.Fatal(err)
		}
	}
	if !a.d.IPv6Broken() {
		t.Fatal("a's dials did not find IPv6 broken (two dual-stack names whose [::1] stalls)")
	}
	waitFor(t, 5*time.Second, "b holds IPv6 broken", b.d.IPv6Broken)
	c := newMemberWith(t, r.client(t), "family", opts, []dialer.Option{dialer.WithResolver(res)})
	if !c.d.IPv6Broken() {
		t.Error("a process started during the verdict does not hold IPv6 broken")
	}
	if _, err := dial(b.d, addr["c.test"]); err != nil {
		t.Fatal(err)
	}
	if got := bLog.get(); len(got) == 0 || !got[0].Addr().Is4() {
		t.Errorf("b's first dial to a fresh dual-stack name tried %v, want IPv4 first", got)
	}

	// Three ttls on, a's verdict still stands and so does b's: a said it
	// again, about once per half ttl.
	time.Sleep(3 * ttl)
	if !b.d.IPv6Broken() {
		t.Error("b's verdict lapsed while a's stands")
	}
	st := a.share.Stats()
	t.Logf("a's verdict held %v with a ttl of %v: a sent %d messages (%d bytes; 2 of them estimates), b %d, c %d",
		3*ttl, ttl, st.Sent, st.SentBytes, b.share.Stats().Sent, c.share.Stats().Sent)
	if sent := st.Sent; sent < 3 || sent > 12 {
		t.Errorf("a sent %d messages over three ttls of its verdict, want about one per half ttl (3 to 12 with the estimates)", sent)
	}

	if _, err := dial(a.d, addr["v6.test"]); err != nil {
		t.Fatal(err)
	}
	if a.d.IPv6Broken() {
		t.Fatal("a's IPv6 connected and a still holds it broken")
	}
	waitFor(t, 5*time.Second, "b's verdict ended by a's mend", func() bool { return !b.d.IPv6Broken() })
	waitFor(t, 5*time.Second, "c's verdict ended by a's mend", func() bool { return !c.d.IPv6Broken() })
	t.Logf("after the mend: a sent %d messages in all", a.share.Stats().Sent)
	d := newMemberWith(t, r.client(t), "family", opts, []dialer.Option{dialer.WithResolver(res)})
	if d.d.IPv6Broken() {
		t.Error("a process started after the mend holds IPv6 broken")
	}
}

// WithoutTiming and WithoutFamily leave out the hooks through which the
// Share learns estimates and the IPv6 verdict: nothing of either is sent.
func TestWithoutTimingAndFamily(t *testing.T) {
	r := newRedis(t)
	on, err := fleet.New(r.client(t))
	if err != nil {
		t.Fatal(err)
	}
	if h := on.Hooks(); h.DialStart == nil || h.DialDone == nil || h.FamilyChange == nil {
		t.Fatal("default Share without the estimate or family hooks")
	}
	off, err := fleet.New(r.client(t), fleet.WithoutTiming(), fleet.WithoutFamily())
	if err != nil {
		t.Fatal(err)
	}
	if h := off.Hooks(); h.DialStart != nil || h.DialDone != nil || h.FamilyChange != nil {
		t.Error("WithoutTiming and WithoutFamily left their hooks")
	}
	m := newMember(t, r.client(t), "off", fleet.WithoutTiming(), fleet.WithoutFamily())
	h := dialtest.NewHealthy(t, "127.0.0.1:0")
	for range 3 {
		if _, err := dial(m.d, h.String()); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(100 * time.Millisecond)
	if got := m.share.Stats().Sent; got != 0 {
		t.Errorf("%d messages sent with estimates off, want none", got)
	}
}
