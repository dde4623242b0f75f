//go:build unix

package docs_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// runnableFence opens a block that TestReadmeRunnable runs.
const runnableFence = "```sh runnable"

// The README's quick starts use these; the test gives each run its own.
const (
	readmeEmulatorAddr = "127.0.0.1:9100"
	readmeDaemonAddr   = "127.0.0.1:9180"
	readmeTmp          = "/tmp/"
)

// TestReadmeRunnable runs the README's blocks fenced as ```sh runnable, in
// order, in one shell, from the repository's root, with the lightkeeper
// built from this tree first on PATH: the main job against the in-process
// emulator, validate, and the local daemon against `lightkeeper emulator`.
// A line ending in "# exit N" must exit N; any other command must succeed.
// Each run gets its own /tmp (a temporary directory) and its own ports in
// place of 9100 and 9180 (in the blocks, and for scripts/daemon-demo.sh,
// the local daemon's one command, through LK_DEMO_API and LK_DEMO_LISTEN;
// it runs the lightkeeper built here, LIGHTKEEPER), so runs do not meet;
// every process the blocks start in the background is killed at the end.
//
// scripts/demo.sh, the README's one-command main job, is run by
// cmd/lightkeeper's TestDemoScript.
func TestReadmeRunnable(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the README's quick starts as processes; run without -short")
	}
	for _, tool := range []string{"sh", "git", "curl", "grep", "sed"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("the README's quick starts use %s, which is not on PATH: install it", tool)
		}
	}
	readme, err := readMD("README.md")
	if err != nil {
		t.Fatal(err)
	}
	script, n := runnableScript(readme)
	if n < 3 {
		t.Fatalf("README.md has %d blocks fenced as %q; the main job, validate and the local daemon should be", n, runnableFence)
	}
	tmp := t.TempDir()
	bin := filepath.Join(tmp, "bin")
	if err := os.Mkdir(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(lightkeeper(t), filepath.Join(bin, "lightkeeper")); err != nil {
		t.Fatal(err)
	}
	work := filepath.Join(tmp, "tmp")
	if err := os.Mkdir(work, 0o755); err != nil {
		t.Fatal(err)
	}
	emulatorAddr, daemonAddr := freeAddr(t), freeAddr(t)
	script = strings.NewReplacer(
		readmeEmulatorAddr, emulatorAddr,
		readmeDaemonAddr, daemonAddr,
		readmeTmp, work+"/",
	).Replace(script)
	file := filepath.Join(tmp, "readme.sh")
	if err := os.WriteFile(file, []byte(script), 0o644); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "sh", file)
	cmd.Dir = root
	cmd.Env = append(readmeEnv(bin, tmp), "LK_DEMO_API="+emulatorAddr, "LK_DEMO_LISTEN="+daemonAddr,
		"LK_DEMO_DIR="+filepath.Join(work, "lk-daemon-demo"), "LIGHTKEEPER="+filepath.Join(bin, "lightkeeper"))
	// Output to a file: a background process that outlives the shell would
	// hold a pipe open.
	outFile := filepath.Join(tmp, "output")
	out, err := os.Create(outFile)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	runErr := cmd.Run()
	if cmd.Process != nil {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // what the blocks left running
	}
	if runErr != nil {
		output, _ := os.ReadFile(outFile)
		logs := ""
		names, _ := filepath.Glob(filepath.Join(work, "*.log"))
		more, _ := filepath.Glob(filepath.Join(work, "*", "*.log")) // scripts/daemon-demo.sh's
		for _, name := range append(names, more...) {
			b, _ := os.ReadFile(name)
			logs += fmt.Sprintf("\n--- %s\n%s", filepath.Base(name), tail(string(b), 20))
		}
		if ctx.Err() != nil {
			runErr = fmt.Errorf("%w: still running after %v", runErr, 2*time.Minute)
		}
		t.Fatalf("the README's runnable blocks failed (%v); fix the README or the code it shows. Output:\n%s%s", runErr, tail(string(output), 60), logs)
	}
	if testing.Verbose() {
		output, _ := os.ReadFile(outFile)
		t.Logf("output:\n%s", output)
	}
}

var (
	exitNoteRE = regexp.MustCompile(`\s+#\s*exit (\d+)\b.*$`)
	heredocRE  = regexp.MustCompile(`<<-?\s*['"]?(\w+)['"]?`)
)

