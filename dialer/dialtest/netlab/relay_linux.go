package netlab

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// queueLen is how many packets one direction holds in flight. 4,096 packets
// is over 500 handshakes (SYN, SYN-ACK, ACK, data and FINs) in the air at
// once; past it packets are dropped, as a full router queue drops them, and
// counted in Stats.Overflow.
const queueLen = 4096

// mtu is the lab devices' MTU; a read never returns more.
const mtu = 1500

// packet is one IP packet in flight and the monotonic time, in nanoseconds,
// at which it is to be delivered.
type packet struct {
	data []byte
	due  int64
}

// direction is one way of a link's delay line: packets read from src wait
// in a FIFO for their due time and are written to dst. Its queue is used by
// the link's thread only; path and stats are shared.
type direction struct {
	src, dst int // TUN descriptors
	path     atomic.Pointer[Path]
	stats    counters

	comp    *atomic.Int64 // the lab's own transit time, taken off each delay (ns)
	rng     *rand.Rand
	queue   []packet // FIFO; due times never decrease
	lastDue int64
	free    *[][]byte // buffers shared by the link's two directions
}

// counters are a direction's packet counts, kept with atomics so Stats can
// read them while the link runs.
type counters struct {
	seen, dropped, delivered, overflow atomic.Uint64
}

// Stats counts what happened to the packets of one direction of a link.
type Stats struct {
	// Seen is every packet that entered the direction.
	Seen uint64
	// Dropped is the packets lost to the direction's Loss.
	Dropped uint64
	// Delivered is the packets written to the far side.
	Delivered uint64
	// Overflow is the packets dropped because the direction already held
	// its maximum of packets in flight.
	Overflow uint64
}

func (c *counters) snapshot() Stats {
	return Stats{Seen: c.seen.Load(), Dropped: c.dropped.Load(), Delivered: c.delivered.Load(), Overflow: c.overflow.Load()}
}

// relay carries both directions of one link on one OS thread of its own,
// which sleeps in ppoll on both devices and a stop event, with a
// nanosecond timeout until the next packet is due. One thread that the
// kernel wakes itself keeps the line's own latency to tens of microseconds:
// the runtime's poller and timers would add scheduler hand-offs and wake
// up to a millisecond late when the process is idle. With one thread for
// both ways, the answer a far kernel gives while a packet is written to it
// (a SYN-ACK to a SYN) is read at once, without a wake-up.
type relay struct {
	out, in *direction
	stopFD  int // an eventfd, written once to stop the thread
	comp    atomic.Int64
	free    [][]byte
}

// newRelay returns the relay of a link between near (the lab's side) and
// far (the host's), set to c, whose losses and jitter are drawn from
// generators seeded by seed.
func newRelay(near, far int, c Config, seed uint64) (*relay, error) {
	stopFD, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		return nil, fmt.Errorf("netlab: eventfd: %w", err)
	}
	r := &relay{stopFD: stopFD}
	newDir := func(src, dst int, p Path, seed uint64) *direction {
		d := &direction{src: src, dst: dst, comp: &r.comp, rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), free: &r.free}
		d.path.Store(&p)
		return d
	}
	r.out = newDir(near, far, c.Out, seed<<1)
	r.in = newDir(far, near, c.In, seed<<1|1)
	return r, nil
}

// start runs the relay's thread; wg is done when it ends.
func (r *relay) start(wg *sync.WaitGroup) {
	wg.Add(1)
	go func() {
		defer wg.Done()
		runtime.LockOSThread()
		unix.Prctl(unix.PR_SET_TIMERSLACK, 1, 0, 0, 0)
		r.run()
		// Zero restores the thread's default slack; only then may it
		// serve other goroutines.
		if unix.Prctl(unix.PR_SET_TIMERSLACK, 0, 0, 0, 0) == nil {
			runtime.UnlockOSThread()
		}
	}()
}

