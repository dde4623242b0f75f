package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/lightkeeper/lightkeeper/lighthouse"
	"github.com/lightkeeper/lightkeeper/lighthouse/emulator"
)

// embeddedLaunchDelay is how long an instance of the in-process emulator
// stays PENDING: short, so that --wait in a demo ends quickly.
const embeddedLaunchDelay = 2 * time.Second

// embeddedEmulator is `reconcile --emulator FILE`: the emulator served on
// a loopback port of this process, with credentials made up for the run,
// its instances and client tokens kept in FILE.
type embeddedEmulator struct {
	url   string
	cred  lighthouse.Credential
	hs    *http.Server
	saver *stateSaver
	mu    sync.Mutex // serialises saves
	stop  chan struct{}
	done  chan struct{}
}

// startEmbeddedEmulator loads path (a missing file starts empty) and
// serves the emulator on 127.0.0.1 with the documented rate limits and a
// short launch delay, as the China site (which takes Tags) or the
// international one. It saves the state every second while it runs, so
// even a killed run leaves a file consistent with what its client saw
// at that moment.
func startEmbeddedEmulator(path string, china bool, logger *slog.Logger) (*embeddedEmulator, error) {
	var raw [24]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return nil, fmt.Errorf("emulator credentials: %w", err)
	}
	id, key := "AKIDlk"+hex.EncodeToString(raw[:8]), hex.EncodeToString(raw[8:])
	site := emulator.SiteIntl
	if china {
		site = emulator.SiteChina
	}
	srv, err := emulator.New(emulator.Config{
		Credentials: map[string]string{id: key},
		LaunchDelay: embeddedLaunchDelay,
		Site:        site,
		Logger:      logger,
	})
	if err != nil {
		return nil, fmt.Errorf("emulator: %w", err)
	}
	if err := loadEmulatorState(srv, path); err != nil {
		return nil, fmt.Errorf("--emulator: %w", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("emulator: %w", err)
	}
	em := &embeddedEmulator{
		url:   "http://" + ln.Addr().String(),
		cred:  lighthouse.NewCredential(id, key, "", "--emulator"),
		hs:    &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second},
		saver: &stateSaver{srv: srv, path: path},
		stop:  make(chan struct{}),
		done:  make(chan struct{}),
	}
	if err := em.save(); err != nil { // fail early on an unwritable FILE
		ln.Close()
		return nil, fmt.Errorf("--emulator: %w", err)
	}
	go em.hs.Serve(ln)
	go func() {
		defer close(em.done)
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-em.stop:
				return
			case <-t.C:
				if err := em.save(); err != nil {
					logger.Error("save the emulator state", "err", err)
				}
			}
		}
	}()
	return em, nil
}

func (em *embeddedEmulator) save() error {
	em.mu.Lock()
	defer em.mu.Unlock()
	return em.saver.save()
}

// close stops serving and saves the state a last time.
func (em *embeddedEmulator) close() error {
	close(em.stop)
	<-em.done
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := em.hs.Shutdown(ctx)
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	if serr := em.save(); serr != nil {
		err = errors.Join(err, fmt.Errorf("--emulator: %w", serr))
	}
	return err
}
