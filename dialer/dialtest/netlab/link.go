package netlab

import (
	"fmt"
	"math"
	"time"
)

// MaxDelay bounds a direction's Delay plus Jitter: longer than any real path
// (a geostationary hop is about 280 ms one way), short enough that a packet
// held by the delay line cannot outlive a test by much.
const MaxDelay = 10 * time.Second

// Path is one direction of a Link: what every packet sent that way suffers.
//
// The zero Path delivers every packet at once. Delays are one-way: a Link
// whose two Paths have Delay 50 ms has a round trip of 100 ms.
type Path struct {
	// Delay is how long each packet is held before it is delivered.
	// Zero delivers at once; negative is refused.
	Delay time.Duration

	// Jitter spreads Delay uniformly over [Delay-Jitter, Delay+Jitter]
	// (never below zero). Packets are never reordered: one that would
	// overtake the packet before it waits for it, as on a single real
	// link. Zero means no jitter; negative is refused.
	Jitter time.Duration

	// Loss is the probability, in [0, 1], that a packet is dropped,
	// independently of every other packet. Zero loses nothing; 1 drops
	// everything (a black hole).
	Loss float64
}

// Config is the setting of a Link: one Path for each direction.
type Config struct {
	// Out is the direction from the test's namespace to the Host.
	Out Path
	// In is the direction from the Host back to the test's namespace.
	In Path
}

// Symmetric returns a Config whose round trip is rtt, split evenly between
// the two directions, with the same jitter and loss each way.
func Symmetric(rtt, jitter time.Duration, loss float64) Config {
	p := Path{Delay: rtt / 2, Jitter: jitter, Loss: loss}
	return Config{Out: p, In: p}
}

// RTT returns the round trip of c without jitter: the sum of both delays.
func (c Config) RTT() time.Duration { return c.Out.Delay + c.In.Delay }

// Black returns c with every packet dropped in both directions and the
// delays kept, so that setting c back restores the link as it was.
func (c Config) Black() Config {
	c.Out.Loss, c.In.Loss = 1, 1
	return c
}

// Validate returns an error naming the first field of c that is out of
// range, or nil. AddHost and Link.Set refuse a Config that fails it.
func (c Config) Validate() error {
	if err := c.Out.validate("Out"); err != nil {
		return err
	}
	return c.In.validate("In")
}

func (p Path) validate(dir string) error {
	switch {
	case p.Delay < 0:
		return fmt.Errorf("netlab: %s.Delay %v is negative", dir, p.Delay)
	case p.Jitter < 0:
		return fmt.Errorf("netlab: %s.Jitter %v is negative", dir, p.Jitter)
	case p.Delay+p.Jitter > MaxDelay:
		return fmt.Errorf("netlab: %s.Delay+Jitter %v is over MaxDelay (%v)", dir, p.Delay+p.Jitter, MaxDelay)
	case math.IsNaN(p.Loss) || p.Loss < 0 || p.Loss > 1:
		return fmt.Errorf("netlab: %s.Loss %v is outside [0, 1]", dir, p.Loss)
	}
	return nil
}
