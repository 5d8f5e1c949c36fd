package dialer_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"

	"github.com/dialguard/dialguard/dialer"
	"github.com/dialguard/dialguard/dialer/dialtest"
)

// The incident on loopback: "incident.test" resolves to ::1, which never
// answers the SYN, and to 127.0.0.1, which does. The first dial tries ::1,
// suspects it once it is overdue for a loopback path (10 ms), and connects
// to 127.0.0.1 beside it; the next one goes straight to the address that
// won.
func Example() {
	ds, err := dialtest.ListenDualStack() // stalled [::1]:P, healthy 127.0.0.1:P
	if err != nil {
		fmt.Println(err)
		return
	}
	defer ds.Close()
	res := dialtest.NewResolver(map[string]dialtest.Host{
		"incident.test": {IPv6: []netip.Addr{netip.MustParseAddr("::1")}, IPv4: []netip.Addr{netip.MustParseAddr("127.0.0.1")}},
	})
	var attempts []string // in the order they ended; the observer runs in the dialing goroutine
	d, err := dialer.New(dialer.WithResolver(res), dialer.WithAttemptObserver(func(ai dialer.AttemptInfo) {
		attempts = append(attempts, fmt.Sprintf("%v %v", ai.Address.Addr(), ai.Outcome))
	}))
	if err != nil {
		fmt.Println(err)
		return
	}
	address := net.JoinHostPort("incident.test", strconv.Itoa(int(ds.Port)))
	for i := 1; i <= 2; i++ {
		attempts = attempts[:0]
		c, err := d.DialContext(context.Background(), "tcp", address)
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Printf("dial %d: %s (attempts: %s)\n", i, c.RemoteAddr().(*net.TCPAddr).IP, strings.Join(attempts, ", "))
		c.Close()
	}
	// Output:
	// dial 1: 127.0.0.1 (attempts: 127.0.0.1 connected, ::1 lost-slow)
	// dial 2: 127.0.0.1 (attempts: 127.0.0.1 connected)
}

// A service that fetches user-supplied URLs must not be turned against its
// own network. The policy is checked on every resolved address and again on
// the socket's address just before connect.
func ExampleWithPolicy() {
	d, err := dialer.New(dialer.WithPolicy(dialer.Policy{Deny: dialer.Internal()}))
	if err != nil {
		fmt.Println(err)
		return
	}
	client := &http.Client{Transport: &http.Transport{DialContext: d.DialContext}}
	_, err = client.Get("http://127.0.0.1:8080/admin") // never dialled
	var denied *dialer.DeniedError
	fmt.Println(errors.Is(err, dialer.ErrDenied), errors.As(err, &denied) && denied.Rule.String() == "127.0.0.0/8")
	// Output: true true
}
