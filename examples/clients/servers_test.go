package clients_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"

	"github.com/jackc/pgx/v5"
)

// server is a real server that a scenario can stop and start again on the
// same loopback port, the way a host goes away and comes back.
type server interface {
	// start starts the server on 127.0.0.1:port and returns once it
	// serves.
	start(port uint16) error
	// stop stops it and waits until it is gone; its port is free after.
	stop()
}

// processServer is a server run as a child process by startFn.
type processServer struct {
	startFn func(port uint16) (*process, error)
	p       *process
}

func (s *processServer) start(port uint16) error {
	p, err := s.startFn(port)
	if err != nil {
		return err
	}
	s.p = p
	return nil
}

func (s *processServer) stop() {
	if s.p != nil {
		s.p.stop()
		s.p = nil
	}
}

// v4 returns "127.0.0.1:port".
func v4(port uint16) string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(int(port))) }

// newRedisServer returns a redis-server with its data directory in a
// temporary directory, persistence off, listening on 127.0.0.1 only.
func newRedisServer(t *testing.T) server {
	bin := lookBinary(t, "redis-server", "redis-server", "/usr/bin", "/usr/sbin")
	dir := t.TempDir()
	return &processServer{startFn: func(port uint16) (*process, error) {
		return startProcess(t, "redis-server", dir, nil, syscall.SIGKILL,
			tcpReady(v4(port), ""), bin,
			"--port", strconv.Itoa(int(port)), "--bind", "127.0.0.1",
			"--dir", dir, "--save", "", "--appendonly", "no",
			"--protected-mode", "no", "--daemonize", "no")
	}}
}

// newNATSServer returns a nats-server listening on 127.0.0.1 only, logging
// into a temporary directory (without JetStream it keeps no data).
func newNATSServer(t *testing.T) server {
	bin := lookBinary(t, "nats-server", "nats-server", "/usr/sbin", "/usr/bin")
	dir := t.TempDir()
	return &processServer{startFn: func(port uint16) (*process, error) {
		return startProcess(t, "nats-server", dir, nil, syscall.SIGKILL,
			tcpReady(v4(port), "INFO "), bin,
			"-a", "127.0.0.1", "-p", strconv.Itoa(int(port)))
	}}
}

// newPostgresServer runs initdb into a temporary directory and returns a
// postgres on that cluster, listening on 127.0.0.1 only, with no unix
// socket, trusting every local connection. PostgreSQL refuses to run as
// root: as root (CI), initdb and postgres run as the postgres system user,
// which owns the data directory.
func newPostgresServer(t *testing.T) server {
	const pkg = "postgresql"
	pgDirs := []string{"/usr/lib/postgresql/*/bin"}
	initdb := lookBinary(t, "initdb", pkg, pgDirs...)
	postgres := lookBinary(t, "postgres", pkg, filepath.Dir(initdb))

	cred, err := postgresCredential()
	if err != nil {
		t.Fatal(err)
	}
	// The postgres user must reach the directory: a directory of our own
	// under the temp root, traversable, with the cluster inside owned by
	// that user.
	top, err := os.MkdirTemp("", "dialguard-pg-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(top) })
	if err := os.Chmod(top, 0o755); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(top, "data")
	if err := os.Mkdir(data, 0o700); err != nil {
		t.Fatal(err)
	}
	if cred != nil {
		if err := os.Chown(top, int(cred.Uid), int(cred.Gid)); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(data, int(cred.Uid), int(cred.Gid)); err != nil {
			t.Fatal(err)
		}
	}
	if err := runOnce(top, cred, initdb, "-D", data, "-U", "postgres", "-A", "trust", "--no-sync", "-E", "UTF8", "--locale", "C"); err != nil {
		t.Fatal(err)
	}
	return &processServer{startFn: func(port uint16) (*process, error) {
		// SIGQUIT is PostgreSQL's immediate shutdown: the postmaster
		// ends its backends and exits at once, as a crashed host would.
		return startProcess(t, "postgres", top, cred, syscall.SIGQUIT,
			postgresReady(port), postgres,
			"-D", data, "-p", strconv.Itoa(int(port)), "-h", "127.0.0.1", "-k", "",
			"-c", "fsync=off", "-c", "max_connections=100", "-c", "log_min_messages=warning")
	}}
}

// postgresCredential returns the postgres system user's credential when
// running as root, and nil otherwise (initdb then runs as the caller).
func postgresCredential() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("running as root, PostgreSQL needs the postgres system user (created by the Debian package postgresql): %w", err)
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err := errors.Join(err1, err2); err != nil {
		return nil, fmt.Errorf("postgres user: %w", err)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

// runOnce runs a command to completion as cred, its output kept for the
// error.
func runOnce(dir string, cred *syscall.Credential, bin string, args ...string) error {
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: %w\n%s", filepath.Base(bin), err, out)
	}
	return nil
}

// postgresReady reports whether the postgres on port accepts a session (it
// listens before it has recovered, refusing sessions meanwhile).
func postgresReady(port uint16) func(context.Context) error {
	return func(ctx context.Context) error {
		c, err := pgx.Connect(ctx, "postgres://postgres@"+v4(port)+"/postgres?sslmode=disable")
		if err != nil {
			return err
		}
		return c.Close(ctx)
	}
}
