//go:build race

package dialer_test

// hostileDials is smaller under the race detector, which makes each dial
// about ten times slower; .ci/test also runs the memory test without it, at
// full size.
const hostileDials = 100_000

// raceEnabled: timing ratios measured under the race detector measure its
// instrumentation of the dialer's Go code, not the dialer; ratio checks
// are asserted in the runs without it (.ci/test has one, at GOMAXPROCS=1).
const raceEnabled = true
