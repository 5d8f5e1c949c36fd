package bench

import (
	"context"
	"net/netip"
	"testing"
)

// BenchmarkResolve isolates what RFC 8305 section 3 costs inside the
// standard library's resolver, on the same *net.Resolver as
// BenchmarkHealthyName: "combined" is one LookupNetIP for "ip" (what
// net.Dialer does: both queries, one answer when both are in), "families"
// is LookupNetIP for "ip6" and "ip4" on two goroutines (what dialguard does,
// so that it can start on the first useful answer). The difference in
// allocs/op is the standard library's, not dialguard's: the healthy-name
// comparison carries it whatever dialguard does around the lookups.
func BenchmarkResolve(b *testing.B) {
	srv := newDNS(b, map[string][]netip.Addr{"healthy.test": {netip.MustParseAddr("127.0.0.1")}})
	r := srv.Resolver()
	ctx := context.Background()

	b.Run("combined", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := r.LookupNetIP(ctx, "ip", "healthy.test"); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("families", func(b *testing.B) {
		b.ReportAllocs()
		v4 := make(chan error, 1)
		for b.Loop() {
			go func() {
				_, err := r.LookupNetIP(ctx, "ip4", "healthy.test")
				v4 <- err
			}()
			r.LookupNetIP(ctx, "ip6", "healthy.test") // no AAAA: an empty answer
			if err := <-v4; err != nil {
				b.Fatal(err)
			}
		}
	})
}
