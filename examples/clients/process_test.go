package clients_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// The bounds of a server's life in these tests.
const (
	// readyWithin bounds a server's start: initdb aside, each of the
	// servers here is ready in well under a second, even on a loaded
	// two-core machine.
	readyWithin = 20 * time.Second
	// readyPoll is the pause between two readiness checks.
	readyPoll = 10 * time.Millisecond
	// stopWithin bounds a server's stop before it is killed.
	stopWithin = 10 * time.Second
)

// lookBinary returns the path of a server binary, or fails the test naming
// the Debian package that provides it: a missing server is a broken
// machine, not a reason to skip.
func lookBinary(tb testing.TB, name, debianPackage string, extraDirs ...string) string {
	tb.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	for _, pattern := range extraDirs {
		matches, _ := filepath.Glob(filepath.Join(pattern, name))
		for _, m := range matches {
			if fi, err := os.Stat(m); err == nil && fi.Mode()&0o111 != 0 {
				return m
			}
		}
	}
	tb.Fatalf("%s not found in PATH: install the Debian package %s (apt-get install %s); .ci/run installs it", name, debianPackage, debianPackage)
	return ""
}

// process is a server process started by a test. stop ends it.
type process struct {
	name    string
	cmd     *exec.Cmd
	logPath string
	exited  chan struct{} // closed when Wait returned
	waitErr error
	stopSig syscall.Signal
}

// startProcess starts bin with args, its output going to a log file in
// logDir, and returns once ready reports nil (polled every readyPoll) or
// fails the test with the log's tail if the process exits or readyWithin
// passes. cred, if not nil, runs the process as that user. stopSig is the
// signal stop sends first.
func startProcess(tb testing.TB, name, logDir string, cred *syscall.Credential, stopSig syscall.Signal, ready func(context.Context) error, bin string, args ...string) (*process, error) {
	tb.Helper()
	logPath := filepath.Join(logDir, name+"-"+strconv.FormatInt(time.Now().UnixNano(), 36)+".log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer logFile.Close()
	if cred != nil {
		if err := logFile.Chown(int(cred.Uid), int(cred.Gid)); err != nil {
			return nil, err
		}
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	// Its own process group, so that a Ctrl-C of the test run does not
	// reach it before the test's cleanup does; Pdeathsig kills it if the
	// test binary dies without cleaning up (a timeout's panic), so that
	// no server outlives the run holding its port.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Credential: cred, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &process{name: name, cmd: cmd, logPath: logPath, exited: make(chan struct{}), stopSig: stopSig}
	go func() {
		p.waitErr = cmd.Wait()
		close(p.exited)
	}()

	deadline := time.Now().Add(readyWithin)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := ready(ctx)
		cancel()
		if err == nil {
			return p, nil
		}
		select {
		case <-p.exited:
			return nil, fmt.Errorf("%s exited before it was ready (%v): %v\n%s", name, p.waitErr, err, p.logTail())
		case <-time.After(readyPoll):
		}
		if time.Now().After(deadline) {
			p.stop()
			return nil, fmt.Errorf("%s not ready within %v: %v\n%s", name, readyWithin, err, p.logTail())
		}
	}
}

// stop signals the process, kills it if it has not exited within
// stopWithin, and waits for it. It is idempotent.
func (p *process) stop() {
	select {
	case <-p.exited:
		return
	default:
	}
	p.cmd.Process.Signal(p.stopSig)
	select {
	case <-p.exited:
	case <-time.After(stopWithin):
		p.cmd.Process.Kill()
		<-p.exited
	}
}

// logTail returns the last lines of the process's log, for failure
// messages.
func (p *process) logTail() string {
	b, err := os.ReadFile(p.logPath)
	if err != nil {
		return err.Error()
	}
	const max = 2000
	if len(b) > max {
		b = b[len(b)-max:]
	}
	return p.name + " log:\n" + string(b)
}

// tcpReady reports whether address accepts a TCP connection, and if
// greeting is not empty, whether the server's first bytes start with it.
func tcpReady(address, greeting string) func(context.Context) error {
	return func(ctx context.Context) error {
		var nd net.Dialer
		c, err := nd.DialContext(ctx, "tcp", address)
		if err != nil {
			return err
		}
		defer c.Close()
		if greeting == "" {
			return nil
		}
		if dl, ok := ctx.Deadline(); ok {
			c.SetDeadline(dl)
		}
		buf := make([]byte, len(greeting))
		if _, err := io.ReadFull(c, buf); err != nil {
			return err
		}
		if string(buf) != greeting {
			return fmt.Errorf("%s greeted with %q, want %q", address, buf, greeting)
		}
		return nil
	}
}
