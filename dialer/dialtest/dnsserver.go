package dialtest

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/netip"
	"sync"
	"time"

	"golang.org/x/net/dns/dnsmessage"
)

// DNSServer is an in-process DNS responder for a real *net.Resolver, so that
// code that resolves names through the standard library (net.Dialer among
// it) can be pointed at chosen answers without any network traffic.
//
// The resolver returned by Resolver dials the server over net.Pipe; since a
// pipe is not a net.PacketConn, the Go resolver speaks DNS over TCP framing
// (a two-byte length before each message). The server answers A and AAAA
// questions from its table with TTL 0, NXDOMAIN for names it does not know,
// and NOERROR without answers for a known name that has no address of the
// family asked for (or for other question types).
//
// The Go resolver reads /etc/hosts before asking DNS, so use made-up names
// such as "incident.test" rather than "localhost". Names with at least one
// dot are tried as given before any search domain of /etc/resolv.conf; a
// trailing dot ("incident.test.") skips the search domains altogether.
type DNSServer struct {
	wg sync.WaitGroup

	mu      sync.Mutex
	hosts   map[string][]netip.Addr
	queries int
	delay   time.Duration
	conns   map[net.Conn]struct{}

	// life ends when Close is called: no more connections, no more
	// waiting on delayed answers.
	life context.Context
	end  context.CancelFunc
}

// NewDNSServer returns a DNSServer that answers from hosts (which it
// copies). Names are matched without regard to case or a trailing dot. Close
// it when done.
func NewDNSServer(hosts map[string][]netip.Addr) *DNSServer {
	s := &DNSServer{hosts: make(map[string][]netip.Addr), conns: make(map[net.Conn]struct{})}
	s.life, s.end = context.WithCancel(context.Background())
	for name, addrs := range hosts {
		s.hosts[canonicalName(name)] = addrs
	}
	return s
}

// Set adds name to the table or replaces its addresses. A name set with no
// addresses is known: its lookups get NOERROR without answers.
func (s *DNSServer) Set(name string, addrs []netip.Addr) {
	s.mu.Lock()
	s.hosts[canonicalName(name)] = addrs
	s.mu.Unlock()
}

// SetDelay makes the server wait d before each answer it sends from then
// on, like a resolver that is slow or far away; zero (the default) answers
// at once. A negative d is taken as zero. Close does not wait for a delayed
// answer: it ends the wait and the connection.
func (s *DNSServer) SetDelay(d time.Duration) {
	s.mu.Lock()
	s.delay = max(d, 0)
	s.mu.Unlock()
}

// Queries returns the number of DNS questions the server has received
// (counted before any delay). A lookup of network "ip" asks two: A and
// AAAA.
func (s *DNSServer) Queries() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.queries
}

// Resolver returns a *net.Resolver (PreferGo) whose every DNS exchange goes
// to this server, whatever the nameservers of /etc/resolv.conf. After Close
// its lookups fail.
func (s *DNSServer) Resolver() *net.Resolver {
	return &net.Resolver{PreferGo: true, Dial: s.dial}
}

func (s *DNSServer) dial(ctx context.Context, network, address string) (net.Conn, error) {
	client, server := net.Pipe()
	s.mu.Lock()
	if s.life.Err() != nil {
		s.mu.Unlock()
		client.Close()
		server.Close()
		return nil, &net.OpError{Op: "dial", Net: network, Err: errors.New("dialtest: DNSServer closed")}
	}
	s.conns[server] = struct{}{}
	s.wg.Add(1)
	s.mu.Unlock()
	go s.serve(server)
	return client, nil
}

// serve answers the messages of one connection until the client closes it
// or the server is closed.
func (s *DNSServer) serve(c net.Conn) {
	defer s.wg.Done()
	defer func() {
		c.Close()
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
	}()
	var size [2]byte
	for {
		if _, err := io.ReadFull(c, size[:]); err != nil {
			return
		}
		msg := make([]byte, binary.BigEndian.Uint16(size[:]))
		if _, err := io.ReadFull(c, msg); err != nil {
			return
		}
		resp, delay, err := s.answer(msg)
		if err != nil {
			return // not a DNS query: hang up, as a server would
		}
		if wait(s.life, delay) != nil {
			return
		}
		out := binary.BigEndian.AppendUint16(make([]byte, 0, 2+len(resp)), uint16(len(resp)))
		if _, err := c.Write(append(out, resp...)); err != nil {
			return
		}
	}
}

// answer builds the response to the query msg, and says how long to wait
// before sending it.
func (s *DNSServer) answer(msg []byte) ([]byte, time.Duration, error) {
	var p dnsmessage.Parser
	h, err := p.Start(msg)
	if err != nil {
		return nil, 0, err
	}
	q, err := p.Question()
	if err != nil {
		return nil, 0, err
	}
	s.mu.Lock()
	s.queries++
	addrs, known := s.hosts[canonicalName(q.Name.String())]
	delay := s.delay
	s.mu.Unlock()
	resp, err := response(h, q, addrs, known)
	return resp, delay, err
}

// response is the message that answers question q of header h from the
// table's addrs (known: the name is in the table).
func response(h dnsmessage.Header, q dnsmessage.Question, addrs []netip.Addr, known bool) ([]byte, error) {
	rh := dnsmessage.Header{
		ID:                 h.ID,
		Response:           true,
		OpCode:             h.OpCode,
		Authoritative:      true,
		RecursionDesired:   h.RecursionDesired,
		RecursionAvailable: true,
		RCode:              dnsmessage.RCodeSuccess,
	}
	if !known {
		rh.RCode = dnsmessage.RCodeNameError
	}
	b := dnsmessage.NewBuilder(make([]byte, 0, 512), rh)
	b.EnableCompression()
	var err error
	if err = b.StartQuestions(); err != nil {
		return nil, err
	}
	if err := b.Question(q); err != nil {
		return nil, err
	}
	if err := b.StartAnswers(); err != nil {
		return nil, err
	}
	rrh := dnsmessage.ResourceHeader{Name: q.Name, Class: dnsmessage.ClassINET, TTL: 0}
	for _, a := range addrs {
		a = a.Unmap()
		switch {
		case q.Type == dnsmessage.TypeA && a.Is4():
			err = b.AResource(rrh, dnsmessage.AResource{A: a.As4()})
		case q.Type == dnsmessage.TypeAAAA && a.Is6():
			err = b.AAAAResource(rrh, dnsmessage.AAAAResource{AAAA: a.As16()})
		}
		if err != nil {
			return nil, err
		}
	}
	return b.Finish()
}

// Close makes later lookups through its resolvers fail, closes every
// connection still open and waits for all goroutines of the server. It is
// idempotent and always returns nil.
func (s *DNSServer) Close() error {
	s.mu.Lock()
	s.end() // under mu: dial checks life under it too
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
	return nil
}
