package bench

import (
	"strconv"
	"testing"

	"github.com/dialguard/dialguard/breaker"
)

// BenchmarkBreakerBookkeeping is the cost the breakers add to every dial,
// under b.RunParallel across many destinations: per dial, one State read
// (the fail-fast check), one Allow and one outcome, as the dialer does for
// a destination (and again for an address). keys is the number of
// destinations dialled; at 100,000 the registry's bound (10,000 breakers)
// is exceeded and eviction is part of the cost.
func BenchmarkBreakerBookkeeping(b *testing.B) {
	for _, keys := range []int{100, 10_000, 100_000} {
		b.Run(strconv.Itoa(keys)+"-destinations", func(b *testing.B) {
			reg, err := breaker.NewRegistry(breaker.Settings{})
			if err != nil {
				b.Fatal(err)
			}
			names := make([]string, keys)
			for i := range names {
				names[i] = "host" + strconv.Itoa(i) + ".test:443"
			}
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				i := 0
				for pb.Next() {
					key := names[i%keys]
					i += 7919 // a prime stride spreads goroutines over the keys
					if reg.State(key) == breaker.Open {
						continue
					}
					tk, err := reg.Allow(key)
					if err != nil {
						continue
					}
					tk.Done(breaker.Success)
				}
			})
			b.ReportMetric(float64(reg.Len()), "breakers")
		})
	}
}
