package dialer

import (
	"errors"
	"net"
	"net/netip"
	"syscall"
	"testing"

	"github.com/dialguard/dialguard/dialer/dialtest"
)

// The Control hook is the policy's second check: it judges the address the
// socket is about to connect to, whatever the resolver said earlier. Call
// the attempt function directly, past the first check, to show it holds on
// its own, and that the user's own Control still runs for allowed addresses.
func TestPolicyChecksTheSocketAddressJustBeforeConnect(t *testing.T) {
	denied := dialtest.NewHealthy(t, "127.0.0.1:0")
	allowed := dialtest.NewHealthy(t, "127.0.0.2:0")
	var userSaw []string
	d, err := New(
		WithPolicy(Policy{Deny: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}}),
		WithNetDialer(&net.Dialer{Control: func(_, address string, _ syscall.RawConn) error {
			userSaw = append(userSaw, address)
			return nil
		}}),
	)
	if err != nil {
		t.Fatal(err)
	}
	_, err = d.dialAddr(t.Context(), "tcp", denied.Addr(), denied.String())
	if !errors.Is(err, ErrDenied) {
		t.Fatalf("connect to a denied address: err = %v, want ErrDenied", err)
	}
	c, err := d.dialAddr(t.Context(), "tcp", allowed.Addr(), allowed.String())
	if err != nil {
		t.Fatalf("connect to an allowed address: %v", err)
	}
	c.Close()
	if denied.Accepted() != 0 {
		t.Errorf("the denied listener accepted %d connections", denied.Accepted())
	}
	if len(userSaw) != 1 || userSaw[0] != allowed.String() {
		t.Errorf("the user's Control saw %v, want only %v", userSaw, allowed.String())
	}
	// An IPv4-mapped form of the denied address is judged as IPv4.
	mapped := netip.AddrPortFrom(netip.AddrFrom16(denied.Addr().Addr().As16()), denied.Addr().Port())
	if err := d.cfg.policy.check(mapped); !errors.Is(err, ErrDenied) {
		t.Errorf("check(%v) = %v, want ErrDenied", mapped, err)
	}
}
