package dialer

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"time"
)

// The typed dial methods of net.Dialer (Go 1.26), so that code written
// against net.Dialer compiles against a Dialer. DialTCP gets the dialer's
// protections; the others are handed to the configured net.Dialer with the
// dial's deadline applied, as DialContext hands it networks other than
// tcp.

// localAddrKey carries DialTCP's local address to the attempts of its
// dial (dialNet), which otherwise use WithNetDialer's.
type localAddrKey struct{}

// DialTCP connects to raddr over network ("tcp", "tcp4" or "tcp6") as
// net.Dialer.DialTCP does, with everything DialContext does for an IP
// literal: the deadline, the stall bound, retries, breakers and admission.
// laddr, if valid, is the local address of the connection (a zero port
// lets the system choose one); otherwise WithNetDialer's LocalAddr applies.
func (d *Dialer) DialTCP(ctx context.Context, network string, laddr, raddr netip.AddrPort) (*net.TCPConn, error) {
	if ctx != nil && laddr.IsValid() {
		ctx = context.WithValue(ctx, localAddrKey{}, net.TCPAddrFromAddrPort(laddr))
	}
	c, err := d.DialContext(ctx, network, raddr.String())
	if err != nil {
		return nil, err
	}
	tc, ok := c.(*net.TCPConn)
	if !ok {
		c.Close()
		return nil, &net.OpError{Op: "dial", Net: network, Addr: net.TCPAddrFromAddrPort(raddr), Err: fmt.Errorf("dialguard: connection is a %T, not a *net.TCPConn", c)}
	}
	return tc, nil
}

// DialUDP is net.Dialer.DialUDP with the dial's deadline applied.
func (d *Dialer) DialUDP(ctx context.Context, network string, laddr, raddr netip.AddrPort) (*net.UDPConn, error) {
	ctx, cancel, err := d.passThroughContext(ctx, network, raddr.String())
	if err != nil {
		return nil, err
	}
	defer cancel()
	return d.cfg.netDialer.DialUDP(ctx, network, laddr, raddr)
}

// DialIP is net.Dialer.DialIP with the dial's deadline applied.
func (d *Dialer) DialIP(ctx context.Context, network string, laddr, raddr netip.Addr) (*net.IPConn, error) {
	ctx, cancel, err := d.passThroughContext(ctx, network, raddr.String())
	if err != nil {
		return nil, err
	}
	defer cancel()
	return d.cfg.netDialer.DialIP(ctx, network, laddr, raddr)
}

// DialUnix is net.Dialer.DialUnix with the dial's deadline applied.
func (d *Dialer) DialUnix(ctx context.Context, network string, laddr, raddr *net.UnixAddr) (*net.UnixConn, error) {
	address := ""
	if raddr != nil {
		address = raddr.String()
	}
	ctx, cancel, err := d.passThroughContext(ctx, network, address)
	if err != nil {
		return nil, err
	}
	defer cancel()
	return d.cfg.netDialer.DialUnix(ctx, network, laddr, raddr)
}

// MultipathTCP reports whether the dialer's TCP connections use
// multipath TCP, as net.Dialer.MultipathTCP does (see SetMultipathTCP).
func (d *Dialer) MultipathTCP() bool {
	d.init()
	return d.cfg.netDialer.MultipathTCP()
}

// SetMultipathTCP directs the dialer's TCP connections to use multipath
// TCP or not, as net.Dialer.SetMultipathTCP does. Like a net.Dialer's
// fields, it must not be changed while dials are in flight: call it before
// the first dial (or use WithNetDialer with a net.Dialer set up so).
func (d *Dialer) SetMultipathTCP(use bool) {
	d.init()
	d.cfg.netDialer.SetMultipathTCP(use)
}

// passThroughContext checks ctx and bounds it by the dial's deadline, for
// the dials handed to net.Dialer whole.
func (d *Dialer) passThroughContext(ctx context.Context, network, address string) (context.Context, context.CancelFunc, error) {
	d.init()
	if ctx == nil {
		return nil, nil, opError(network, address, ErrNilContext)
	}
	deadline, cause := d.deadline(ctx, time.Now())
	ctx, cancel := context.WithDeadlineCause(ctx, deadline, cause)
	return ctx, cancel, nil
}