// runnableScript turns the runnable blocks of f into one sh script: each
// command is preceded by the README line it comes from, a command noted
// "# exit N" is checked for that status, and set -e stops at any other
// failure, naming the line.
func runnableScript(f *mdFile) (string, int) {
	var b strings.Builder
	b.WriteString("set -e\nlk_line=0\n")
	b.WriteString(`trap 'lk_rc=$?; [ "$lk_rc" -eq 0 ] || echo "` + f.name + `:$lk_line: exited $lk_rc" >&2' EXIT` + "\n")
	blocks := 0
	in := false
	heredoc := ""
	cont := false
	for i, l := range f.lines {
		n := i + 1
		switch {
		case !in && strings.TrimSpace(l) == runnableFence:
			in, blocks = true, blocks+1
			continue
		case in && strings.TrimSpace(l) == "```":
			in = false
			continue
		case !in:
			continue
		}
		switch {
		case heredoc != "":
			b.WriteString(l + "\n")
			if strings.TrimSpace(l) == heredoc {
				heredoc = ""
			}
			continue
		case cont:
			b.WriteString(l + "\n")
			cont = strings.HasSuffix(l, `\`)
			continue
		case strings.TrimSpace(l) == "" || strings.HasPrefix(strings.TrimSpace(l), "#"):
			continue
		}
		if m := heredocRE.FindStringSubmatch(l); m != nil {
			heredoc = m[1]
		}
		cont = strings.HasSuffix(l, `\`)
		if m := exitNoteRE.FindStringSubmatch(l); m != nil && heredoc == "" && !cont {
			cmd := l[:len(l)-len(m[0])]
			fmt.Fprintf(&b, "lk_line=%d; lk_rc=0; { %s; } || lk_rc=$?\n", n, cmd)
			fmt.Fprintf(&b, "if [ \"$lk_rc\" -ne %s ]; then echo \"%s:%d: exited $lk_rc; the README says exit %s\" >&2; trap - EXIT; exit 1; fi\n",
				m[1], f.name, n, m[1])
			continue
		}
		fmt.Fprintf(&b, "lk_line=%d\n%s\n", n, l)
	}
	return b.String(), blocks
}

// readmeEnv is the environment of the README's blocks: this process's
// without what would change their meaning (credentials, lightkeeper's own
// variables, the user's git configuration), HOME in the test's directory, a
// fixed git identity, and bin first on PATH.
func readmeEnv(bin, home string) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch {
		case strings.HasPrefix(k, "TENCENTCLOUD_"), strings.HasPrefix(k, "LIGHTKEEPER"), strings.HasPrefix(k, "LK_DEMO_"), strings.HasPrefix(k, "GIT_"),
			k == "CREDENTIALS_DIRECTORY", k == "STATE_DIRECTORY", k == "HOME", k == "PATH", k == "TMPDIR", k == "BATCH_PASSWORD":
			continue
		}
		env = append(env, kv)
	}
	return append(env,
		"PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"),
		"HOME="+home, "TMPDIR="+home, "NO_COLOR=1",
		"GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null",
		"GIT_AUTHOR_NAME=README", "GIT_AUTHOR_EMAIL=readme@example.com",
		"GIT_COMMITTER_NAME=README", "GIT_COMMITTER_EMAIL=readme@example.com",
	)
}

// freeAddr returns a loopback address with a port free right now.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return "127.0.0.1:" + strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
}

// tail returns the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = append([]string{"…"}, lines[len(lines)-n:]...)
	}
	return strings.Join(lines, "\n")
}

// TestRunnableScript checks the translation of runnable blocks on a
// made-up README: exit notes, heredocs, continued lines, and the line a
// failure names.
func TestRunnableScript(t *testing.T) {
	const readme = "# x\n\n```sh\nfalse\n```\n\n" + runnableFence + "\n" +
		"cat >out <<'EOF'\nexit 5 # exit 5 is text here\nEOF\n" +
		"printf '%%s\\n' a \\\n  b >lines\n" +
		"sh -c 'exit 3'   # exit 3: what it means\n" +
		"grep -q 'exit 5' out && grep -qx b lines\n" +
		"```\n\n" + runnableFence + "\n%s\n```\n"
	for _, tc := range []struct {
		last, want string // the second block's command; "" want: success
	}{
		{"true", ""},
		{"false # exit 1", ""},
		{"true # exit 2", "README.md:18: exited 0; the README says exit 2"},
		{"false", "README.md:18: exited 1"},
	} {
		f := &mdFile{name: "README.md"}
		for _, l := range strings.Split(fmt.Sprintf(readme, tc.last), "\n") {
			f.lines = append(f.lines, l)
			f.code = append(f.code, false) // runnableScript finds fences itself
		}
		script, n := runnableScript(f)
		if n != 2 {
			t.Fatalf("%d runnable blocks, want 2:\n%s", n, script)
		}
		cmd := exec.Command("sh", "-c", script)
		cmd.Dir = t.TempDir()
		out, err := cmd.CombinedOutput()
		got := strings.TrimSpace(string(out))
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%q: %v\n%s\nscript:\n%s", tc.last, err, out, script)
		case tc.want != "" && (err == nil || got != tc.want):
			t.Errorf("%q: %v, output %q; want a failure saying %q", tc.last, err, got, tc.want)
		}
	}
}
