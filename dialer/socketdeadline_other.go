//go:build plan9 || js || wasip1

package dialer

// socketDeadlines: see socketdeadline.go.
const socketDeadlines = false
