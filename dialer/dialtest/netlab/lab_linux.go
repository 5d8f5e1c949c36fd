package netlab

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
)

// MaxHosts is how many hosts one namespace's labs hold at once: host i
// (1..MaxHosts) has the subnets 198.18.i.0/24 and 2001:2:0:i::/64.
const MaxHosts = 250

// hostsMu serialises the choice of a free host index among the labs of
// one process, which share its namespace.
var hostsMu sync.Mutex

// A Lab is a set of far hosts, each behind a Link of its own, seen from the
// namespace the program runs in (which Isolate makes a namespace of its
// own). The zero value is not usable; call New or NewLab.
type Lab struct {
	overhead time.Duration // what the lab adds to a handshake, compensated

	mu     sync.Mutex
	hosts  []*Host
	closed bool
}

// New returns an empty Lab, after measuring its Overhead. It fails if the lab cannot run here (see
// Available) or if the program's namespace is not isolated: a device other
// than loopback and the lab's own, or a default route, means that a
// mistaken dial could leave the machine (run the program under Isolate).
func New() (*Lab, error) {
	if err := Available(); err != nil {
		return nil, err
	}
	if err := checkIsolated(); err != nil {
		return nil, err
	}
	hostsMu.Lock()
	overhead, err := calibrate()
	hostsMu.Unlock()
	if err != nil {
		return nil, err
	}
	return &Lab{overhead: overhead}, nil
}

// Overhead returns what the lab itself adds to a TCP handshake over a
// zero-delay link, beyond what loopback takes, as New measured it (about
// 150 µs on a 2-core virtual machine). Every link takes it off its round
// trip, half from each direction's delay: a link shorter than Overhead
// behaves as one of round trip Overhead.
func (l *Lab) Overhead() time.Duration { return l.overhead }

// NewLab is New for tests: it skips tb, with the reason, where the lab
// cannot run (see Available), fails it if the namespace is not isolated,
// and closes the lab in tb.Cleanup.
func NewLab(tb testing.TB) *Lab {
	tb.Helper()
	if err := Available(); err != nil {
		tb.Skip(err)
	}
	l, err := New()
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { l.Close() })
	return l
}

// checkIsolated returns an error unless every device in the calling
// thread's namespace is loopback or a lab device, and no route is a
// default route.
func checkIsolated() error {
	links, err := netlink.LinkList()
	if err != nil {
		return fmt.Errorf("netlab: listing devices: %w", err)
	}
	for _, l := range links {
		if name := l.Attrs().Name; name != "lo" && !strings.HasPrefix(name, devicePrefix) {
			return fmt.Errorf("netlab: not isolated: this network namespace has device %s; run the program under netlab.Isolate (in TestMain)", name)
		}
	}
	routes, err := netlink.RouteList(nil, netlink.FAMILY_ALL)
	if err != nil {
		return fmt.Errorf("netlab: listing routes: %w", err)
	}
	for _, r := range routes {
		if r.Dst == nil || r.Dst.IP.IsUnspecified() {
			return fmt.Errorf("netlab: not isolated: this network namespace has a default route (%v); run the program under netlab.Isolate (in TestMain)", r)
		}
	}
	return nil
}

// AddHost makes a far host behind a link set to c: a network namespace
// with a TUN device, joined to the lab's namespace by a delay line. The
// host answers at 198.18.i.2 and 2001:2:0:i::2 (Host.IPv4, Host.IPv6); the
// lab's side of the link is 198.18.i.1 and 2001:2:0:i::1. Before it returns,
// AddHost checks that the kernel routes both addresses over the host's
// link. A c out of range is refused with an error naming the field.
func (l *Lab) AddHost(c Config) (*Host, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	hostsMu.Lock()
	defer hostsMu.Unlock()
	l.mu.Lock()
	closed := l.closed
	l.mu.Unlock()
	if closed {
		return nil, errors.New("netlab: AddHost on a closed Lab")
	}
	index, err := freeIndex()
	if err != nil {
		return nil, err
	}
	h, err := newHost(l, index, c)
	if err != nil {
		return nil, err
	}
	h.link.relay.comp.Store(int64(l.overhead / 2))
	for _, ip := range []netip.Addr{h.ip4, h.ip6} {
		if err := h.checkRoute(ip); err != nil {
			h.Close()
			return nil, err
		}
	}
	l.mu.Lock()
	l.hosts = append(l.hosts, h)
	l.mu.Unlock()
	return h, nil
}

// NewHost is AddHost for tests: it calls tb.Fatal on error and closes the
// host in tb.Cleanup.
func (l *Lab) NewHost(tb testing.TB, c Config) *Host {
	tb.Helper()
	h, err := l.AddHost(c)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { h.Close() })
	return h
}

// freeIndex returns the lowest host index whose IPv4 subnet no device of
// the namespace has an address in.
func freeIndex() (int, error) {
	addrs, err := netlink.AddrList(nil, netlink.FAMILY_V4)
	if err != nil {
		return 0, fmt.Errorf("netlab: listing addresses: %w", err)
	}
	used := make(map[int]bool)
	for _, a := range addrs {
		if ip, ok := netip.AddrFromSlice(a.IP.To4()); ok {
			if b := ip.As4(); b[0] == 198 && b[1] == 18 {
				used[int(b[2])] = true
			}
		}
	}
	for i := 1; i <= MaxHosts; i++ {
		if !used[i] {
			return i, nil
		}
	}
	return 0, fmt.Errorf("netlab: all %d hosts are in use", MaxHosts)
}

// CheckRoute returns an error unless the kernel routes ip over the link of
// one of the lab's hosts. Call it before dialling an address the lab did
// not hand out; the lab's own hosts were checked when they were made.
func (l *Lab) CheckRoute(ip netip.Addr) error {
	l.mu.Lock()
	hosts := append([]*Host(nil), l.hosts...)
	l.mu.Unlock()
	dev, err := routeDevice(ip)
	if err != nil {
		return err
	}
	for _, h := range hosts {
		if h.device == dev {
			return nil
		}
	}
	return fmt.Errorf("netlab: %v is routed over %s, which is not a link of this lab", ip, dev)
}

// routeDevice returns the name of the device the kernel would send a
// packet for ip through.
func routeDevice(ip netip.Addr) (string, error) {
	routes, err := netlink.RouteGet(net.IP(ip.AsSlice()))
	if err != nil || len(routes) == 0 {
		return "", fmt.Errorf("netlab: %v has no route: %v", ip, err)
	}
	link, err := netlink.LinkByIndex(routes[0].LinkIndex)
	if err != nil {
		return "", fmt.Errorf("netlab: route to %v: %w", ip, err)
	}
	return link.Attrs().Name, nil
}

// Hosts returns the lab's open hosts, in the order they were made.
func (l *Lab) Hosts() []*Host {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]*Host(nil), l.hosts...)
}

// Close closes every host of the lab and waits for their goroutines. It is
// idempotent; later AddHost calls fail.
func (l *Lab) Close() error {
	l.mu.Lock()
	hosts := l.hosts
	l.hosts, l.closed = nil, true
	l.mu.Unlock()
	var errs []error
	for _, h := range hosts {
		errs = append(errs, h.Close())
	}
	return errors.Join(errs...)
}

// forget removes a closed host from the lab's list.
func (l *Lab) forget(h *Host) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for i, x := range l.hosts {
		if x == h {
			l.hosts = append(l.hosts[:i], l.hosts[i+1:]...)
			return
		}
	}
}
