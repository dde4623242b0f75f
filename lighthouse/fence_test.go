package lighthouse

import (
	"context"
	"errors"
	"net/http"
	"testing"
)

// TestFence: the fence is asked before every attempt of a mutating action,
// after the rate-limit wait; a refusal sends nothing, is not retried, and
// keeps an earlier attempt's ambiguity.
func TestFence(t *testing.T) {
	notLeader := errors.New("lease lost")
	t.Run("refused before the first attempt", func(t *testing.T) {
		srv, n := scriptServer(t, func(i int, w http.ResponseWriter, r *http.Request) { w.Write([]byte(okCreate)) })
		var asked []string
		c := newTestClient(t, srv.URL, testCred, func(o *Options) {
			o.Fence = func(ctx context.Context, action string) error {
				asked = append(asked, action)
				if action == ActionCreateInstances {
					return notLeader
				}
				return nil
			}
		})
		_, err := c.CreateInstances(context.Background(), "ap-guangzhou", createReq("tok-fence-1"))
		var e *Error
		if !errors.As(err, &e) || e.Code != CodeFenced || e.Ambiguous || ClassOf(err) != RetryLater || !errors.Is(err, notLeader) {
			t.Fatalf("err = %#v, want %s, not ambiguous, RetryLater, wrapping the fence's error", err, CodeFenced)
		}
		if e.Action != ActionCreateInstances || e.Region != "ap-guangzhou" {
			t.Errorf("error names %s in %s", e.Action, e.Region)
		}
		if got := n.Load(); got != 0 {
			t.Errorf("%d requests reached the server, want 0", got)
		}
		// Reads are never fenced.
		if _, err := c.DescribeInstances(context.Background(), "ap-guangzhou", nil); err != nil {
			t.Fatal(err)
		}
		if len(asked) != 1 {
			t.Errorf("fence asked for %v, want only the create", asked)
		}
	})
	t.Run("refused on a retry keeps the ambiguity", func(t *testing.T) {
		srv, n := scriptServer(t, func(i int, w http.ResponseWriter, r *http.Request) { envelopeError(w, "InternalError") })
		calls := 0
		c := newTestClient(t, srv.URL, testCred, func(o *Options) {
			o.Fence = func(ctx context.Context, action string) error {
				calls++
				if calls > 1 {
					return notLeader
				}
				return nil
			}
		})
		_, err := c.CreateInstances(context.Background(), "ap-guangzhou", createReq("tok-fence-2"))
		var e *Error
		if !errors.As(err, &e) || e.Code != CodeFenced || !e.Ambiguous {
			t.Fatalf("err = %#v, want %s and ambiguous (the first attempt may have acted)", err, CodeFenced)
		}
		if got := n.Load(); got != 1 {
			t.Errorf("%d requests reached the server, want 1", got)
		}
	})
}
