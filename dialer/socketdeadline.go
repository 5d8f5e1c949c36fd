//go:build !plan9 && !js && !wasip1

package dialer

// socketDeadlines says whether net.Dialer enforces a context's deadline on
// the socket during connect (the poller's write deadline), which
// attemptCtx relies on. On the platforms excluded here net bounds a
// connect only through Done, and each attempt gets a context.WithDeadline.
const socketDeadlines = true
