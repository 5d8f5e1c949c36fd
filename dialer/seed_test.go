package dialer

import (
	"net/netip"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/dialguard/dialguard/dialer/dialtest"
)

// Seeded timing and remote family verdicts (seed.go, familyshare.go):
// what another process learnt, applied, exact inside synctest bubbles.

// blackV6 is a destination whose IPv6 address never answers and whose
// IPv4 answers in 20 ms.
func blackV6() (*fakeNet, map[string]dialtest.Host) {
	f := newFakeNet(map[string]*script{
		"[2001:db8::1]:80": {stall: true},
		"192.0.2.1:80":     {after: 20 * time.Millisecond},
	})
	return f, map[string]dialtest.Host{"h.test": {IPv6: addrs("2001:db8::1"), IPv4: addrs("192.0.2.1")}}
}

// TestSeedTimesTheFirstDial: a process that never dialled h.test, whose
// IPv6 is black, starts IPv4 after the class's 250 ms; one given another
// process's estimate (srtt 20 ms, rttvar 10 ms: rto 60 ms) starts it
// after 60 ms, and DestinationTiming shows the seed as three handshakes.
func TestSeedTimesTheFirstDial(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dial := func(d *Dialer) time.Duration {
			t.Helper()
			start := time.Now()
			c, err := d.DialContext(t.Context(), "tcp", "h.test:80")
			if err != nil {
				t.Fatal(err)
			}
			c.Close()
			return time.Since(start)
		}
		f, hosts := blackV6()
		if got := dial(newFakeDialer(t, f, hosts)); got != 270*time.Millisecond {
			t.Errorf("unseeded first dial took %v, want 270ms (IPv4 after the 250ms class delay)", got)
		}

		f, hosts = blackV6()
		d := newFakeDialer(t, f, hosts)
		if !d.SeedTiming("h.test:80", 20*time.Millisecond, 10*time.Millisecond) {
			t.Fatal("seed of a destination without history refused")
		}
		tm, ok := d.DestinationTiming("h.test:80")
		want := Timing{SRTT: 20 * time.Millisecond, RTTVar: 10 * time.Millisecond, Samples: seedSamples,
			AttemptDelay: 60 * time.Millisecond, StallAfter: synRetransmission + 120*time.Millisecond}
		if !ok || tm != want {
			t.Errorf("seeded timing %+v (%v), want %+v", tm, ok, want)
		}
		if got := dial(d); got != 80*time.Millisecond {
			t.Errorf("seeded first dial took %v, want 80ms (IPv4 at the seed's rto, 60ms, answering in 20ms)", got)
		}
		assertStarts(t, f.startTimes(), []started{{netipMustAP("[2001:db8::1]:80"), 0}, {netipMustAP("192.0.2.1:80"), 60 * time.Millisecond}})
	})
}

// TestSeedNeverOverridesLocalHistory: a seed replaces nothing learnt
// here; a later seed replaces an earlier one; the first local handshake
// refines the seed (by RFC 6298's eighth: the seed counts for several)
// and from then on seeds are refused. Nonsense values are refused.
func TestSeedNeverOverridesLocalHistory(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeNet(map[string]*script{"192.0.2.1:80": {after: 20 * time.Millisecond}, "192.0.2.2:80": {after: 20 * time.Millisecond}})
		d := newFakeDialer(t, f, nil)
		connectOnce(t, d, "192.0.2.1:80")
		if d.SeedTiming("192.0.2.1:80", 500*time.Millisecond, 0) {
			t.Error("seed taken over a local estimate")
		}
		if tm, _ := d.DestinationTiming("192.0.2.1:80"); tm.SRTT != 20*time.Millisecond || tm.Samples != 1 {
			t.Errorf("local estimate %+v after a refused seed, want srtt 20ms over 1 handshake", tm)
		}

		for _, bad := range [][2]time.Duration{{0, 0}, {-time.Millisecond, 0}, {time.Millisecond, -1}, {time.Minute, 0}} {
			if d.SeedTiming("192.0.2.2:80", bad[0], bad[1]) {
				t.Errorf("seed srtt %v rttvar %v taken", bad[0], bad[1])
			}
		}
		if !d.SeedTiming("192.0.2.2:80", 100*time.Millisecond, 0) || !d.SeedTiming("192.0.2.2:80", 180*time.Millisecond, 40*time.Millisecond) {
			t.Fatal("seeds of a destination without history refused")
		}
		connectOnce(t, d, "192.0.2.2:80")
		tm, _ := d.DestinationTiming("192.0.2.2:80")
		if want := (7*180*time.Millisecond + 20*time.Millisecond) / 8; tm.SRTT != want || tm.Samples != seedSamples+1 {
			t.Errorf("after one handshake on the seed: %+v, want srtt %v over %d", tm, want, seedSamples+1)
		}
		if d.SeedTiming("192.0.2.2:80", time.Second, 0) {
			t.Error("seed taken over an estimate refined here")
		}
	})
}

