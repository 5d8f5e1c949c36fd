package dialer

import (
	"context"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/dialguard/dialguard/dialer/dialtest"
)

// An attempt that lost the race while suspect (LostSlow) is remembered
// against its address, but the destination answered: the sibling won. A
// burst of dials to a healthy far host whose other family loses slow
// every time must not be held by admission once the host has answered.
// Before, each lost-slow sibling marked the destination as stalling, and
// dials made after its first answer still waited up to 500 ms for a slot
// (a 700 ms host, a dial every 100 ms: examples/synsent's far.test).
func TestALostSlowSiblingDoesNotMakeTheDestinationLookStalled(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const rtt = 700 * time.Millisecond
		f := newFakeNet(map[string]*script{
			"[2001:db8::1]:80": {after: rtt},
			"192.0.2.1:80":     {after: rtt, cancelLag: time.Millisecond},
		})
		d := newFakeDialer(t, f, map[string]dialtest.Host{
			"far.test": {IPv6: addrs("2001:db8::1"), IPv4: addrs("192.0.2.1")},
		})
		const dials, spacing = 12, 100 * time.Millisecond
		reps := make([]Report, dials)
		var wg sync.WaitGroup
		for i := range dials {
			wg.Go(func() {
				ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
				defer cancel()
				c, err := d.DialContext(ContextWithReport(ctx, &reps[i]), "tcp", "far.test:80")
				if err != nil {
					t.Errorf("dial %d: %v", i, err)
					return
				}
				c.Close()
			})
			time.Sleep(spacing)
		}
		wg.Wait()
		// The first answer comes at 700 ms. Until then at most
		// DefaultAdmissionLimit dials are in flight to a destination that
		// has never answered; from then on none waits.
		for i, rep := range reps {
			started := time.Duration(i) * spacing
			if started >= rtt+spacing && (rep.Admission != 0 || rep.Elapsed != rtt) {
				t.Errorf("dial %d (started at %v, after the host had answered) waited %v for admission and took %v, want no wait and %v",
					i, started, rep.Admission, rep.Elapsed, rtt)
			}
			if started < rtt && started+rep.Admission > rtt {
				t.Errorf("dial %d (started at %v) waited %v for admission: past the host's first answer at %v", i, started, rep.Admission, rtt)
			}
		}
	})
}
