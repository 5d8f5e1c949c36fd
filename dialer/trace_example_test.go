package dialer_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/netip"

	"github.com/dialguard/dialguard/dialer"
	"github.com/dialguard/dialguard/dialer/dialtest"
)

// What net/http/httptrace shows of a request dialled by a Dialer: one
// DNSStart and one DNSDone per resolution, with the combined answer (though
// AAAA and A are asked apart), and a ConnectStart and ConnectDone per
// connection attempt, as with net.Dialer.
func ExampleDialer_DialContext_httptrace() {
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer srv.Close()
	dns := dialtest.NewDNSServer(map[string][]netip.Addr{"web.test": {netip.MustParseAddr("127.0.0.1")}})
	defer dns.Close()
	d, err := dialer.New(dialer.WithResolver(dns.Resolver()))
	if err != nil {
		fmt.Println(err)
		return
	}
	host := func(addr string) string { h, _, _ := net.SplitHostPort(addr); return h }
	trace := &httptrace.ClientTrace{
		DNSStart:     func(i httptrace.DNSStartInfo) { fmt.Println("DNSStart", i.Host) },
		DNSDone:      func(i httptrace.DNSDoneInfo) { fmt.Println("DNSDone", i.Addrs, i.Err) },
		ConnectStart: func(_, addr string) { fmt.Println("ConnectStart", host(addr)) },
		ConnectDone:  func(_, addr string, err error) { fmt.Println("ConnectDone", host(addr), err) },
	}
	tr := &http.Transport{DialContext: d.DialContext}
	defer tr.CloseIdleConnections()
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace),
		"GET", "http://web.test:"+port+"/", nil)
	resp, err := tr.RoundTrip(req)
	if err != nil {
		fmt.Println(err)
		return
	}
	resp.Body.Close()
	// Output:
	// DNSStart web.test
	// DNSDone [{127.0.0.1 }] <nil>
	// ConnectStart 127.0.0.1
	// ConnectDone 127.0.0.1 <nil>
}
