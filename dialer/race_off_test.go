//go:build !race

package dialer_test

// hostileDials: a million distinct destinations.
const hostileDials = 1_000_000
