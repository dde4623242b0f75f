//go:build unix

package spec

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// A FIFO, a device or a link to one is refused without being read: a FIFO
// would block the run until something writes to it, /dev/zero would never
// end. Each answer comes at once (a read would block this test).
func TestReadPasswordFileRefusesSpecialFiles(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	zero := filepath.Join(dir, "zero")
	if err := os.Symlink("/dev/zero", zero); err != nil {
		t.Fatal(err)
	}
	toFIFO := filepath.Join(dir, "to-fifo")
	if err := os.Symlink(fifo, toFIFO); err != nil {
		t.Fatal(err)
	}
	for path, kind := range map[string]string{fifo: "a named pipe", toFIFO: "a named pipe", "/dev/zero": "a device", zero: "a device", "/dev/null": "a device"} {
		_, err := ReadPasswordFile(context.Background(), path)
		if err == nil || !strings.Contains(err.Error(), "is "+kind+", not a regular file") || !strings.Contains(err.Error(), "spec.login.passwordFrom.file") {
			t.Errorf("%s: %v", path, err)
		}
		if _, err := (&PasswordFrom{File: path}).Resolve(context.Background(), os.Getenv); err == nil || !strings.Contains(err.Error(), "not a regular file") {
			t.Errorf("Resolve %s: %v", path, err)
		}
	}
}
