package main

import (
	"path/filepath"
	"regexp"
	"testing"

	"github.com/lightkeeper/lightkeeper/internal/etcdtest"
)

// TestHAExamplesCheck runs `daemon --check` on the three host configs of
// examples/ha, with ${CREDENTIALS_DIRECTORY} holding real PEM files (the
// check loads the etcd TLS files), and checks that they differ only in the
// host's own lines.
func TestHAExamplesCheck(t *testing.T) {
	tf, err := etcdtest.WriteTLSFiles(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	credentialsDir(t, tf.Dir)
	etc := t.TempDir()
	vars := map[string]string{"CREDENTIALS_DIRECTORY": tf.Dir, "STATE_DIRECTORY": filepath.Join(etc, "state")}
	host := regexp.MustCompile(`lk-[abc]|10\.0\.0\.[123]`)
	var first string
	for _, name := range []string{"lk-a", "lk-b", "lk-c"} {
		file := copyConfig(t, "../../examples/ha/"+name+".yaml", etc)
		code, out, errOut := runCmdEnv(t, vars, "daemon", "--config", file, "--check")
		if code != exitOK || out != file+": ok\n" || errOut != "" {
			t.Errorf("--check of %s: exit %d, stdout %q, stderr %q", file, code, out, errOut)
		}
		generic := host.ReplaceAllString(mustRead(t, file), "HOST")
		if first == "" {
			first = generic
		} else if generic != first {
			t.Errorf("%s differs from lk-a.yaml in more than the host's id, listen and advertiseURL", file)
		}
	}
}
