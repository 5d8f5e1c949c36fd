package netlab

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"sync"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// A Host is a far host of a Lab: a network namespace of its own, reached
// over its Link. Its endpoints are made with the Listen and New methods,
// which put package dialtest's endpoints inside the host's namespace.
type Host struct {
	lab    *Lab
	index  int
	ip4    netip.Addr
	ip6    netip.Addr
	nsFD   int
	device string // the lab side's TUN device
	link   *Link
	tuns   []int // the lab side's and the host side's TUN descriptors
	wg     sync.WaitGroup

	closeOnce sync.Once
	closeErr  error
}

// A Link is the delay line between a Host and the lab: two Paths whose
// settings can be changed while packets flow.
type Link struct {
	mu       sync.Mutex
	config   Config
	relay    *relay
	hostName string
}

// newHost makes host index's namespace and devices and starts its delay
// line.
func newHost(l *Lab, index int, c Config) (*Host, error) {
	h := &Host{
		lab:   l,
		index: index,
		ip4:   netip.AddrFrom4([4]byte{198, 18, byte(index), 2}),
		ip6:   netip.AddrFrom16([16]byte{0x20, 0x01, 0, 2, 0, 0, 0, byte(index), 14: 0, 15: 2}),
		nsFD:  -1,
	}
	far := -1
	nsFD, err := newNamespace(func() error {
		if err := setLoopbackUp(); err != nil {
			return err
		}
		fd, name, err := openTUN()
		if err != nil {
			return err
		}
		far = fd
		return configure(name, index, 2)
	})
	if err != nil {
		if far >= 0 {
			unix.Close(far)
		}
		return nil, err
	}
	h.nsFD = nsFD
	h.tuns = []int{far}
	near, name, err := openTUN()
	if err == nil {
		h.tuns = append(h.tuns, near)
		h.device = name
		err = configure(name, index, 1)
	}
	seed := uint64(index)
	h.link = &Link{config: c, hostName: fmt.Sprintf("host %d", index)}
	if err == nil {
		h.link.relay, err = newRelay(near, far, c, seed)
	}
	if err != nil {
		h.release()
		return nil, err
	}
	h.link.relay.start(&h.wg)
	return h, nil
}

// configure gives the TUN device name, in the calling thread's namespace,
// the addresses of side (1 for the lab, 2 for the host) in host index's
// subnets, and brings it up. IPv6 addresses skip duplicate address
// detection, which would keep them unusable for a second.
func configure(name string, index, side int) error {
	link, err := netlink.LinkByName(name)
	if err != nil {
		return fmt.Errorf("netlab: %s: %w", name, err)
	}
	// No link-local address and no router solicitations: the link carries
	// only what the test and the kernels' TCP and UDP send, so its counts
	// are the test's own.
	for key, value := range map[string]string{"addr_gen_mode": "1", "router_solicitations": "0"} {
		if err := os.WriteFile("/proc/sys/net/ipv6/conf/"+name+"/"+key, []byte(value), 0); err != nil {
			return fmt.Errorf("netlab: %s: %w", name, err)
		}
	}
	v4 := &net.IPNet{IP: net.IPv4(198, 18, byte(index), byte(side)), Mask: net.CIDRMask(24, 32)}
	v6 := &net.IPNet{IP: net.IP{0x20, 0x01, 0, 2, 0, 0, 0, byte(index), 15: byte(side)}, Mask: net.CIDRMask(64, 128)}
	for _, a := range []*netlink.Addr{{IPNet: v4}, {IPNet: v6, Flags: unix.IFA_F_NODAD}} {
		if err := netlink.AddrAdd(link, a); err != nil {
			return fmt.Errorf("netlab: adding %v to %s: %w", a.IPNet, name, err)
		}
	}
	if err := netlink.LinkSetMTU(link, mtu); err != nil {
		return fmt.Errorf("netlab: setting the MTU of %s: %w", name, err)
	}
	if err := netlink.LinkSetUp(link); err != nil {
		return fmt.Errorf("netlab: bringing %s up: %w", name, err)
	}
	return nil
}

// checkRoute returns an error unless the kernel routes ip over h's link.
func (h *Host) checkRoute(ip netip.Addr) error {
	dev, err := routeDevice(ip)
	if err != nil {
		return err
	}
	if dev != h.device {
		return fmt.Errorf("netlab: %v is routed over %s, not over its link %s", ip, dev, h.device)
	}
	return nil
}

// IPv4 returns the host's IPv4 address, 198.18.i.2.
func (h *Host) IPv4() netip.Addr { return h.ip4 }

// IPv6 returns the host's IPv6 address, 2001:2:0:i::2.
func (h *Host) IPv6() netip.Addr { return h.ip6 }

// Addrs returns the host's addresses, IPv6 first, as a resolver would
// answer for a dual-stack name.
func (h *Host) Addrs() []netip.Addr { return []netip.Addr{h.ip6, h.ip4} }

// Link returns the link between the lab and h.
func (h *Host) Link() *Link { return h.link }

// Device returns the name of the lab side's device of h's link.
func (h *Host) Device() string { return h.device }

// Do runs f on a thread inside h's namespace and returns its error.
// Sockets f opens stay in that namespace for their whole life, whichever
// thread uses them later; goroutines f starts run in the program's own
// namespace.
func (h *Host) Do(f func() error) error { return inNamespace(h.nsFD, f) }

// Close stops h's delay line, dropping the packets it holds, closes its
// devices and its namespace, and waits for its goroutines. Endpoints made
// on h keep the namespace until they are closed themselves. It is
// idempotent.
func (h *Host) Close() error {
	h.closeOnce.Do(func() {
		h.link.relay.stop()
		h.wg.Wait()
		h.closeErr = h.release()
		h.lab.forget(h)
	})
	return h.closeErr
}

// release closes what h holds once its threads have ended (or never
// started): the directions' stop events, the TUN devices, the namespace.
func (h *Host) release() error {
	var errs []error
	if h.link.relay != nil {
		h.link.relay.close()
	}
	for _, fd := range h.tuns {
		if err := unix.Close(fd); err != nil {
			errs = append(errs, fmt.Errorf("netlab: closing a TUN device: %w", err))
		}
	}
	if err := unix.Close(h.nsFD); err != nil {
		errs = append(errs, fmt.Errorf("netlab: closing the namespace: %w", err))
	}
	return errors.Join(errs...)
}

// Set changes the link to c at once, for the packets that enter it from now
// on (packets already in flight keep the fate they were given). A c out of
// range is refused with an error naming the field, and the link is left as
// it was.
func (l *Link) Set(c Config) error {
	if err := c.Validate(); err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.config = c
	l.relay.out.path.Store(&c.Out)
	l.relay.in.path.Store(&c.In)
	return nil
}

// Config returns the link's current setting.
func (l *Link) Config() Config {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.config
}

// Stats returns the packet counts of each direction so far.
func (l *Link) Stats() (out, in Stats) {
	return l.relay.out.stats.snapshot(), l.relay.in.stats.snapshot()
}

// String returns the link's host and setting, for test logs.
func (l *Link) String() string {
	c := l.Config()
	return fmt.Sprintf("link to %s: out %v, in %v", l.hostName, c.Out, c.In)
}

// String returns "delay±jitter loss%", for test logs.
func (p Path) String() string {
	return fmt.Sprintf("%v±%v loss %.3g%%", p.Delay, p.Jitter, p.Loss*100)
}
