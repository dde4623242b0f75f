package daemon

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"
)

// Defaults of ServerOptions.
const (
	DefaultMaxConns          = 256
	DefaultReserveConns      = 16
	DefaultReserveLifetime   = 5 * time.Second
	DefaultReadHeaderTimeout = 10 * time.Second
	// DefaultReadTimeout bounds the reading of a whole request: a webhook
	// body of gitsync.MaxWebhookBody at 35 KB/s.
	DefaultReadTimeout  = 30 * time.Second
	DefaultWriteTimeout = 60 * time.Second
	DefaultIdleTimeout  = 60 * time.Second
)

// ServerOptions bound the daemon's HTTP server. The zero value means the
// defaults.
type ServerOptions struct {
	// MaxConns is how many connections may be open at once (default
	// DefaultMaxConns). One more closes the connection that has been idle
	// the longest (one that has sent no request yet, or waits between
	// requests); when none is idle, it is taken into the reserve.
	MaxConns int
	// ReserveConns is how many connections are taken past MaxConns while
	// every other one is busy (default DefaultReserveConns), each closed
	// after ReserveLifetime (default DefaultReserveLifetime), so that a
	// health check still gets its answer; past those, a connection is
	// closed as soon as it is accepted.
	ReserveConns    int
	ReserveLifetime time.Duration
	// ReadHeaderTimeout, ReadTimeout, WriteTimeout and IdleTimeout are
	// http.Server's (defaults DefaultReadHeaderTimeout and so on).
	ReadHeaderTimeout, ReadTimeout, WriteTimeout, IdleTimeout time.Duration
	// Logger receives a warning, at most once a minute, while connections
	// are closed for the limit; nil discards.
	Logger *slog.Logger
}

// Server is the daemon's HTTP server: http.Server with every timeout set
// and a bound on open connections (ServerOptions), so that clients that
// open connections and send nothing, or send slowly, cannot take every
// file descriptor of the process, and /healthz keeps answering.
type Server struct {
	srv *http.Server
	lim *connLimiter
}

// NewServer returns a Server for h. Every response carries
// X-Content-Type-Options: nosniff.
func NewServer(h http.Handler, o ServerOptions) *Server {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&o.ReadHeaderTimeout, DefaultReadHeaderTimeout)
	def(&o.ReadTimeout, DefaultReadTimeout)
	def(&o.WriteTimeout, DefaultWriteTimeout)
	def(&o.IdleTimeout, DefaultIdleTimeout)
	def(&o.ReserveLifetime, DefaultReserveLifetime)
	if o.MaxConns <= 0 {
		o.MaxConns = DefaultMaxConns
	}
	if o.ReserveConns <= 0 {
		o.ReserveConns = DefaultReserveConns
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	lim := &connLimiter{max: o.MaxConns, reserve: o.ReserveConns, life: o.ReserveLifetime, log: o.Logger, conns: map[net.Conn]*tracked{}}
	srv := &http.Server{
		Handler:           nosniff(h),
		ReadHeaderTimeout: o.ReadHeaderTimeout,
		ReadTimeout:       o.ReadTimeout,
		WriteTimeout:      o.WriteTimeout,
		IdleTimeout:       o.IdleTimeout,
		MaxHeaderBytes:    64 << 10,
		ConnState:         lim.state,
		ErrorLog:          slog.NewLogLogger(o.Logger.Handler(), slog.LevelDebug),
	}
	return &Server{srv: srv, lim: lim}
}

// Serve accepts connections on ln until Shutdown; it returns
// http.ErrServerClosed then.
func (s *Server) Serve(ln net.Listener) error {
	return s.srv.Serve(&limitedListener{Listener: ln, lim: s.lim})
}

// Shutdown stops accepting and waits for the requests in flight, until
// ctx ends.
func (s *Server) Shutdown(ctx context.Context) error { return s.srv.Shutdown(ctx) }

// nosniff sets X-Content-Type-Options on every response, so that no
// browser reads /status or an error as anything but its declared type.
func nosniff(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Content-Type-Options", "nosniff")
		h.ServeHTTP(w, r)
	})
}

// limitedListener admits the connections it accepts through a connLimiter.
type limitedListener struct {
	net.Listener
	lim *connLimiter
}

// Accept returns the next connection admitted; the others are closed.
func (l *limitedListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if l.lim.admit(c) {
			return c, nil
		}
		_ = c.Close()
	}
}

// connLimiter keeps at most max connections open, plus a reserve, and
// learns from http.Server's ConnState which of them are idle.
type connLimiter struct {
	max, reserve int
	life         time.Duration
	log          *slog.Logger

	mu               sync.Mutex
	conns            map[net.Conn]*tracked
	open, reserved   int // tracked connections in and past max
	tick             uint64
	evicted, refused uint64 // since the last warning
	lastWarn         time.Time
}

// tracked is a connection the server serves.
type tracked struct {
	idle    bool   // it has no request in flight
	since   uint64 // when it became idle, in ticks
	reserve *time.Timer
}

// admit decides whether to serve a new connection.
func (l *connLimiter) admit(c net.Conn) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.tick++
	if l.open >= l.max {
		l.evictIdle()
	}
	switch {
	case l.open < l.max:
		l.open++
		l.conns[c] = &tracked{idle: true, since: l.tick}
		return true
	case l.reserved < l.reserve:
		l.reserved++
		l.conns[c] = &tracked{idle: true, since: l.tick, reserve: time.AfterFunc(l.life, func() { _ = c.Close() })}
		l.warn()
		return true
	}
	l.refused++
	l.warn()
	return false
}

// evictIdle closes the connection that has been idle the longest, outside
// the reserve, if any. It is forgotten at once; its ConnState calls find
// nothing.
func (l *connLimiter) evictIdle() {
	var oldest net.Conn
	var since uint64
	for c, t := range l.conns {
		if t.idle && t.reserve == nil && (oldest == nil || t.since < since) {
			oldest, since = c, t.since
		}
	}
	if oldest == nil {
		return
	}
	delete(l.conns, oldest)
	l.open--
	l.evicted++
	_ = oldest.Close()
	l.warn()
}

// warn logs, at most once a minute, that connections are being closed.
func (l *connLimiter) warn() {
	if time.Since(l.lastWarn) < time.Minute {
		return
	}
	l.lastWarn = time.Now()
	l.log.Warn("too many HTTP connections: closing idle ones and refusing the rest", "max", l.max, "reserve", l.reserve,
		"evicted", l.evicted, "refused", l.refused)
	l.evicted, l.refused = 0, 0
}

// state is http.Server's ConnState hook.
func (l *connLimiter) state(c net.Conn, s http.ConnState) {
	l.mu.Lock()
	defer l.mu.Unlock()
	t := l.conns[c]
	if t == nil {
		return
	}
	switch s {
	case http.StateNew:
	case http.StateIdle:
		l.tick++
		t.idle, t.since = true, l.tick
	case http.StateActive:
		t.idle = false
	case http.StateClosed, http.StateHijacked:
		delete(l.conns, c)
		if t.reserve != nil {
			t.reserve.Stop()
			l.reserved--
		} else {
			l.open--
		}
	}
}
