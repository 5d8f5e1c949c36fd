package netlab_test

import (
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/dialguard/dialguard/dialer/dialtest/netlab"
)

func TestConfigValidateNamesTheField(t *testing.T) {
	for _, tc := range []struct {
		name  string
		cfg   netlab.Config
		field string
	}{
		{"negative delay out", netlab.Config{Out: netlab.Path{Delay: -time.Millisecond}}, "Out.Delay"},
		{"negative delay in", netlab.Config{In: netlab.Path{Delay: -1}}, "In.Delay"},
		{"negative jitter", netlab.Config{Out: netlab.Path{Jitter: -time.Millisecond}}, "Out.Jitter"},
		{"loss above one", netlab.Config{In: netlab.Path{Loss: 1.5}}, "In.Loss"},
		{"negative loss", netlab.Config{Out: netlab.Path{Loss: -0.1}}, "Out.Loss"},
		{"loss not a number", netlab.Config{Out: netlab.Path{Loss: math.NaN()}}, "Out.Loss"},
		{"delay past the maximum", netlab.Config{In: netlab.Path{Delay: netlab.MaxDelay, Jitter: 1}}, "In.Delay+Jitter"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.field+" ") {
				t.Fatalf("Validate() = %v, want an error naming %s", err, tc.field)
			}
		})
	}
	for _, ok := range []netlab.Config{{}, netlab.Symmetric(700*time.Millisecond, 10*time.Millisecond, 0.15), netlab.Symmetric(time.Second, 0, 1).Black()} {
		if err := ok.Validate(); err != nil {
			t.Errorf("Validate(%+v) = %v, want nil", ok, err)
		}
	}
}

func TestSymmetricSplitsTheRoundTrip(t *testing.T) {
	c := netlab.Symmetric(100*time.Millisecond, 5*time.Millisecond, 0.2)
	want := netlab.Path{Delay: 50 * time.Millisecond, Jitter: 5 * time.Millisecond, Loss: 0.2}
	if c.Out != want || c.In != want || c.RTT() != 100*time.Millisecond {
		t.Fatalf("Symmetric = %+v (RTT %v), want %+v each way", c, c.RTT(), want)
	}
	if b := c.Black(); b.Out.Loss != 1 || b.In.Loss != 1 || b.RTT() != c.RTT() {
		t.Fatalf("Black = %+v, want loss 1 each way and the delays kept", b)
	}
}

func TestBadConfigIsRefusedByTheLab(t *testing.T) {
	lab := netlab.NewLab(t)
	bad := netlab.Config{Out: netlab.Path{Loss: 2}}
	if _, err := lab.AddHost(bad); err == nil || !strings.Contains(err.Error(), "Out.Loss") {
		t.Fatalf("AddHost(%+v) = %v, want an error naming Out.Loss", bad, err)
	}
	h := lab.NewHost(t, netlab.Symmetric(2*time.Millisecond, 0, 0))
	if err := h.Link().Set(netlab.Config{In: netlab.Path{Delay: -time.Second}}); err == nil || !strings.Contains(err.Error(), "In.Delay") {
		t.Fatalf("Set = %v, want an error naming In.Delay", err)
	}
	if got, want := h.Link().Config(), netlab.Symmetric(2*time.Millisecond, 0, 0); got != want {
		t.Fatalf("after a refused Set the link is %+v, want it unchanged (%+v)", got, want)
	}
	if s := fmt.Sprint(h.Link()); !strings.Contains(s, "1ms±0s") {
		t.Errorf("Link.String() = %q, want each direction's 1ms delay in it", s)
	}
}
