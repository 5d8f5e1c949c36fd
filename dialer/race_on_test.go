//go:build race

package dialer_test

// hostileDials is smaller under the race detector, which makes each dial
// about ten times slower; .ci/test also runs the memory test without it, at
// full size.
const hostileDials = 100_000
