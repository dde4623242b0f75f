package election_test

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/lightkeeper/lightkeeper/election"
	"github.com/lightkeeper/lightkeeper/internal/syncbuf"
)

// enableAuth turns etcd's authentication on, with a user lightkeeper
// (password pw) that may read and write under prefix only.
func enableAuth(t *testing.T, endpoints []string, prefix, pw string) {
	t.Helper()
	cli, err := clientv3.New(clientv3.Config{Endpoints: endpoints, DialTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	steps := []func() error{
		func() error { _, err := cli.RoleAdd(ctx, "root"); return err },
		func() error { _, err := cli.UserAdd(ctx, "root", "root-pw"); return err },
		func() error { _, err := cli.UserGrantRole(ctx, "root", "root"); return err },
		func() error { _, err := cli.RoleAdd(ctx, "lightkeeper"); return err },
		func() error {
			_, err := cli.RoleGrantPermission(ctx, "lightkeeper", prefix, clientv3.GetPrefixRangeEnd(prefix), clientv3.PermissionType(clientv3.PermReadWrite))
			return err
		},
		func() error { _, err := cli.UserAdd(ctx, "lightkeeper", pw); return err },
		func() error { _, err := cli.UserGrantRole(ctx, "lightkeeper", "lightkeeper"); return err },
		func() error { _, err := cli.AuthEnable(ctx); return err },
	}
	for i, step := range steps {
		if err := step(); err != nil {
			t.Fatalf("enable etcd auth, step %d: %v", i+1, err)
		}
	}
}

// TestAuthentication: on an etcd with authentication enabled, an elector
// with its user's password leads, keeps leading across a restart of etcd
// (which forgets every token), and passes triggers; one without a user or
// with a wrong password never leads, says why in its log, and never logs
// the password.
func TestAuthentication(t *testing.T) { backends(t, testAuthentication) }

func testAuthentication(t *testing.T, srv backend) {
	const pw = "s3cret-Passw0rd"
	prefix := "/test/" + t.Name() + "/"
	enableAuth(t, srv.Endpoints(), prefix, pw)
	logs := map[string]*syncbuf.Buffer{}
	member := func(id, user, password string) *member {
		logs[id] = &syncbuf.Buffer{}
		return join(t, srv.Endpoints(), id, func(o *election.Options) {
			o.Username, o.Password = user, password
			o.Logger = slog.New(slog.NewTextHandler(logs[id], nil))
		})
	}
	nobody := member("lk-nobody", "", "")
	wrong := member("lk-wrong", "lightkeeper", "not-"+pw)
	a := member("lk-a", "lightkeeper", pw)
	waitUntil(t, "lk-a to lead", a.leading.Load)
	b := member("lk-b", "lightkeeper", pw)
	waitUntil(t, "lk-b to see lk-a lead", func() bool { i, ok := b.e.Leader(); return ok && i.ID == "lk-a" })
	ctx := context.Background()
	if err := a.e.Check(ctx); err != nil {
		t.Fatal(err)
	}
	if err := b.e.Forward(ctx); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "lk-a to get lk-b's trigger", func() bool { return a.triggers.Load() == 1 })

	srv.Restart()
	// The tokens are gone: the leader's Check passes once it has
	// authenticated again (a Check may fail meanwhile: it is bounded by a
	// third of the TTL, and etcd's password hash is slow by design).
	waitUntil(t, "a leader that passes Check after etcd restarted", func() bool {
		l := leaders(a, b)
		return len(l) == 1 && l[0].e.Check(ctx) == nil
	})
	if nobody.leading.Load() || wrong.leading.Load() || len(nobody.changes)+len(wrong.changes) > 0 {
		t.Fatal("an elector without the right password led")
	}
	for _, w := range []struct{ id, want string }{
		{"lk-nobody", "user name is empty (gRPC code 3): etcd has authentication enabled: set ha.etcd.username and ha.etcd.passwordFile"},
		{"lk-wrong", `authenticate to etcd as \"lightkeeper\": etcd /v3/auth/authenticate at`},
		{"lk-wrong", "invalid user ID or password (gRPC code 3): check ha.etcd.username and the password in ha.etcd.passwordFile"},
	} {
		if !strings.Contains(logs[w.id].String(), w.want) {
			t.Errorf("%s's log lacks %q:\n%s", w.id, w.want, logs[w.id].String())
		}
	}
	for id, l := range logs {
		if strings.Contains(l.String(), pw) {
			t.Errorf("%s's log holds the password", id)
		}
	}
}
