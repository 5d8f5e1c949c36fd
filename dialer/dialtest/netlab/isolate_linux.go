package netlab

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"syscall"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// isolatedMark is set to "1" in the environment of the program Isolate
// re-executes, so that the copy knows it already runs isolated. It is a
// marker between the two copies of one program, not a setting.
const isolatedMark = "DIALGUARD_NETLAB_ISOLATED"

// Isolate re-executes the running program (a test binary, usually, from
// TestMain) in a new network namespace whose only device is loopback, waits
// for it, and returns its exit code with done true: the caller exits with
// that code. The copy's standard streams, arguments and environment are the
// original's, and it is killed if the original dies.
//
// In the copy, Isolate brings loopback up and returns done false, and the
// program goes on: every socket it opens is in the new namespace, where
// nothing leaves the machine. Where the lab cannot run (not root, no
// /dev/net/tun, namespaces refused), Isolate also returns done false, the
// program runs where it is, and NewLab skips with the reason.
func Isolate() (code int, done bool) {
	if os.Getenv(isolatedMark) == "1" {
		if err := setLoopbackUp(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1, true
		}
		return 0, false
	}
	if Available() != nil {
		return 0, false
	}
	exe, err := os.Executable()
	if err != nil {
		fmt.Fprintf(os.Stderr, "netlab: cannot re-execute the program: %v\n", err)
		return 1, true
	}
	cmd := exec.Command(exe, os.Args[1:]...)
	cmd.Args[0] = os.Args[0]
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.Env = append(os.Environ(), isolatedMark+"=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: unix.CLONE_NEWNET, Pdeathsig: syscall.SIGKILL}
	err = cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0, true
	case errors.As(err, &exit) && exit.ExitCode() >= 0:
		return exit.ExitCode(), true
	case errors.As(err, &exit):
		fmt.Fprintf(os.Stderr, "netlab: the isolated program ended: %v\n", err)
		return 2, true
	}
	fmt.Fprintf(os.Stderr, "netlab: cannot start the isolated program: %v\n", err)
	return 1, true
}

// setLoopbackUp brings up lo, which a new namespace has down.
func setLoopbackUp() error {
	lo, err := netlink.LinkByName("lo")
	if err == nil {
		err = netlink.LinkSetUp(lo)
	}
	if err != nil {
		return fmt.Errorf("netlab: bringing loopback up: %w", err)
	}
	return nil
}

var availability = sync.OnceValue(func() error {
	who := fmt.Sprintf("running as uid %d", os.Geteuid())
	f, err := os.OpenFile("/dev/net/tun", os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("netlab: the lab needs /dev/net/tun, readable and writable (%s): %w", who, err)
	}
	f.Close()
	err = onThread(func() error { return unix.Unshare(unix.CLONE_NEWNET) })
	if err != nil {
		return fmt.Errorf("netlab: the lab needs to make network namespaces, which needs root or CAP_SYS_ADMIN (%s): unshare(CLONE_NEWNET): %w", who, err)
	}
	return nil
})

// Available reports why the lab cannot run on this machine, or nil if it
// can: it needs /dev/net/tun and the right to make network namespaces and
// devices (root, or CAP_SYS_ADMIN with CAP_NET_ADMIN). It tries both once
// and remembers the answer.
func Available() error { return availability() }
