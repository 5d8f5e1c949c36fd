package netlab_test

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/dialguard/dialguard/dialer"
	"github.com/dialguard/dialguard/dialer/dialtest"
	"github.com/dialguard/dialguard/dialer/dialtest/netlab"
)

// A program (or a TestMain) that wants the lab calls netlab.Isolate first,
// so that everything it dials stays inside a network namespace of its own.
// Here, a host 300 ms away that loses 5 % of the packets each way, an echo
// server on both its addresses, a name for it, and a dial through
// dialguard. (Not run as a test: it needs root and /dev/net/tun; the
// package's own tests run the same steps.)
func Example() {
	if code, done := netlab.Isolate(); done {
		fmt.Println("the isolated copy exited with", code) // a real program: os.Exit(code)
		return
	}
	lab, err := netlab.New()
	if err != nil {
		fmt.Println(err) // not root, no /dev/net/tun, or not isolated
		return
	}
	defer lab.Close()
	host, err := lab.AddHost(netlab.Symmetric(300*time.Millisecond, 0, 0.05))
	if err != nil {
		fmt.Println(err)
		return
	}
	v6, err := host.ListenHealthy(netip.AddrPortFrom(host.IPv6(), 0).String())
	if err != nil {
		fmt.Println(err)
		return
	}
	defer v6.Close()
	port := v6.Addr().Port()
	v4, err := host.ListenHealthy(netip.AddrPortFrom(host.IPv4(), port).String())
	if err != nil {
		fmt.Println(err)
		return
	}
	defer v4.Close()
	dns := dialtest.NewDNSServer(map[string][]netip.Addr{"far.test": host.Addrs()})
	defer dns.Close()

	d, err := dialer.New(dialer.WithResolver(dns.Resolver()))
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	start := time.Now()
	c, err := d.DialContext(ctx, "tcp", net.JoinHostPort("far.test", fmt.Sprint(port)))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	fmt.Printf("connected to %v in %v\n", c.RemoteAddr(), time.Since(start).Round(10*time.Millisecond))

	// The link can change while the program runs: degrade it, or cut it.
	if err := host.Link().Set(netlab.Symmetric(300*time.Millisecond, 0, 0).Black()); err != nil {
		fmt.Println(err)
	}
}
