package dialer

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// localAddrs is Policy.DenyLocal's list of this host's addresses, read
// lazily: a check that finds the list older than its refresh interval
// reads the interfaces again, so no goroutine or timer is needed, and the
// list is at most one interval old when judged, once a check has come
// after the interval.
type localAddrs struct {
	every time.Duration

	// read lists the host's own prefixes (interfaceRanges); tests
	// replace it.
	read func() ([]netip.Prefix, error)

	snap atomic.Pointer[localSnapshot]

	// reading lets one check read the interfaces while the others judge
	// by the list there is; with no list yet, they wait for it.
	reading sync.Mutex
}

// localSnapshot is one reading of the interfaces.
type localSnapshot struct {
	at     time.Time
	addrs  map[netip.Addr]struct{} // addresses of the host's interfaces
	ranges []netip.Prefix          // whole prefixes that are local (loopback interfaces)
	err    error                   // why the reading failed, when addrs is nil
}

func newLocalAddrs(every time.Duration) *localAddrs {
	return &localAddrs{every: every, read: interfaceRanges}
}

// interfaceRanges returns this host's own addresses, each as a single
// address prefix, and for a loopback interface its whole prefix: Linux
// answers every address of 127.0.0.0/8 on lo, not only 127.0.0.1.
func interfaceRanges() ([]netip.Prefix, error) {
	ifaces, err := net.Interfaces()
	if err != nil {
		return nil, err
	}
	var out []netip.Prefix
	for _, ifc := range ifaces {
		addrs, err := ifc.Addrs()
		if err != nil {
			return nil, err
		}
		for _, a := range addrs {
			n, ok := a.(*net.IPNet)
			if !ok {
				continue
			}
			ip, ok := netip.AddrFromSlice(n.IP)
			if !ok {
				continue
			}
			ip = ip.Unmap()
			bits := ip.BitLen()
			if ones, _ := n.Mask.Size(); ifc.Flags&net.FlagLoopback != 0 && ones <= bits {
				bits = ones
			}
			out = append(out, netip.PrefixFrom(ip, bits).Masked())
		}
	}
	return out, nil
}

// errNoLocalAddrs is why DenyLocal could not judge an address.
var errNoLocalAddrs = errors.New("cannot read this host's addresses")

// check returns a *DeniedError if a, or an IPv4 address it carries, is one
// of this host's addresses.
func (l *localAddrs) check(a netip.AddrPort, carried []netip.Addr) error {
	s := l.current()
	if s.addrs == nil {
		return &DeniedError{Addr: a, Err: fmt.Errorf("%w: %w", errNoLocalAddrs, s.err)}
	}
	if rule, ok := s.match(a.Addr()); ok {
		return &DeniedError{Addr: a, Rule: rule, Local: true}
	}
	for _, v4 := range carried {
		if rule, ok := s.match(v4); ok {
			return &DeniedError{Addr: a, Rule: rule, Carried: v4, Local: true}
		}
	}
	return nil
}

func (s *localSnapshot) match(ip netip.Addr) (netip.Prefix, bool) {
	if _, ok := s.addrs[ip]; ok {
		return netip.PrefixFrom(ip, ip.BitLen()), true
	}
	for _, r := range s.ranges {
		if r.Contains(ip) {
			return r, true
		}
	}
	return netip.Prefix{}, false
}

// current returns a list no older than the refresh interval, reading the
// interfaces if needed. While one check reads, the others use the list
// there is; with none yet, they wait for it.
func (l *localAddrs) current() *localSnapshot {
	s := l.snap.Load()
	if s != nil && time.Since(s.at) < l.every {
		return s
	}
	if s != nil && s.addrs != nil {
		if !l.reading.TryLock() {
			return s // another check is reading; this list will do meanwhile
		}
	} else {
		l.reading.Lock()
	}
	defer l.reading.Unlock()
	if now := l.snap.Load(); now != s && now != nil && time.Since(now.at) < l.every {
		return now // read while this check waited
	}
	fresh := l.readOnce()
	if fresh.addrs == nil && s != nil && s.addrs != nil {
		// Keep judging by the last list read, and try again after
		// another interval.
		fresh = &localSnapshot{at: fresh.at, addrs: s.addrs, ranges: s.ranges}
	}
	l.snap.Store(fresh)
	return fresh
}

func (l *localAddrs) readOnce() *localSnapshot {
	at := time.Now()
	list, err := l.read()
	if err != nil {
		return &localSnapshot{at: at, err: err}
	}
	s := &localSnapshot{at: at, addrs: make(map[netip.Addr]struct{}, len(list))}
	for _, p := range list {
		if p.IsSingleIP() {
			s.addrs[p.Addr()] = struct{}{}
		} else {
			s.ranges = append(s.ranges, p)
		}
	}
	return s
}
