package fleet_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// redisServer is a real redis-server (Debian's package) on a loopback port
// of its own, with a temporary directory and no persistence, stopped when
// the test ends. Kill and Start stop and restart it on the same port.
type redisServer struct {
	t    testing.TB
	addr string
	dir  string
	cmd  *exec.Cmd
}

const redisBinary = "redis-server"

// newRedis starts a redis-server; the test fails (it does not skip) if
// there is none: CI installs it.
func newRedis(t testing.TB) *redisServer {
	t.Helper()
	if _, err := exec.LookPath(redisBinary); err != nil {
		t.Fatalf("%s not found (apt-get install redis-server): %v", redisBinary, err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	r := &redisServer{t: t, addr: addr, dir: t.TempDir()}
	r.Start()
	t.Cleanup(r.Kill)
	return r
}

// Start runs the server and waits (at most 5 s) until it answers.
func (r *redisServer) Start() {
	r.t.Helper()
	_, port, _ := net.SplitHostPort(r.addr)
	r.cmd = exec.Command(redisBinary, "--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
		"--dir", r.dir, "--logfile", "")
	if err := r.cmd.Start(); err != nil {
		r.t.Fatal(err)
	}
	c := redis.NewClient(&redis.Options{Addr: r.addr, MaxRetries: -1})
	defer c.Close()
	deadline := time.Now().Add(5 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		err := c.Ping(ctx).Err()
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("redis-server on %s did not answer within 5s: %v", r.addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Kill stops the server at once (SIGKILL) and waits for it to exit.
func (r *redisServer) Kill() {
	if r.cmd == nil {
		return
	}
	r.cmd.Process.Kill() // a frozen process is killed too
	r.cmd.Wait()
	r.cmd = nil
}

// Freeze stops the server (SIGSTOP) as a partition would: connections
// stay open, nothing answers. Thaw resumes it.
func (r *redisServer) Freeze() { r.cmd.Process.Signal(syscall.SIGSTOP) }

// Thaw resumes a frozen server.
func (r *redisServer) Thaw() { r.cmd.Process.Signal(syscall.SIGCONT) }

// client returns a client of the server, closed when the test ends.
func (r *redisServer) client(t testing.TB) *redis.Client {
	c := redis.NewClient(&redis.Options{Addr: r.addr})
	t.Cleanup(func() { c.Close() })
	return c
}

// commands returns the server's count of calls per command (INFO
// commandstats), the CLIENT and INFO commands the test itself makes left
// out.
func (r *redisServer) commands(t testing.TB) map[string]int {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: r.addr})
	defer c.Close()
	info, err := c.Info(context.Background(), "commandstats").Result()
	if err != nil {
		t.Fatal(err)
	}
	got := make(map[string]int)
	sc := bufio.NewScanner(strings.NewReader(info))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		name, rest, ok := strings.Cut(line, ":")
		if !ok || !strings.HasPrefix(name, "cmdstat_") {
			continue
		}
		name = strings.TrimPrefix(name, "cmdstat_")
		if name == "info" || strings.HasPrefix(name, "client") || name == "hello" {
			continue
		}
		calls, _, _ := strings.Cut(strings.TrimPrefix(rest, "calls="), ",")
		n, err := strconv.Atoi(calls)
		if err != nil {
			t.Fatalf("commandstats line %q: %v", line, err)
		}
		got[name] = n
	}
	return got
}

// delta is what after counts more than before.
func delta(before, after map[string]int) map[string]int {
	d := make(map[string]int)
	for k, v := range after {
		if n := v - before[k]; n != 0 {
			d[k] = n
		}
	}
	return d
}

func (r *redisServer) String() string { return fmt.Sprintf("redis-server on %s", r.addr) }
