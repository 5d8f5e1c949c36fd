package tierlru

import (
	"strconv"
	"sync"
	"testing"
)

func TestNewRefusesNonPositiveSizes(t *testing.T) {
	for _, c := range []struct{ size, tiers int }{{0, 1}, {-1, 1}, {1, 0}} {
		if _, err := New[string, int](c.size, c.tiers); err == nil {
			t.Errorf("New(%d, %d) succeeded", c.size, c.tiers)
		}
	}
}

// TestTheLowestTierIsEvictedFirst: a full cache evicts the least recently
// used entry of the lowest tier that has any, however old the entries of
// the tiers above it are.
func TestTheLowestTierIsEvictedFirst(t *testing.T) {
	c, err := New[string, int](3, 3)
	if err != nil {
		t.Fatal(err)
	}
	c.GetOrAdd("hot", 1)
	c.SetTier("hot", 1, func(int) int { return 2 })
	c.GetOrAdd("warm", 2)
	c.SetTier("warm", 2, func(int) int { return 1 })
	for i := range 100 {
		c.GetOrAdd("fresh"+strconv.Itoa(i), 100+i)
		if n := c.Len(); n > 3 {
			t.Fatalf("Len() = %d after %d adds, want at most 3", n, i+1)
		}
	}
	for _, k := range []string{"hot", "warm", "fresh99"} {
		if _, ok := c.Peek(k); !ok {
			t.Errorf("%s evicted", k)
		}
	}
	// With tier 0 empty, tier 1's oldest goes; with only tier 2 left, its
	// oldest.
	c.SetTier("fresh99", 199, func(int) int { return 2 }) // hot, then fresh99, in tier 2
	c.GetOrAdd("new", 7)                                  // evicts warm (tier 1)
	if _, ok := c.Peek("warm"); ok {
		t.Error("warm kept: the lowest non-empty tier was tier 1")
	}
	c.SetTier("new", 7, func(int) int { return 2 }) // tier 2: hot, fresh99, new
	c.GetOrAdd("last", 8)                           // evicts hot, the oldest of tier 2
	if _, ok := c.Peek("hot"); ok {
		t.Error("hot kept: with every entry in tier 2, its oldest must go")
	}
	for _, k := range []string{"fresh99", "new", "last"} {
		if _, ok := c.Peek(k); !ok {
			t.Errorf("%s evicted", k)
		}
	}
}

func TestGetBumpsRecencyWithinATierAndPeekDoesNot(t *testing.T) {
	c, _ := New[string, int](2, 1)
	c.GetOrAdd("a", 1)
	c.GetOrAdd("b", 2)
	c.Peek("a")
	c.GetOrAdd("c", 3) // evicts a: Peek did not bump it
	if _, ok := c.Peek("a"); ok {
		t.Fatal("a kept: Peek bumped its recency")
	}
	c.Get("b")
	c.GetOrAdd("d", 4) // evicts c
	if _, ok := c.Peek("b"); !ok {
		t.Fatal("b evicted: Get did not bump its recency")
	}
}

// TestSetTierLeavesAReplacedEntryAlone: a value evicted and added again
// under its key is a new entry, which a move asked for the old one must
// not touch.
func TestSetTierLeavesAReplacedEntryAlone(t *testing.T) {
	c, _ := New[string, int](1, 2)
	c.GetOrAdd("k", 1)
	c.GetOrAdd("other", 2) // evicts k
	c.GetOrAdd("k", 3)     // evicts other; k is a new entry
	c.SetTier("k", 1, func(int) int { return 1 })
	if c.TierLen(1) != 0 {
		t.Fatal("SetTier moved the entry that replaced the one asked about")
	}
	c.SetTier("k", 3, func(int) int { return 9 }) // clamped to the top tier
	if c.TierLen(1) != 1 {
		t.Fatal("SetTier did not move the entry asked about")
	}
	if v, ok, _ := getOrAdd(c, "k", 4); !ok || v != 3 {
		t.Fatalf("GetOrAdd(k) = %v, %v; want the present 3, true", v, ok)
	}
}

func getOrAdd(c *Cache[string, int], k string, v int) (int, bool, int) {
	got, ok := c.GetOrAdd(k, v)
	return got, ok, c.Len()
}

// TestConcurrentUseKeepsTheBound: run with -race.
func TestConcurrentUseKeepsTheBound(t *testing.T) {
	c, _ := New[int, int](50, 3)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 5000 {
				k := (g*7919 + i) % 400
				v, _ := c.GetOrAdd(k, k)
				c.SetTier(k, v, func(int) int { return i % 3 })
				c.Use(k, func(v int) int { return v % 3 })
				c.UseOrAdd(k+1, k+1, func(v int) int { return (v + i) % 3 })
				c.Get(k)
			}
		})
	}
	wg.Wait()
	if n := c.Len(); n != 50 {
		t.Fatalf("Len() = %d, want 50", n)
	}
	sum := 0
	for i := range 3 {
		sum += c.TierLen(i)
	}
	if sum != 50 {
		t.Fatalf("tiers hold %d entries, Len() says 50", sum)
	}
}

func TestMovingBetweenTiersAllocatesNothing(t *testing.T) {
	c, _ := New[string, int](4, 3)
	c.GetOrAdd("k", 1)
	tier := 0
	next := func(int) int { return tier }
	allocs := testing.AllocsPerRun(100, func() {
		tier = (tier + 1) % 3
		c.SetTier("k", 1, next)
		c.Use("k", next)
		c.UseOrAdd("k", 1, next)
	})
	if allocs != 0 {
		t.Fatalf("SetTier, Use and UseOrAdd: %v allocations, want 0", allocs)
	}
}

// TestUseFilesTheEntryWhereItsTierFunctionSays: Use and UseOrAdd file the
// entry used as the most recent of the tier returned for it.
func TestUseFilesTheEntryWhereItsTierFunctionSays(t *testing.T) {
	c, _ := New[string, int](2, 2)
	up := func(int) int { return 1 }
	if v := c.UseOrAdd("kept", 1, up); v != 1 {
		t.Fatalf("UseOrAdd(kept) = %d, want 1", v)
	}
	if v := c.UseOrAdd("kept", 5, up); v != 1 {
		t.Fatalf("UseOrAdd(kept) again = %d, want the present 1", v)
	}
	if _, ok := c.Use("absent", up); ok {
		t.Fatal("Use(absent) found something")
	}
	for i := range 10 {
		c.GetOrAdd("fresh"+strconv.Itoa(i), i)
	}
	if _, ok := c.Peek("kept"); !ok || c.TierLen(1) != 1 {
		t.Fatal("an entry Use filed in tier 1 was evicted by tier 0 entries")
	}
	c.Use("kept", func(int) int { return 0 })
	c.GetOrAdd("a", 1)
	c.GetOrAdd("b", 2)
	if _, ok := c.Peek("kept"); ok {
		t.Fatal("an entry Use filed back in tier 0 outlived two newer ones")
	}
}
