package dialer_test

import (
	"context"
	"errors"
	"net"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/dialguard/dialguard/dialer"
	"github.com/dialguard/dialguard/dialer/dialtest"
)

// ownContext is a caller's own Context type: the context package cannot
// see a cancelCtx in it, so it watches Done from a goroutine of its own.
type ownContext struct {
	done chan struct{}
	once sync.Once
}

func newOwnContext() *ownContext { return &ownContext{done: make(chan struct{})} }

func (c *ownContext) cancel()                   { c.once.Do(func() { close(c.done) }) }
func (*ownContext) Deadline() (time.Time, bool) { return time.Time{}, false }
func (c *ownContext) Done() <-chan struct{}     { return c.done }
func (*ownContext) Value(any) any               { return nil }
func (c *ownContext) Err() error {
	select {
	case <-c.done:
		return context.Canceled
	default:
		return nil
	}
}

// A caller's own Context type, cancelled just as attempts time out, while
// dials go on: the context package's watcher of each attempt's context may
// outlive the attempt, so that context must not be reused by the next dial (run with -race: a reused one is a data race and
// may panic in the context package).
func TestCallersOwnContextTypes(t *testing.T) {
	s := dialtest.NewStalled(t, "127.0.0.1:0")
	h := dialtest.NewHealthy(t, "127.0.0.1:0")
	d := newDialer(t, dialer.WithoutBreaker(), dialer.WithMaxRetries(0),
		dialer.WithAttemptTimeout(2*time.Millisecond))
	// The healthy dials get time to connect on a loaded machine; they share
	// the package's recycled calls with d all the same.
	healthy := newDialer(t, dialer.WithoutBreaker())
	for i := range 300 {
		ctx := newOwnContext()
		stop := time.AfterFunc(2*time.Millisecond+time.Duration(i%40)*time.Microsecond, ctx.cancel)
		if _, err := d.DialContext(ctx, "tcp", s.String()); err == nil {
			t.Fatal("a stalled listener accepted a connection")
		}
		stop.Stop()
		c, err := healthy.DialContext(context.Background(), "tcp", h.String())
		if err != nil {
			t.Fatalf("healthy dial between the stalls: %v", err)
		}
		c.Close()
	}
}

// A user's ControlContext that waits on its context is released at the
// attempt's deadline, also when the caller's context has no Done at all,
// and the attempt counts as a stall.
func TestControlContextSeesTheAttemptDeadline(t *testing.T) {
	h := dialtest.NewHealthy(t, "127.0.0.1:0")
	hook := func(ctx context.Context, _, _ string, _ syscall.RawConn) error {
		<-ctx.Done()
		return ctx.Err()
	}
	d := newDialer(t, dialer.WithoutBreaker(), dialer.WithMaxRetries(0),
		dialer.WithAttemptTimeout(100*time.Millisecond), dialer.WithTimeout(5*time.Second),
		dialer.WithNetDialer(&net.Dialer{ControlContext: hook}))
	errc := make(chan error, 1)
	go func() {
		_, err := d.DialContext(context.Background(), "tcp", h.String())
		errc <- err
	}()
	select {
	case err := <-errc:
		if !errors.Is(err, dialer.ErrAttemptTimeout) {
			t.Errorf("err = %v, want a stall (dialer.ErrAttemptTimeout)", err)
		}
	case <-time.After(4 * time.Second):
		t.Fatal("the hook held the dial past its attempt timeout")
	}
}
