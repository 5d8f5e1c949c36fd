//go:build !race

package dialer_test

// hostileDials: a million distinct destinations.
const hostileDials = 1_000_000

// raceEnabled is false: timing ratios are asserted.
const raceEnabled = false
