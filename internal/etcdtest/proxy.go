package etcdtest

import (
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/lightkeeper/lightkeeper/internal/freeport"
)

// rebindTimeout bounds how long Restart waits for the client port to be
// free again.
const rebindTimeout = 10 * time.Second

// proxy is the client port the tests give out: a TCP relay to the member's
// own client listener. It lets Stop cut every client at once (etcd's own
// Close waits up to its request timeout, 7 s, for open streams), keeps the
// client port across restarts while the member's own ports change, and
// counts the bytes on the wire (TLS, HTTP/2 and gRPC framing included).
type proxy struct {
	addr string // 127.0.0.1:PORT, fixed at the first open

	mu     sync.Mutex
	ln     net.Listener
	conns  map[net.Conn]struct{}
	target string
	wg     sync.WaitGroup

	rx, tx   atomic.Int64 // bytes from clients to etcd, and back
	accepted atomic.Int64
}

// open starts relaying to target: on a fresh port the first time, on the
// same port after that (waiting for it to be free).
func (p *proxy) open(target string) error {
	var ln net.Listener
	var err error
	if p.addr == "" {
		ln, err = freeport.Listen()
	} else {
		deadline := time.Now().Add(rebindTimeout)
		for {
			ln, err = net.Listen("tcp", p.addr)
			if err == nil || !errors.Is(err, syscall.EADDRINUSE) || time.Now().After(deadline) {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	if err != nil {
		return fmt.Errorf("client port: %w", err)
	}
	p.mu.Lock()
	if p.addr == "" {
		p.addr = ln.Addr().String()
	}
	p.ln, p.target, p.conns = ln, target, map[net.Conn]struct{}{}
	p.mu.Unlock()
	p.wg.Add(1)
	go p.accept(ln)
	return nil
}

func (p *proxy) accept(ln net.Listener) {
	defer p.wg.Done()
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		p.accepted.Add(1)
		p.mu.Lock()
		if p.ln != ln { // closed meanwhile
			p.mu.Unlock()
			c.Close()
			return
		}
		p.conns[c] = struct{}{}
		target := p.target
		p.wg.Add(1)
		p.mu.Unlock()
		go p.relay(c, target)
	}
}

func (p *proxy) relay(c net.Conn, target string) {
	defer p.wg.Done()
	defer func() {
		p.mu.Lock()
		delete(p.conns, c)
		p.mu.Unlock()
		c.Close()
	}()
	up, err := net.Dial("tcp", target)
	if err != nil {
		return
	}
	p.mu.Lock()
	if p.conns == nil || p.ln == nil {
		p.mu.Unlock()
		up.Close()
		return
	}
	p.conns[up] = struct{}{}
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		delete(p.conns, up)
		p.mu.Unlock()
		up.Close()
	}()
	done := make(chan struct{}, 2)
	go func() { io.Copy(countingWriter{up, &p.rx}, c); done <- struct{}{} }()
	go func() { io.Copy(countingWriter{c, &p.tx}, up); done <- struct{}{} }()
	<-done // either side ended: end both
}

// close stops accepting and cuts every connection, then waits for the
// relays to end.
func (p *proxy) close() {
	p.mu.Lock()
	ln := p.ln
	p.ln = nil
	for c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	if ln != nil {
		ln.Close()
	}
	p.wg.Wait()
}

type countingWriter struct {
	w io.Writer
	n *atomic.Int64
}

// Write counts b before writing it, so that the count is there by the time
// the other end has read the bytes.
func (cw countingWriter) Write(b []byte) (int, error) {
	cw.n.Add(int64(len(b)))
	n, err := cw.w.Write(b)
	cw.n.Add(int64(n - len(b)))
	return n, err
}
