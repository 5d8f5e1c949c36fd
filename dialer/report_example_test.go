package dialer_test

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"

	"github.com/dialguard/dialguard/dialer"
	"github.com/dialguard/dialguard/dialer/dialtest"
)

// A report of one dial, asked for through the context: the incident's
// first dial races the stalled ::1 and 127.0.0.1, the second goes straight
// to the winner. (Report.String prints it all, with the times, as
// dialprobe does; here only what is the same on every run.)
func ExampleContextWithReport() {
	ds, err := dialtest.ListenDualStack() // stalled [::1]:P, healthy 127.0.0.1:P
	if err != nil {
		fmt.Println(err)
		return
	}
	defer ds.Close()
	res := dialtest.NewResolver(map[string]dialtest.Host{
		"incident.test": {IPv6: []netip.Addr{netip.MustParseAddr("::1")}, IPv4: []netip.Addr{netip.MustParseAddr("127.0.0.1")}},
	})
	d, err := dialer.New(dialer.WithResolver(res))
	if err != nil {
		fmt.Println(err)
		return
	}
	address := net.JoinHostPort("incident.test", strconv.Itoa(int(ds.Port)))
	for i := 1; i <= 2; i++ {
		var rep dialer.Report
		c, err := d.DialContext(dialer.ContextWithReport(context.Background(), &rep), "tcp", address)
		if err != nil {
			fmt.Println(err)
			return
		}
		c.Close()
		fmt.Printf("dial %d: connected to %v in %d round\n", i, rep.Winner.Addr(), rep.Tries)
		attempts := slices.Clone(rep.Attempts) // in the order they ended
		slices.SortFunc(attempts, func(a, b dialer.AttemptInfo) int { return a.Start.Compare(b.Start) })
		for _, a := range attempts {
			fmt.Printf("  try %d %v %v\n", a.Try, a.Address.Addr(), a.Outcome)
		}
	}
	// Output:
	// dial 1: connected to 127.0.0.1 in 1 round
	//   try 1 ::1 lost-slow
	//   try 1 127.0.0.1 connected
	// dial 2: connected to 127.0.0.1 in 1 round
	//   try 1 127.0.0.1 connected
}