// TestSeedExpiresWithTheMemory: a seed is forgotten after the memory's
// ttl, and the destination is timed by its class again.
func TestSeedExpiresWithTheMemory(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f, hosts := blackV6()
		d := newFakeDialer(t, f, hosts, WithStallMemory(10*time.Second, 16))
		d.SeedTiming("h.test:80", 20*time.Millisecond, 10*time.Millisecond)
		time.Sleep(10 * time.Second)
		if tm, ok := d.DestinationTiming("h.test:80"); ok {
			t.Errorf("seed still held after the memory's ttl: %+v", tm)
		}
		start := time.Now()
		c, err := d.DialContext(t.Context(), "tcp", "h.test:80")
		if err != nil {
			t.Fatal(err)
		}
		c.Close()
		if got := time.Since(start); got != 270*time.Millisecond {
			t.Errorf("dial after the seed expired took %v, want 270ms", got)
		}
	})
}

// familyHosts are destinations a..g: IPv6 black but at f and g, IPv4
// answering in 20 ms everywhere (as in
// TestBrokenIPv6IsLearntAcrossDestinations).
func familyHosts() (*fakeNet, map[string]dialtest.Host) {
	scripts := map[string]*script{}
	hosts := map[string]dialtest.Host{}
	for i, name := range []string{"a", "b", "c", "d", "e", "f", "g"} {
		v6, v4 := netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 15: byte(i + 1)}), netip.AddrFrom4([4]byte{192, 0, 2, byte(i + 1)})
		scripts[netip.AddrPortFrom(v6, 80).String()] = &script{stall: name != "f" && name != "g", after: 20 * time.Millisecond}
		scripts[netip.AddrPortFrom(v4, 80).String()] = &script{after: 20 * time.Millisecond}
		hosts[name+".test"] = dialtest.Host{IPv6: []netip.Addr{v6}, IPv4: []netip.Addr{v4}}
	}
	return newFakeNet(scripts), hosts
}

// familyLog records FamilyChange hook calls.
type familyLog struct {
	mu      sync.Mutex
	changes []bool
}

func (l *familyLog) hooks() Hooks {
	return Hooks{FamilyChange: func(c FamilyChange) {
		l.mu.Lock()
		l.changes = append(l.changes, c.IPv6Broken)
		l.mu.Unlock()
	}}
}

func (l *familyLog) get() []bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]bool(nil), l.changes...)
}

func dialTook(t *testing.T, d *Dialer, name string) time.Duration {
	t.Helper()
	start := time.Now()
	c, err := d.DialContext(t.Context(), "tcp", name+".test:80")
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	c.Close()
	return time.Since(start)
}

// TestRemoteIPv6VerdictIsAppliedAndExpires: another process's verdict
// makes the first dial to a fresh destination race IPv4 first (20 ms, no
// 250 ms attempt delay) until it ends; then the usual order is back. The
// remote verdict calls no FamilyChange hook: it is not this process's.
func TestRemoteIPv6VerdictIsAppliedAndExpires(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f, hosts := familyHosts()
		var log familyLog
		d := newFakeDialer(t, f, hosts, WithHooks(log.hooks()))
		d.NoteIPv6Broken(time.Now().Add(-time.Second))
		if d.IPv6Broken() {
			t.Fatal("a verdict that has ended applied")
		}
		d.NoteIPv6Broken(time.Now().Add(5 * time.Second))
		if !d.IPv6Broken() {
			t.Fatal("remote verdict not applied")
		}
		if got := dialTook(t, d, "a"); got != 20*time.Millisecond {
			t.Errorf("first dial under a remote verdict took %v, want 20ms (IPv4 first)", got)
		}
		time.Sleep(5 * time.Second)
		if d.IPv6Broken() {
			t.Error("remote verdict held past its end")
		}
		if got := dialTook(t, d, "b"); got != 270*time.Millisecond {
			t.Errorf("dial after the remote verdict ended took %v, want 270ms (IPv6 first)", got)
		}
		if got := log.get(); len(got) != 0 {
			t.Errorf("FamilyChange calls %v for a remote verdict, want none", got)
		}
	})
}

