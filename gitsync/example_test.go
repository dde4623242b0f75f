package gitsync_test

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/lightkeeper/lightkeeper/gitsync"
)

// Example shows the shape of a daemon loop around a Source: a sync on
// start, on each interval, on each accepted webhook and, for a local
// repository, on each change of its refs.
func Example() {
	ctx, log := context.Background(), slog.Default()
	ref := gitsync.Ref{Branch: "main"}
	src, err := gitsync.New(gitsync.Options{
		URL: "ssh://git@git.example.com/ops/fleets.git", Ref: ref, Path: "fleets",
		CacheDir: "/var/lib/lightkeeper/git", Logger: log,
		Auth: gitsync.Auth{SSHKeyFile: "/run/credentials/lightkeeper.service/git-ssh-key", KnownHostsFile: "/etc/lightkeeper/known_hosts"},
	})
	if err != nil {
		log.Error("repository", "err", err)
		return
	}
	trigger := make(chan struct{}, 1)
	poke := func(gitsync.Push) {
		select {
		case trigger <- struct{}{}:
		default:
		}
	}
	hook, err := gitsync.NewWebhookHandler(gitsync.WebhookOptions{Secret: []byte("from webhook.secretFile"), Ref: ref, OnPush: poke, Logger: log})
	if err != nil {
		return
	}
	http.Handle("POST /hooks/git", hook)
	var watch <-chan struct{} // nil (never ready) unless the source is local
	if w, ok := src.(gitsync.Watcher); ok {
		watch, _ = w.Watch(ctx)
	}
	tick := time.NewTicker(time.Minute)
	defer tick.Stop()
	for {
		if rev, changed, err := src.Sync(ctx); err != nil {
			log.Error("sync failed; keeping the last good revision", "err", err)
		} else if changed {
			log.Info("new revision", "commit", rev.Short(), "subject", rev.Subject)
			// fleets, err := spec.Load(rev.FS, spec.Options{}) ...
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		case <-trigger:
		case <-watch:
		}
	}
}
