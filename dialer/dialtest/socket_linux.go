package dialtest

import (
	"fmt"
	"net/netip"
	"syscall"
	"time"
)

// sockaddr converts ap to a raw sockaddr and its address family.
func sockaddr(ap netip.AddrPort) (syscall.Sockaddr, int) {
	if ap.Addr().Is4() {
		return &syscall.SockaddrInet4{Port: int(ap.Port()), Addr: ap.Addr().As4()}, syscall.AF_INET
	}
	return &syscall.SockaddrInet6{Port: int(ap.Port()), Addr: ap.Addr().As16()}, syscall.AF_INET6
}

// boundSocket returns a TCP socket bound to ap and the address it is bound to
// (with the port the kernel chose if ap's port is 0). IPv6 sockets get
// IPV6_V6ONLY. reuseAddr sets SO_REUSEADDR, which lets a listening socket take
// a fixed port that still has connections in TIME_WAIT; a socket that never
// listens must not set it, or another SO_REUSEADDR socket could bind the port too.
func boundSocket(ap netip.AddrPort, reuseAddr bool) (int, netip.AddrPort, error) {
	sa, family := sockaddr(ap)
	fd, err := syscall.Socket(family, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, syscall.IPPROTO_TCP)
	if err != nil {
		return -1, netip.AddrPort{}, sysErr("socket", err)
	}
	fail := func(op string, err error) (int, netip.AddrPort, error) {
		syscall.Close(fd)
		return -1, netip.AddrPort{}, sysErr(op, err)
	}
	if family == syscall.AF_INET6 {
		if err := syscall.SetsockoptInt(fd, syscall.IPPROTO_IPV6, syscall.IPV6_V6ONLY, 1); err != nil {
			return fail("setsockopt IPV6_V6ONLY", err)
		}
	}
	if reuseAddr {
		if err := syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_REUSEADDR, 1); err != nil {
			return fail("setsockopt SO_REUSEADDR", err)
		}
	}
	if err := syscall.Bind(fd, sa); err != nil {
		return fail("bind "+ap.String(), err)
	}
	local, err := syscall.Getsockname(fd)
	if err != nil {
		return fail("getsockname", err)
	}
	return fd, netip.AddrPortFrom(ap.Addr(), uint16(sockaddrPort(local))), nil
}

func sockaddrPort(sa syscall.Sockaddr) int {
	switch sa := sa.(type) {
	case *syscall.SockaddrInet4:
		return sa.Port
	case *syscall.SockaddrInet6:
		return sa.Port
	}
	return 0
}

// connectWithin starts a non-blocking connect to ap and waits up to wait for
// it to complete. It returns the socket and whether the connection was
// established; a socket still in SYN_SENT after wait is returned with false.
func connectWithin(ap netip.AddrPort, wait time.Duration) (fd int, established bool, err error) {
	sa, family := sockaddr(ap)
	fd, err = syscall.Socket(family, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC|syscall.SOCK_NONBLOCK, syscall.IPPROTO_TCP)
	if err != nil {
		return -1, false, sysErr("socket", err)
	}
	err = syscall.Connect(fd, sa)
	if err != nil && err != syscall.EINPROGRESS {
		syscall.Close(fd)
		return -1, false, sysErr("connect "+ap.String(), err)
	}
	established, err = waitEstablished(fd, ap, wait)
	if err != nil {
		syscall.Close(fd)
		return -1, false, err
	}
	return fd, established, nil
}

// waitEstablished waits up to wait for the pending connect on fd (to ap)
// to complete; its error is the connect's.
func waitEstablished(fd int, ap netip.AddrPort, wait time.Duration) (bool, error) {
	deadline := time.Now().Add(wait)
	for {
		if _, err := syscall.Getpeername(fd); err == nil {
			return true, nil
		}
		if soErr, err := syscall.GetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_ERROR); err != nil || soErr != 0 {
			if err == nil {
				err = syscall.Errno(soErr)
			}
			return false, sysErr("connect "+ap.String(), err)
		}
		if time.Now().After(deadline) {
			return false, nil
		}
		time.Sleep(time.Millisecond)
	}
}

func sysErr(op string, err error) error {
	return fmt.Errorf("dialtest: %s: %w", op, err)
}
