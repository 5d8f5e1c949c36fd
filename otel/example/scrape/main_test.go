package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// TestMain fails the package if any goroutine outlives the tests.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// dials is how many times the test dials incident.test.
const dials = 3

// A real Prometheus server scrapes the example and finds the incident in
// its series: one attempt to ::1, overtaken (lost-slow) or stalled, and
// then direct dials: every dial connected to 127.0.0.1.
func TestPrometheusScrapesTheIncident(t *testing.T) {
	prom, err := exec.LookPath("prometheus")
	if err != nil {
		t.Fatalf("the prometheus server is not installed (Debian's package prometheus: apt-get install prometheus): %v", err)
	}

	ctx, cancel := context.WithCancel(t.Context())
	var out syncBuffer
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"-listen", "127.0.0.1:0", "-n", fmt.Sprint(dials), "-interval", "10ms"}, &out,
			func(addr string) { ready <- addr })
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
		t.Logf("the example printed:\n%s", out.String())
	})
	var target string
	select {
	case target = <-ready:
	case err := <-done:
		t.Fatalf("run ended before serving: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("the example did not finish its dials in 30s")
	}

	api := startPrometheus(t, prom, target)
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 5 * time.Second}

	// Prometheus scrapes every second; the series appear after the first
	// scrape. Ask until they are all there, for at most 20 s.
	want := map[string]float64{
		"::1 lost-slow|stalled": 1,
		"127.0.0.1 connected":   dials,
	}
	const attempts = `sum by (network_peer_address, dialguard_outcome, network_type) (dialguard_attempts_total{server_address="incident.test"})`
	const connected = `sum(dialguard_dial_duration_seconds_count{server_address="incident.test", dialguard_outcome="connected", network_type="ipv4"})`
	var got map[string]float64
	var dialsSeen float64
	deadline := time.Now().Add(20 * time.Second)
	for {
		got = map[string]float64{}
		for _, s := range query(t, client, api, attempts) {
			key := s.Metric["network_peer_address"] + " " + s.Metric["dialguard_outcome"]
			if s.Metric["network_peer_address"] == "::1" && s.Metric["network_type"] == "ipv6" &&
				(s.Metric["dialguard_outcome"] == "lost-slow" || s.Metric["dialguard_outcome"] == "stalled") {
				key = "::1 lost-slow|stalled"
			}
			got[key] += s.value(t)
		}
		dialsSeen = 0
		for _, s := range query(t, client, api, connected) {
			dialsSeen += s.value(t)
		}
		if fmt.Sprint(got) == fmt.Sprint(want) && dialsSeen == dials {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 20s Prometheus has attempts %v and %v connected dials over ipv4; want %v and %d", got, dialsSeen, want, dials)
		}
		time.Sleep(250 * time.Millisecond)
	}
	t.Logf("Prometheus: attempts %v, %v dials connected over ipv4", got, dialsSeen)
}

// startPrometheus runs the prometheus server scraping target every second,
// with its data in a temporary directory, on a free loopback port, and
// returns its API's base URL. Cleanup stops it and waits for it.
func startPrometheus(t *testing.T, prom, target string) string {
	dir := t.TempDir()
	config := filepath.Join(dir, "prometheus.yml")
	yml := fmt.Sprintf("global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  - job_name: dialguard\n    static_configs:\n      - targets: [%q]\n", target)
	if err := os.WriteFile(config, []byte(yml), 0o644); err != nil {
		t.Fatal(err)
	}
	addr := freePort(t)
	var logs syncBuffer
	cmd := exec.Command(prom, "--config.file="+config, "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr, "--log.level=warn")
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting prometheus: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("prometheus logged:\n%s", logs.String())
		}
	})
	base := "http://" + addr
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 2 * time.Second}
	deadline := time.Now().Add(20 * time.Second)
	for {
		select {
		case err := <-exited:
			exited <- err
			t.Fatalf("prometheus exited: %v\n%s", err, logs.String())
		default:
		}
		if resp, err := client.Get(base + "/-/ready"); err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return base
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("prometheus not ready after 20s:\n%s", logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// freePort returns a loopback address whose port was free a moment ago.
func freePort(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// sample is one series of an instant query's answer.
type sample struct {
	Metric map[string]string `json:"metric"`
	Value  [2]any            `json:"value"`
}

func (s sample) value(t *testing.T) float64 {
	str, _ := s.Value[1].(string)
	var v float64
	if _, err := fmt.Sscan(str, &v); err != nil {
		t.Fatalf("sample value %v: %v", s.Value, err)
	}
	return v
}

// query runs an instant query against Prometheus's HTTP API.
func query(t *testing.T, client *http.Client, base, q string) []sample {
	t.Helper()
	resp, err := client.Get(base + "/api/v1/query?query=" + url.QueryEscape(q))
	if err != nil {
		t.Fatalf("query %s: %v", q, err)
	}
	defer resp.Body.Close()
	var body struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			Result []sample `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || body.Status != "success" {
		t.Fatalf("query %s: status %q, error %q, decoding: %v", q, body.Status, body.Error, err)
	}
	return body.Data.Result
}

// syncBuffer is a bytes.Buffer safe for the writers of two goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
