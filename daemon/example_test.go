package daemon_test

import (
	"context"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/lightkeeper/lightkeeper/daemon"
	"github.com/lightkeeper/lightkeeper/lighthouse"
	"github.com/lightkeeper/lightkeeper/reconcile"
)

// Example runs the loop over a plain directory of fleets until SIGTERM,
// with /healthz, /readyz, /metrics, /status and the status page on a
// loopback port. `lightkeeper daemon` does the same from its configuration
// file, with a git repository as the source.
func Example() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	cred, err := lighthouse.FindCredential(os.Getenv, os.Getenv("HOME"))
	if err != nil {
		log.Error("credentials", "err", err)
		return
	}
	client, err := lighthouse.New(lighthouse.Options{Credential: cred})
	if err != nil {
		log.Error("client", "err", err)
		return
	}
	d, err := daemon.New(daemon.Options{
		Source:   daemon.DirSource{Dir: "/srv/fleets"},
		Cloud:    client,
		Limits:   reconcile.Limits{MaxCreates: 20, MaxMonthlySpend: reconcile.NoLimit},
		StateDir: "/var/lib/lightkeeper",
		Listen:   "127.0.0.1:9180",
		Logger:   log,
	})
	if err != nil {
		log.Error("daemon", "err", err)
		return
	}
	if err := d.Run(ctx); err != nil { // nil after SIGTERM, once the state is saved
		log.Error("daemon", "err", err)
	}
}
