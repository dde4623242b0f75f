package etcdtest

import (
	"io"
	"net"
	"sync"
)

// front is the address clients dial: a TCP relay to the member's own
// listener, so that Stop cuts every client connection at once, as a crash
// or a partition does. (A member that shuts down on its own drains its
// streams for up to 7 s first, and keeps leases alive meanwhile.)
type front struct {
	ln      net.Listener
	backend string
	mu      sync.Mutex
	conns   map[net.Conn]struct{}
	closed  bool
	wg      sync.WaitGroup
}

// listenFront relays addr to backend until close.
func listenFront(addr, backend string) (*front, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	f := &front{ln: ln, backend: backend, conns: map[net.Conn]struct{}{}}
	f.wg.Add(1)
	go f.serve()
	return f, nil
}

func (f *front) serve() {
	defer f.wg.Done()
	for {
		c, err := f.ln.Accept()
		if err != nil {
			return
		}
		b, err := net.Dial("tcp", f.backend)
		if err != nil {
			c.Close()
			continue
		}
		if !f.track(c, b) {
			return
		}
		f.wg.Add(2)
		go f.pipe(c, b)
		go f.pipe(b, c)
	}
}

// track registers a pair of connections; false once closed.
func (f *front) track(cs ...net.Conn) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		for _, c := range cs {
			c.Close()
		}
		return false
	}
	for _, c := range cs {
		f.conns[c] = struct{}{}
	}
	return true
}

func (f *front) pipe(dst, src net.Conn) {
	defer f.wg.Done()
	_, _ = io.Copy(dst, src)
	dst.Close()
	src.Close()
}

// close stops accepting and cuts every connection.
func (f *front) close() {
	f.mu.Lock()
	f.closed = true
	f.ln.Close()
	for c := range f.conns {
		c.Close()
	}
	f.conns = nil
	f.mu.Unlock()
	f.wg.Wait()
}
