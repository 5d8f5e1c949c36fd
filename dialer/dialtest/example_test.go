//go:build linux

package dialtest_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"time"

	"github.com/dialguard/dialguard/dialer/dialtest"
)

// The incident on loopback: "incident.test" resolves to ::1, which stalls,
// and to 127.0.0.1, which answers on the same port.
func Example() {
	ds, err := dialtest.ListenDualStack()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer ds.Close()

	dns := dialtest.NewDNSServer(map[string][]netip.Addr{
		"incident.test": {netip.MustParseAddr("::1"), netip.MustParseAddr("127.0.0.1")},
	})
	defer dns.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	target := net.JoinHostPort("incident.test", strconv.Itoa(int(ds.Port)))

	// Only IPv6: the handshake never completes.
	d := net.Dialer{Resolver: dns.Resolver(), Timeout: 200 * time.Millisecond}
	_, err = d.DialContext(ctx, "tcp6", target)
	var ne net.Error
	fmt.Println("tcp6 timed out:", errors.As(err, &ne) && ne.Timeout())

	// Both families: the standard library's fallback to IPv4 saves the dial.
	d.Timeout = 10 * time.Second
	c, err := d.DialContext(ctx, "tcp", target)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	fmt.Println("tcp connected to", c.RemoteAddr().(*net.TCPAddr).AddrPort().Addr())

	// Output:
	// tcp6 timed out: true
	// tcp connected to 127.0.0.1
}