// TestRemoteIPv6VerdictIsCutToTheMemory: a verdict far in the future
// lasts the memory's ttl at most.
func TestRemoteIPv6VerdictIsCutToTheMemory(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f, hosts := familyHosts()
		d := newFakeDialer(t, f, hosts, WithStallMemory(30*time.Second, 16))
		d.NoteIPv6Broken(time.Now().Add(time.Hour))
		time.Sleep(30 * time.Second)
		if d.IPv6Broken() {
			t.Error("remote verdict of an hour held past the memory's 30s")
		}
	})
}

// TestLocalIPv6VerdictCallsFamilyChange: the process's own verdict, made
// at the second witness, is reported once; a remote verdict on top of it
// is not; a probe that connects over IPv6 mends both and is reported.
func TestLocalIPv6VerdictCallsFamilyChange(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f, hosts := familyHosts()
		var log familyLog
		d := newFakeDialer(t, f, hosts, WithHooks(log.hooks()))
		dialTook(t, d, "a")
		if got := log.get(); len(got) != 0 {
			t.Errorf("FamilyChange %v after one witness, want none", got)
		}
		dialTook(t, d, "b")
		d.NoteIPv6Broken(time.Now().Add(time.Minute))
		dialTook(t, d, "c")
		if got := log.get(); len(got) != 1 || !got[0] {
			t.Fatalf("FamilyChange %v after two witnesses, want [true]", got)
		}
		time.Sleep(familyProbeEvery)
		if got := dialTook(t, d, "f"); got != 20*time.Millisecond {
			t.Errorf("probe over a working IPv6 took %v, want 20ms", got)
		}
		if d.IPv6Broken() {
			t.Error("IPv6 still held broken after it connected")
		}
		if got := log.get(); len(got) != 2 || got[1] {
			t.Errorf("FamilyChange %v after the mend, want [true false]", got)
		}
	})
}

// TestRemoteIPv6VerdictIsMendedLocally: a remote verdict is ended by this
// process's own connection over IPv6 (its probe), which it reports: the
// fleet may then end it too.
func TestRemoteIPv6VerdictIsMendedLocally(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f, hosts := familyHosts()
		var log familyLog
		d := newFakeDialer(t, f, hosts, WithHooks(log.hooks()))
		d.NoteIPv6Broken(time.Now().Add(time.Minute))
		if got := dialTook(t, d, "f"); got != 20*time.Millisecond {
			t.Errorf("dial under the verdict took %v, want 20ms", got)
		}
		time.Sleep(familyProbeEvery)
		dialTook(t, d, "g") // the probe: IPv6 first, and it connects
		if got := f.startTimes(); !got[len(got)-1].addr.Addr().Is6() {
			t.Errorf("probe connected over %v, want IPv6", got[len(got)-1].addr)
		}
		if d.IPv6Broken() {
			t.Error("remote verdict held after IPv6 connected here")
		}
		if got := log.get(); len(got) != 1 || got[0] {
			t.Errorf("FamilyChange %v, want [false]", got)
		}
	})
}

// TestRemoteIPv6WorkingEndsOnlyARemoteVerdict: another process's word
// that IPv6 works again ends its verdict at once, but not this process's
// own (its witnesses): only an IPv6 connection here ends that.
func TestRemoteIPv6WorkingEndsOnlyARemoteVerdict(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f, hosts := familyHosts()
		d := newFakeDialer(t, f, hosts)
		d.NoteIPv6Broken(time.Now().Add(time.Minute))
		d.NoteIPv6Working()
		if d.IPv6Broken() {
			t.Error("remote verdict held after another process found IPv6 working")
		}
		if got := dialTook(t, d, "a"); got != 270*time.Millisecond {
			t.Errorf("dial after the remote verdict ended took %v, want 270ms (IPv6 first)", got)
		}
		dialTook(t, d, "b") // the second witness: broken here
		d.NoteIPv6Working()
		if !d.IPv6Broken() {
			t.Error("this process's own verdict ended by another's word")
		}
		if got := dialTook(t, d, "c"); got != 20*time.Millisecond {
			t.Errorf("dial under the local verdict took %v, want 20ms (IPv4 first)", got)
		}
	})
}
