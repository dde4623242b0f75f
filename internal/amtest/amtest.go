// Package amtest runs Prometheus Alertmanager as a process for tests: the
// binary Debian's prometheus-alertmanager package installs (or the one
// $LIGHTKEEPER_ALERTMANAGER names), on a free loopback port, with its data
// in the test's temporary directory, and reads its alerts back through its
// API v2.
package amtest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lightkeeper/lightkeeper/internal/freeport"
)

// BinaryEnv names the Alertmanager binary Start runs, when set; otherwise
// it is prometheus-alertmanager (Debian) or alertmanager on $PATH.
const BinaryEnv = "LIGHTKEEPER_ALERTMANAGER"

// startTimeout bounds how long Start waits for Alertmanager to answer.
const startTimeout = 30 * time.Second

// Binary returns the Alertmanager binary Start runs, "" if there is none.
func Binary() string {
	if b := os.Getenv(BinaryEnv); b != "" {
		return b
	}
	for _, name := range []string{"prometheus-alertmanager", "alertmanager"} {
		if b, err := exec.LookPath(name); err == nil {
			return b
		}
	}
	return ""
}

// Alertmanager is a running Alertmanager process.
type Alertmanager struct {
	// URL is its base URL, http://127.0.0.1:PORT.
	URL string
	// Version is the first line of its --version.
	Version string
	dir     string
}

// config routes every alert to a receiver that sends nothing; the alerts
// are read back through the API.
const config = `route:
  receiver: blackhole
  group_wait: 1s
  group_interval: 1s
receivers:
  - name: blackhole
`

// Start runs Alertmanager until the test ends. Without a binary the test
// is skipped, naming the package to install.
func Start(t testing.TB) *Alertmanager {
	t.Helper()
	bin := Binary()
	if bin == "" {
		t.Skipf("no Alertmanager binary: install Debian's prometheus-alertmanager package (apt-get install prometheus-alertmanager; .ci/run does) or set $%s", BinaryEnv)
	}
	out, err := exec.Command(bin, "--version").CombinedOutput()
	if err != nil {
		t.Fatalf("amtest: %s --version: %v\n%s", bin, err, out)
	}
	dir := t.TempDir()
	cfg := filepath.Join(dir, "alertmanager.yml")
	if err := os.WriteFile(cfg, []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	addr := freeport.Addr(t)
	am := &Alertmanager{URL: "http://" + addr, Version: strings.TrimSpace(strings.SplitN(string(out), "\n", 2)[0]), dir: dir}
	logFile, err := os.Create(filepath.Join(dir, "alertmanager.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--config.file="+cfg, "--storage.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr, "--cluster.listen-address=", "--log.level=warn")
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		t.Fatalf("amtest: start %s: %v", bin, err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		logFile.Close()
		close(done)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-done
	})
	deadline := time.Now().Add(startTimeout)
	for {
		resp, err := http.Get(am.URL + "/-/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return am
			}
		}
		select {
		case <-done:
			b, _ := os.ReadFile(filepath.Join(dir, "alertmanager.log"))
			t.Fatalf("amtest: %s exited while starting:\n%s", bin, b)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("amtest: %s was not ready after %v: %v", bin, startTimeout, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Alert is an alert as GET /api/v2/alerts returns it (gettableAlert).
type Alert struct {
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     time.Time         `json:"startsAt"`
	EndsAt       time.Time         `json:"endsAt"`
	UpdatedAt    time.Time         `json:"updatedAt"`
	GeneratorURL string            `json:"generatorURL"`
	Fingerprint  string            `json:"fingerprint"`
	Status       struct {
		State string `json:"state"` // active, suppressed, unprocessed
	} `json:"status"`
}

// Alerts returns the alerts Alertmanager holds now (resolved ones are
// not listed).
func (am *Alertmanager) Alerts(ctx context.Context) ([]Alert, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, am.URL+"/api/v2/alerts", nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET /api/v2/alerts: HTTP %d", resp.StatusCode)
	}
	var alerts []Alert
	if err := json.NewDecoder(resp.Body).Decode(&alerts); err != nil {
		return nil, fmt.Errorf("GET /api/v2/alerts: %w", err)
	}
	return alerts, nil
}

// Find returns the alerts whose labels include every label of match.
func Find(alerts []Alert, match map[string]string) []Alert {
	var out []Alert
next:
	for _, a := range alerts {
		for k, v := range match {
			if a.Labels[k] != v {
				continue next
			}
		}
		out = append(out, a)
	}
	return out
}
