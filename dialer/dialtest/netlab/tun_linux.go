package netlab

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// devicePrefix starts the name of every device the lab makes, so that the
// isolation check can tell the lab's devices from anything else.
const devicePrefix = "dglab"

// openTUN creates a TUN device (layer 3, no packet information header) in
// the calling thread's network namespace and returns the non-blocking
// descriptor through which its packets are read and written, with the name
// the kernel gave it. The device exists as long as the descriptor is open.
func openTUN() (int, string, error) {
	fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		return -1, "", fmt.Errorf("netlab: open /dev/net/tun: %w", err)
	}
	ifr, err := unix.NewIfreq(devicePrefix + "%d")
	if err != nil {
		unix.Close(fd)
		return -1, "", fmt.Errorf("netlab: %w", err)
	}
	ifr.SetUint16(unix.IFF_TUN | unix.IFF_NO_PI)
	if err := unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr); err != nil {
		unix.Close(fd)
		return -1, "", fmt.Errorf("netlab: TUNSETIFF: %w", err)
	}
	return fd, ifr.Name(), nil
}
