package daemon

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseByteSize(t *testing.T) {
	for in, want := range map[string]ByteSize{
		"24MiB": 24 << 20, "1GiB": 1 << 30, "512KiB": 512 << 10, "1048576": 1 << 20, "100B": 100, "2TiB": 2 << 40, "off": NoMemoryLimit, "9999999TiB": NoMemoryLimit, "99999999999999999999": NoMemoryLimit,
	} {
		got, err := ParseByteSize(in)
		if err != nil || got != want {
			t.Errorf("ParseByteSize(%q) = %d, %v; want %d", in, got, err, want)
		}
		if back, err := ParseByteSize(got.String()); err != nil || back != got {
			t.Errorf("ParseByteSize(%q.String() = %q) = %d, %v", in, got.String(), back, err)
		}
	}
	for _, in := range []string{"", "0", "-1MiB", "24MB", "24 MiB", "1.5GiB", "+5MiB", "MiB", "Off"} {
		if got, err := ParseByteSize(in); err == nil {
			t.Errorf("ParseByteSize(%q) = %d, want an error", in, got)
		}
	}
}

func TestConfigMemoryLimit(t *testing.T) {
	dir := t.TempDir()
	for body, want := range map[string]ByteSize{
		"":                        DefaultMemoryLimit,
		"memoryLimit: 64MiB\n":    64 << 20,
		"memoryLimit: off\n":      NoMemoryLimit,
		"memoryLimit: 33554432\n": 32 << 20,
	} {
		file := filepath.Join(dir, "c.yaml")
		if err := os.WriteFile(file, []byte("repository: {url: /srv/git/fleets}\nstateDirectory: /var/lib/lk\n"+body), 0o600); err != nil {
			t.Fatal(err)
		}
		cfg, err := LoadConfig(file, func(string) string { return "" })
		if err != nil {
			t.Fatalf("%q: %v", body, err)
		}
		if got := cfg.MemoryLimit(); got != want {
			t.Errorf("%q: MemoryLimit() = %v, want %v", body, got, want)
		}
	}
	for _, body := range []string{"memoryLimit: 0\n", "memoryLimit: \"0\"\n", "memoryLimit: 0MiB\n", "memoryLimit: -5\n", "memoryLimit: 1.5GiB\n"} {
		file := filepath.Join(dir, "c.yaml")
		if err := os.WriteFile(file, []byte("repository: {url: /srv/git/fleets}\nstateDirectory: /var/lib/lk\n"+body), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := LoadConfig(file, func(string) string { return "" })
		if err == nil || !strings.Contains(err.Error(), "c.yaml:3:") || !strings.Contains(err.Error(), "memoryLimit") {
			t.Errorf("%q: got %v, want an error at c.yaml:3 naming memoryLimit", body, err)
		}
	}
}
