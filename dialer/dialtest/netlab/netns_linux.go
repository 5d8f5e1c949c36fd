package netlab

import (
	"fmt"
	"runtime"

	"golang.org/x/sys/unix"
)

// onThread runs f on an OS thread locked to it and waits for it. Namespace
// work (unshare, setns, opening a TUN device, binding a socket) happens on
// such a thread; f may move the thread to another network namespace, and
// onThread moves it back before the thread serves other goroutines. If it
// cannot, the goroutine exits still locked and the runtime retires the
// thread, so no goroutine ever runs in a namespace it did not ask for.
func onThread(f func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		home, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			errc <- fmt.Errorf("netlab: open the thread's namespace: %w", err)
			return
		}
		defer unix.Close(home)
		errc <- f()
		if unix.Setns(home, unix.CLONE_NEWNET) == nil {
			runtime.UnlockOSThread()
		}
	}()
	return <-errc
}

// newNamespace creates a network namespace on a thread of its own, runs
// setup inside it, and returns a descriptor that keeps the namespace alive
// until it is closed (and whatever was made inside it is closed too).
func newNamespace(setup func() error) (nsFD int, err error) {
	nsFD = -1
	err = onThread(func() error {
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			return fmt.Errorf("netlab: unshare(CLONE_NEWNET): %w", err)
		}
		fd, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("netlab: open namespace: %w", err)
		}
		nsFD = fd
		return setup()
	})
	if err != nil && nsFD >= 0 {
		unix.Close(nsFD)
		nsFD = -1
	}
	return nsFD, err
}

// inNamespace runs f on a thread that has joined the namespace nsFD.
func inNamespace(nsFD int, f func() error) error {
	return onThread(func() error {
		if err := unix.Setns(nsFD, unix.CLONE_NEWNET); err != nil {
			return fmt.Errorf("netlab: setns: %w", err)
		}
		return f()
	})
}
