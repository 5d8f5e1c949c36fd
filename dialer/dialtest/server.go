package dialtest

import (
	"errors"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
)

// server is the loopback TCP listener under Healthy and SilentTLS: it
// accepts every connection, hands it to serve on a goroutine of its own,
// and owns all of them: close closes the listener and every connection
// still open, and waits for every goroutine.
type server struct {
	addr     netip.AddrPort
	ln       *net.TCPListener
	accepted atomic.Int64
	serve    func(net.Conn) // runs until the connection is closed; nil holds it
	wg       sync.WaitGroup

	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool

	closeOnce sync.Once
	closeErr  error
}

// listenServer listens on a loopback "ip:port" and starts accepting.
func listenServer(address string, serve func(net.Conn)) (*server, error) {
	ap, err := parseTestAddr(address)
	if err != nil {
		return nil, err
	}
	network := "tcp4"
	if ap.Addr().Is6() {
		network = "tcp6"
	}
	ln, err := net.ListenTCP(network, net.TCPAddrFromAddrPort(ap))
	if err != nil {
		return nil, err
	}
	s := &server{
		addr:  netip.AddrPortFrom(ap.Addr(), uint16(ln.Addr().(*net.TCPAddr).Port)),
		ln:    ln,
		serve: serve,
		conns: make(map[net.Conn]struct{}),
	}
	s.wg.Add(1)
	go s.acceptLoop()
	return s, nil
}

func (s *server) acceptLoop() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return // closed by close
		}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			c.Close()
			return
		}
		s.conns[c] = struct{}{}
		// Counted before it is served: whoever sees a reply on it must see
		// it in Accepted.
		s.accepted.Add(1)
		if s.serve != nil {
			s.wg.Add(1)
			go s.run(c)
		}
		s.mu.Unlock()
	}
}

// run serves one connection, then closes and forgets it.
func (s *server) run(c net.Conn) {
	defer s.wg.Done()
	s.serve(c)
	c.Close()
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
}

// close closes the listener and every connection, and waits for every
// goroutine. Later calls return the first call's result.
func (s *server) close() error {
	s.closeOnce.Do(func() {
		err := s.ln.Close()
		s.mu.Lock()
		s.closed = true
		for c := range s.conns {
			c.Close()
		}
		s.mu.Unlock()
		s.wg.Wait()
		if err != nil && !errors.Is(err, net.ErrClosed) {
			s.closeErr = err
		}
	})
	return s.closeErr
}
