package dialtest

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// tcpSynSent is the state code of SYN_SENT in /proc/net/tcp.
const tcpSynSent = "02"

// CountSynSent returns the number of TCP sockets of this network namespace in
// SYN_SENT whose remote port is port, to any remote address, IPv4 or IPv6
// (it reads /proc/net/tcp and /proc/net/tcp6). A dialer waiting on a Stalled
// shows up here; a fresh Stalled counts 0.
func CountSynSent(port uint16) (int, error) {
	total := 0
	for _, name := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		n, err := countSynSent(name, port)
		if err != nil {
			return 0, err
		}
		total += n
	}
	return total, nil
}

func countSynSent(name string, port uint16) (int, error) {
	data, err := os.ReadFile(name)
	if err != nil {
		if os.IsNotExist(err) && name == "/proc/net/tcp6" {
			return 0, nil // kernel without IPv6
		}
		return 0, fmt.Errorf("dialtest: %w", err)
	}
	n := 0
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Scan() // header
	for sc.Scan() {
		// "sl local_address rem_address st ...", addresses as HEXIP:HEXPORT.
		f := bytes.Fields(sc.Bytes())
		if len(f) < 4 || string(f[3]) != tcpSynSent {
			continue
		}
		i := bytes.LastIndexByte(f[2], ':')
		if i < 0 {
			continue
		}
		p, err := strconv.ParseUint(string(f[2][i+1:]), 16, 16)
		if err == nil && uint16(p) == port {
			n++
		}
	}
	return n, sc.Err()
}

// SynSentSampler samples CountSynSent in a goroutine it owns and keeps the
// peak. Start it with SampleSynSent and end it with Stop.
type SynSentSampler struct {
	port uint16
	peak atomic.Int64
	stop chan struct{}
	done chan struct{}
	once sync.Once
	mu   sync.Mutex
	err  error
}

// SampleSynSent starts sampling CountSynSent(port) at once and then every
// `every` (a few milliseconds is enough to see a dialer that waits on a
// Stalled; every <= 0 means 2ms). Call Stop to end it.
func SampleSynSent(port uint16, every time.Duration) *SynSentSampler {
	if every <= 0 {
		every = 2 * time.Millisecond
	}
	s := &SynSentSampler{port: port, stop: make(chan struct{}), done: make(chan struct{})}
	go s.run(every)
	return s
}

func (s *SynSentSampler) run(every time.Duration) {
	defer close(s.done)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		s.sample()
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
	}
}

func (s *SynSentSampler) sample() {
	n, err := CountSynSent(s.port)
	if err != nil {
		s.mu.Lock()
		if s.err == nil {
			s.err = err
		}
		s.mu.Unlock()
		return
	}
	for {
		p := s.peak.Load()
		if int64(n) <= p || s.peak.CompareAndSwap(p, int64(n)) {
			return
		}
	}
}

// Peak returns the highest count seen so far.
func (s *SynSentSampler) Peak() int { return int(s.peak.Load()) }

// Err returns the first error of CountSynSent while sampling, if any; the
// sample that failed is not counted in the peak.
func (s *SynSentSampler) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// Stop ends the sampling, waits for its goroutine and returns the peak. It is
// idempotent.
func (s *SynSentSampler) Stop() int {
	s.once.Do(func() { close(s.stop) })
	<-s.done
	return s.Peak()
}

// OpenFDs returns the number of file descriptors open in this process (the
// entries of /proc/self/fd, not counting the one used to read it). Compare it
// before and after a piece of work to find leaked sockets.
func OpenFDs() (int, error) {
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return 0, fmt.Errorf("dialtest: %w", err)
	}
	return len(entries) - 1, nil
}
