package main

import (
	"fmt"
	"io"
	"sync"

	"github.com/lightkeeper/lightkeeper/reconcile"
)

// terminalUI is what reconcile shows a person at a terminal: colour on
// stdout, and a progress line on stderr that log lines do not garble. On
// anything but a terminal it shows nothing extra.
type terminalUI struct {
	mu     sync.Mutex
	stderr io.Writer
	tty    bool   // stderr is a terminal: progress lines
	color  bool   // stdout is a terminal and NO_COLOR is unset
	label  string // what is in progress; "" when nothing is
	line   string // the progress line on screen, "" when none
}

func newTerminalUI(e *env) *terminalUI {
	return &terminalUI{
		stderr: e.stderr,
		tty:    isTerminal(e.stderr),
		color:  isTerminal(e.stdout) && e.getenv("NO_COLOR") == "" && e.getenv("TERM") != "dumb",
	}
}

// start begins a progress line headed label.
func (u *terminalUI) start(label string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.label = label
}

// stop clears the progress line.
func (u *terminalUI) stop() {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.clear()
	u.label = ""
}

// progress is reconcile.Options.Progress: created n/m, failed.
func (u *terminalUI) progress(p reconcile.Progress) {
	u.status(fmt.Sprintf("%d/%d done, %d failed", p.Done, p.Total, p.Failed))
}

// status shows s on the progress line.
func (u *terminalUI) status(s string) {
	if !u.tty {
		return
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	u.clear()
	u.line = u.label + ": " + s
	io.WriteString(u.stderr, u.line)
}

// clear removes the progress line from the screen. u.mu held.
func (u *terminalUI) clear() {
	if u.line != "" {
		io.WriteString(u.stderr, "\r\x1b[K")
		u.line = ""
	}
}

// logWriter is stderr for the logger: a log line clears the progress line
// first and puts it back after.
func (u *terminalUI) logWriter() io.Writer {
	if !u.tty {
		return u.stderr
	}
	return uiLogWriter{u}
}

type uiLogWriter struct{ u *terminalUI }

func (w uiLogWriter) Write(b []byte) (int, error) {
	u := w.u
	u.mu.Lock()
	defer u.mu.Unlock()
	line := u.line
	u.clear()
	n, err := u.stderr.Write(b)
	if line != "" {
		u.line = line
		io.WriteString(u.stderr, line)
	}
	return n, err
}
