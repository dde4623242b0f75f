package election

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// event is one change a watch reports.
type event struct {
	Type string   `json:"type"` // "" for a put, "DELETE"
	Kv   keyValue `json:"kv"`
}

// deleted reports whether the event removed its key.
func (e event) deleted() bool { return e.Type == "DELETE" }

// errCompacted is returned by watch when the revision asked for is gone
// from etcd's history; watch returns the oldest one left.
var errCompacted = errors.New("the revision was compacted")

// watch follows the keys in [key, end) (end nil: key alone) from revision
// rev on (0: from now), and calls fn with each batch of changes, in
// etcd's order, until fn returns false, ctx ends or the stream fails. It
// returns the revision to watch from next, so that a watch made again
// misses and repeats nothing, and why it stopped (nil when fn asked).
func (c *etcd) watch(ctx context.Context, key string, end []byte, rev int64, fn func([]event) bool) (int64, error) {
	var create struct {
		Create struct {
			Key      []byte `json:"key"`
			RangeEnd []byte `json:"range_end,omitempty"`
			Start    int64  `json:"start_revision,omitempty,string"`
		} `json:"create_request"`
	}
	create.Create.Key, create.Create.RangeEnd, create.Create.Start = []byte(key), end, rev
	const path = "/v3/watch"
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // the response's end closes the stream
	resp, err := c.openStream(ctx, path, create)
	if err != nil {
		return rev, err
	}
	host := resp.Request.URL.Host
	defer resp.Body.Close()
	// Each message is bounded like a unary answer: a stream that sends one
	// without end is cut there, not buffered.
	body := &io.LimitedReader{R: resp.Body, N: maxResponse}
	dec := json.NewDecoder(body)
	for {
		body.N = maxResponse
		var line struct {
			Result *struct {
				Header          header  `json:"header"`
				Created         bool    `json:"created"`
				Canceled        bool    `json:"canceled"`
				CompactRevision int64   `json:"compact_revision,string"`
				CancelReason    string  `json:"cancel_reason"`
				Events          []event `json:"events"`
			} `json:"result"`
			Error *gatewayError `json:"error"`
		}
		if err := dec.Decode(&line); err != nil {
			if ctx.Err() != nil {
				return rev, ctx.Err()
			}
			if body.N <= 0 {
				return rev, c.failed(host, fmt.Errorf("etcd %s at %s: a message over %d bytes", path, host, maxResponse))
			}
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return rev, c.failed(host, fmt.Errorf("etcd %s at %s: the stream ended: %w", path, host, err))
		}
		r := line.Result
		switch {
		case line.Error != nil:
			return rev, c.failed(host, line.Error.err(path, host, resp.StatusCode))
		case r == nil:
			return rev, fmt.Errorf("etcd %s at %s: a message without a result", path, host)
		case r.Canceled && r.CompactRevision > 0:
			return r.CompactRevision, fmt.Errorf("etcd %s at %s: from revision %d: %w (oldest left: %d)", path, host, rev, errCompacted, r.CompactRevision)
		case r.Canceled:
			return rev, fmt.Errorf("etcd %s at %s: the watch was cancelled: %s", path, host, r.CancelReason)
		case r.Created:
			if rev == 0 {
				rev = r.Header.Revision + 1
			}
		}
		if len(r.Events) == 0 {
			continue
		}
		for _, ev := range r.Events {
			rev = max(rev, ev.Kv.ModRevision+1)
		}
		if !fn(r.Events) {
			return rev, nil
		}
	}
}
