package dialer_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/netip"
	"strings"
	"sync"
	"testing"

	"github.com/dialguard/dialguard/dialer"
	"github.com/dialguard/dialguard/dialer/dialtest"
)

// traceLog records a ClientTrace's DNS and connect events.
type traceLog struct {
	mu     sync.Mutex
	events []string
}

func (l *traceLog) add(format string, args ...any) {
	l.mu.Lock()
	l.events = append(l.events, fmt.Sprintf(format, args...))
	l.mu.Unlock()
}

func (l *traceLog) trace() *httptrace.ClientTrace {
	return &httptrace.ClientTrace{
		DNSStart: func(i httptrace.DNSStartInfo) { l.add("DNSStart %s", i.Host) },
		DNSDone: func(i httptrace.DNSDoneInfo) {
			l.add("DNSDone %v err=%v", i.Addrs, i.Err)
		},
		ConnectStart: func(network, addr string) { l.add("ConnectStart %s", addr) },
		ConnectDone:  func(network, addr string, err error) { l.add("ConnectDone %s err=%v", addr, err) },
	}
}

// get makes one request to url through a transport dialling with dial,
// traced, and returns the events.
func get(t *testing.T, dial func(ctx context.Context, network, address string) (net.Conn, error), url string) []string {
	t.Helper()
	var l traceLog
	tr := &http.Transport{DialContext: dial, DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	req, err := http.NewRequestWithContext(httptrace.WithClientTrace(t.Context(), l.trace()), "GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return l.events
}

// TestHTTPTraceSeesOneResolution: a request through dialguard reports what
// a plain transport's does: one DNSStart and one DNSDone, with the
// combined answer and no error, though dialguard asks AAAA and A apart;
// and a ConnectStart and ConnectDone per attempt.
func TestHTTPTraceSeesOneResolution(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
	defer srv.Close()
	port := srv.Listener.Addr().(*net.TCPAddr).Port
	dns := dialtest.NewDNSServer(map[string][]netip.Addr{"web.test": {netip.MustParseAddr("127.0.0.1")}})
	t.Cleanup(func() { dns.Close() })
	url := fmt.Sprintf("http://web.test:%d/", port)

	plain := (&net.Dialer{Resolver: dns.Resolver()}).DialContext
	want := get(t, plain, url)
	d := newDialer(t, dialer.WithResolver(dns.Resolver()))
	got := get(t, d.DialContext, url)
	t.Logf("net.Dialer: %q", want)
	t.Logf("dialguard:  %q", got)
	if len(got) != len(want) {
		t.Fatalf("dialguard's trace has %d events, net.Dialer's %d", len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("event %d: %q, want %q as net.Dialer reports it", i, got[i], want[i])
		}
	}
	if n := strings.Count(strings.Join(got, "\n"), "DNSStart"); n != 1 {
		t.Errorf("%d DNSStart events, want 1", n)
	}
}
