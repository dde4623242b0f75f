package lighthouse

import (
	"bytes"
	"log/slog"
	"sync"
	"testing"
	"time"
)

// unlimited turns off every client-side rate limit.
func unlimited() map[string]float64 {
	m := DefaultRateLimits()
	for a := range m {
		m[a] = 0
	}
	return m
}

// newTestClient returns a client for endpoint with millisecond backoffs and
// no client-side rate limits; edit adjusts the options.
func newTestClient(t testing.TB, endpoint string, cred Credential, edit ...func(*Options)) *Client {
	t.Helper()
	o := Options{
		Credential:   cred,
		Endpoint:     endpoint,
		RetryWaitMin: time.Millisecond,
		RetryWaitMax: 4 * time.Millisecond,
		RateLimits:   unlimited(),
	}
	for _, f := range edit {
		f(&o)
	}
	c, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// logBuffer is a concurrency-safe buffer for a debug slog.Logger.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (b *logBuffer) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug}))
}
