package clients_test

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"syscall"
)

// countSynSent returns the number of TCP sockets of this network namespace
// in SYN_SENT toward port (any address, both families), as
// dialtest.CountSynSent does, but asks the kernel through sock_diag for
// the SYN_SENT sockets only, instead of reading all of /proc/net/tcp*:
// on a shared test machine with tens of thousands of sockets in
// TIME_WAIT, a read of /proc/net/tcp takes milliseconds of CPU, which a
// sampler every few milliseconds would take from the clients it watches
// (and it would miss short peaks).
func countSynSent(port uint16) (int, error) {
	fd, err := syscall.Socket(syscall.AF_NETLINK, syscall.SOCK_DGRAM|syscall.SOCK_CLOEXEC, syscall.NETLINK_INET_DIAG)
	if err != nil {
		return 0, os.NewSyscallError("socket", err)
	}
	defer syscall.Close(fd)
	n := 0
	for _, family := range []uint8{syscall.AF_INET, syscall.AF_INET6} {
		c, err := dumpSynSent(fd, family, port)
		if err != nil {
			return 0, err
		}
		n += c
	}
	return n, nil
}

// The sock_diag constants and layouts (linux/sock_diag.h, linux/inet_diag.h).
const (
	sockDiagByFamily = 20
	tcpSynSentState  = 2
	// inetDiagReqV2Len: family, protocol, ext, pad (1 each), states (4),
	// then the 48-byte inet_diag_sockid.
	inetDiagReqV2Len = 8 + 48
	// In an inet_diag_msg: family, state, timer, retrans (1 each), then
	// the sockid, whose destination port is at offset 2 (big-endian).
	diagMsgDportOffset = 4 + 2
	diagMsgMinLen      = 4 + 48
)

// dumpSynSent dumps the SYN_SENT TCP sockets of family and counts those
// toward port.
func dumpSynSent(fd int, family uint8, port uint16) (int, error) {
	req := make([]byte, syscall.NLMSG_HDRLEN+inetDiagReqV2Len)
	ne := binary.NativeEndian
	ne.PutUint32(req[0:], uint32(len(req)))
	ne.PutUint16(req[4:], sockDiagByFamily)
	ne.PutUint16(req[6:], syscall.NLM_F_REQUEST|syscall.NLM_F_DUMP)
	ne.PutUint32(req[8:], 1) // sequence
	body := req[syscall.NLMSG_HDRLEN:]
	body[0] = family
	body[1] = syscall.IPPROTO_TCP
	ne.PutUint32(body[4:], 1<<tcpSynSentState)
	if err := syscall.Sendto(fd, req, 0, &syscall.SockaddrNetlink{Family: syscall.AF_NETLINK}); err != nil {
		return 0, os.NewSyscallError("sendto", err)
	}
	buf := make([]byte, 1<<16)
	count := 0
	for {
		nr, _, err := syscall.Recvfrom(fd, buf, 0)
		if err != nil {
			return 0, os.NewSyscallError("recvfrom", err)
		}
		msgs, err := syscall.ParseNetlinkMessage(buf[:nr])
		if err != nil {
			return 0, err
		}
		for _, m := range msgs {
			switch m.Header.Type {
			case syscall.NLMSG_DONE:
				return count, nil
			case syscall.NLMSG_ERROR:
				if len(m.Data) >= 4 {
					if errno := int32(ne.Uint32(m.Data)); errno != 0 {
						return 0, os.NewSyscallError("sock_diag", syscall.Errno(-errno))
					}
				}
				return 0, errors.New("sock_diag: error message")
			}
			if len(m.Data) < diagMsgMinLen {
				return 0, fmt.Errorf("sock_diag: short message (%d bytes)", len(m.Data))
			}
			if m.Data[1] == tcpSynSentState && binary.BigEndian.Uint16(m.Data[diagMsgDportOffset:]) == port {
				count++
			}
		}
	}
}
