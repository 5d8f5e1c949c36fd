package netlab

import (
	"fmt"
	"net/netip"
	"testing"

	"github.com/dialguard/dialguard/dialer/dialtest"
)

// listen runs a dialtest Listen function for address inside h's namespace,
// after checking that address is one of h's.
func listen[E any](h *Host, address string, listen func(string) (E, error)) (E, error) {
	var e E
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return e, fmt.Errorf("netlab: %w", err)
	}
	if ap.Addr() != h.ip4 && ap.Addr() != h.ip6 {
		return e, fmt.Errorf("netlab: %v is not an address of host %v/%v", ap.Addr(), h.ip4, h.ip6)
	}
	err = h.Do(func() error {
		var err error
		e, err = listen(address)
		return err
	})
	return e, err
}

// closer is what every dialtest endpoint is.
type closer interface{ Close() error }

// must is the tests' form of listen: Fatal on error, Close in Cleanup.
func must[E closer](tb testing.TB, e E, err error) E {
	tb.Helper()
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { e.Close() })
	return e
}

// ListenHealthy returns a dialtest.Healthy (an echo server) on h, at
// address: one of h's addresses with a port ("198.18.1.2:0",
// "[2001:2:0:1::2]:8080"; port 0 picks a free one).
func (h *Host) ListenHealthy(address string) (*dialtest.Healthy, error) {
	return listen(h, address, dialtest.ListenHealthy)
}

// ListenRefused returns a dialtest.Refused (a port that answers every SYN
// with a RST) on h, at address as for ListenHealthy.
func (h *Host) ListenRefused(address string) (*dialtest.Refused, error) {
	return listen(h, address, dialtest.ListenRefused)
}

// ListenStalled returns a dialtest.Stalled (a full accept queue, which
// drops every SYN) on h, at address as for ListenHealthy. Unlike a black
// link, it stalls one port while the host answers on others.
func (h *Host) ListenStalled(address string) (*dialtest.Stalled, error) {
	return listen(h, address, dialtest.ListenStalled)
}

// ListenSilentTLS returns a dialtest.SilentTLS (it accepts and never
// answers a ClientHello) on h, at address as for ListenHealthy.
func (h *Host) ListenSilentTLS(address string) (*dialtest.SilentTLS, error) {
	return listen(h, address, dialtest.ListenSilentTLS)
}

// NewHealthy is ListenHealthy for tests: Fatal on error, Close in Cleanup.
func (h *Host) NewHealthy(tb testing.TB, address string) *dialtest.Healthy {
	tb.Helper()
	e, err := h.ListenHealthy(address)
	return must(tb, e, err)
}

// NewRefused is ListenRefused for tests: Fatal on error, Close in Cleanup.
func (h *Host) NewRefused(tb testing.TB, address string) *dialtest.Refused {
	tb.Helper()
	e, err := h.ListenRefused(address)
	return must(tb, e, err)
}

// NewStalled is ListenStalled for tests: Fatal on error, Close in Cleanup.
func (h *Host) NewStalled(tb testing.TB, address string) *dialtest.Stalled {
	tb.Helper()
	e, err := h.ListenStalled(address)
	return must(tb, e, err)
}

// NewSilentTLS is ListenSilentTLS for tests: Fatal on error, Close in
// Cleanup.
func (h *Host) NewSilentTLS(tb testing.TB, address string) *dialtest.SilentTLS {
	tb.Helper()
	e, err := h.ListenSilentTLS(address)
	return must(tb, e, err)
}