// stop ends the relay's thread, dropping the packets it holds; the caller
// waits for it on the WaitGroup given to start, then calls close.
func (r *relay) stop() {
	one := [8]byte{1}
	unix.Write(r.stopFD, one[:])
}

// close releases the stop event once the thread has ended.
func (r *relay) close() { unix.Close(r.stopFD) }

func (r *relay) run() {
	fds := []unix.PollFd{
		{Fd: int32(r.out.src), Events: unix.POLLIN},
		{Fd: int32(r.in.src), Events: unix.POLLIN},
		{Fd: int32(r.stopFD), Events: unix.POLLIN},
	}
	for {
		var timeout *unix.Timespec
		if due, ok := r.nextDue(); ok {
			ts := unix.NsecToTimespec(max(due-monotonic(), 0))
			timeout = &ts
		}
		if _, err := unix.Ppoll(fds, timeout, nil); err != nil && err != unix.EINTR {
			return
		}
		if fds[2].Revents != 0 {
			return
		}
		for i, d := range []*direction{r.out, r.in} {
			switch ev := fds[i].Revents; {
			case ev&unix.POLLIN != 0:
				d.readAll()
			case ev != 0:
				return // the device is gone
			}
		}
		r.deliverDue()
	}
}

// nextDue returns the earliest due time of the packets both directions
// hold.
func (r *relay) nextDue() (int64, bool) {
	switch o, i := len(r.out.queue) > 0, len(r.in.queue) > 0; {
	case o && i:
		return min(r.out.queue[0].due, r.in.queue[0].due), true
	case o:
		return r.out.queue[0].due, true
	case i:
		return r.in.queue[0].due, true
	}
	return 0, false
}

func (r *relay) deliverDue() {
	r.out.deliverDue()
	r.in.deliverDue()
}

// readAll reads every packet waiting on src and queues or drops each.
func (d *direction) readAll() {
	for {
		buf := d.buffer()
		n, err := unix.Read(d.src, buf)
		if err != nil || n <= 0 {
			*d.free = append(*d.free, buf)
			return // EAGAIN: nothing more for now
		}
		now := monotonic()
		d.stats.seen.Add(1)
		p := d.path.Load()
		if p.Loss > 0 && d.rng.Float64() < p.Loss {
			d.stats.dropped.Add(1)
			*d.free = append(*d.free, buf)
			continue
		}
		if len(d.queue) >= queueLen {
			d.stats.overflow.Add(1)
			*d.free = append(*d.free, buf)
			continue
		}
		delay := p.Delay
		if p.Jitter > 0 {
			delay += time.Duration(d.rng.Int64N(int64(2*p.Jitter)+1)) - p.Jitter
		}
		delay = max(delay-time.Duration(d.comp.Load()), 0)
		due := max(now+int64(delay), d.lastDue) // never overtake the packet before
		d.lastDue = due
		d.queue = append(d.queue, packet{data: buf[:n], due: due})
	}
}

// deliverDue writes every queued packet whose time has come.
func (d *direction) deliverDue() {
	now := monotonic()
	i := 0
	for ; i < len(d.queue) && d.queue[i].due <= now; i++ {
		if _, err := unix.Write(d.dst, d.queue[i].data); err == nil {
			d.stats.delivered.Add(1)
		}
		*d.free = append(*d.free, d.queue[i].data[:cap(d.queue[i].data)])
	}
	if i > 0 {
		n := copy(d.queue, d.queue[i:])
		clear(d.queue[n:])
		d.queue = d.queue[:n]
	}
}

// buffer returns a packet buffer, reused when one is free.
func (d *direction) buffer() []byte {
	if n := len(*d.free); n > 0 {
		b := (*d.free)[n-1]
		*d.free = (*d.free)[:n-1]
		return b
	}
	return make([]byte, mtu)
}

// monotonic returns CLOCK_MONOTONIC in nanoseconds: the clock ppoll's
// timeout runs on.
func monotonic() int64 {
	var ts unix.Timespec
	unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	return ts.Nano()
}
