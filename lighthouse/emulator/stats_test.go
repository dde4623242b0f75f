package emulator_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestStatsBoundedUnderHostileActions: the call counters must not grow
// with every distinct X-TC-Action a client (signed or not) makes up;
// otherwise anyone who can reach the port can exhaust its memory.
func TestStatsBoundedUnderHostileActions(t *testing.T) {
	e := newEnv(t, nil)
	for i := range 300 {
		action := fmt.Sprintf("Bogus%04d", i)
		if i%2 == 0 {
			e.wantCode(action, map[string]any{}, "InvalidAction")
			continue
		}
		r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader("{}"))
		r.Header.Set("X-TC-Action", action)
		w := httptest.NewRecorder()
		e.srv.ServeHTTP(w, r)
	}
	e.wantCode("DescribeInstances", map[string]any{}, "")
	stats := e.srv.Stats()
	if len(stats) > 3 {
		t.Errorf("Stats has %d actions after 300 made-up ones; want them counted together", len(stats))
	}
	if e.srv.Calls("DescribeInstances", "") != 1 || e.srv.Calls("", "InvalidAction") != 150 {
		t.Errorf("counts: DescribeInstances ok %d, unknown InvalidAction %d; want 1 and 150",
			e.srv.Calls("DescribeInstances", ""), e.srv.Calls("", "InvalidAction"))
	}
}
