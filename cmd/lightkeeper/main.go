// Command lightkeeper keeps fleets of Tencent Cloud Lighthouse servers at the
// size a git repository of YAML fleet specs declares.
//
// main.go holds only the dispatch: each subcommand lives in its own file and
// registers itself with register, so --help lists exactly what is built in.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"sort"
	"strings"
	"syscall"

	"github.com/lightkeeper/lightkeeper/daemon"
)

// Exit codes shared by every subcommand. Subcommands with richer outcomes
// (reconcile --plan) document their own codes in their --help.
const (
	exitOK    = 0
	exitError = 1
	exitUsage = 64 // EX_USAGE from sysexits.h: bad flags or arguments
)

// env is what a subcommand may touch of the outside world. Tests build one
// with buffers and a fake environment instead of the process's own.
type env struct {
	stdin  io.Reader // nil reads as empty
	stdout io.Writer
	stderr io.Writer
	getenv func(string) string
	// describe, when set, gets the flags of the subcommand run, which then
	// stops in parse as after --help, having done nothing (commandDocs).
	describe func(*flagSet)
	// setMemoryLimit is runtime/debug.SetMemoryLimit in the process that
	// main runs; nil (tests running commands in their own process)
	// applies no limit (daemon_memory.go).
	setMemoryLimit func(int64) int64
	// collector paces the runtime's garbage collector around the daemon's
	// cycles in the process that main runs; nil (tests running commands
	// in their own process) leaves it alone (daemon_memory.go).
	collector daemon.Collector
}

// command is one subcommand of lightkeeper.
type command struct {
	name    string
	summary string // one line, shown in the top-level --help
	run     func(ctx context.Context, e *env, args []string) error
}

var commands = map[string]command{}

// register adds a subcommand; each subcommand file calls it from init.
func register(c command) {
	if _, dup := commands[c.name]; dup {
		panic("lightkeeper: duplicate command " + c.name)
	}
	commands[c.name] = c
}

// exitCodeError makes a subcommand exit with a specific code. A nil err
// exits silently with that code (for example "invalid specs, already listed").
type exitCodeError struct {
	code int
	err  error
}

func (e *exitCodeError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit status %d", e.code)
	}
	return e.err.Error()
}

func (e *exitCodeError) Unwrap() error { return e.err }

// usageError reports bad flags or arguments; it exits with exitUsage.
func usageError(format string, args ...any) error {
	return &exitCodeError{code: exitUsage, err: fmt.Errorf(format, args...)}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		stop() // a second SIGINT or SIGTERM ends the process at once
	}()
	code := run(ctx, os.Args[1:], &env{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv, setMemoryLimit: debug.SetMemoryLimit,
		collector: &collector{setGCPercent: debug.SetGCPercent, setMemoryLimit: debug.SetMemoryLimit, gc: runtime.GC}})
	stop()
	os.Exit(code)
}

// run dispatches args to a subcommand and maps its error to an exit code.
func run(ctx context.Context, args []string, e *env) int {
	if args0 := firstArg(args); args0 == "--version" || args0 == "-version" {
		args = append([]string{"version"}, args[1:]...)
	}
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		if len(args) > 1 && args[0] == "help" {
			return run(ctx, []string{args[1], "--help"}, e)
		}
		if len(args) == 0 {
			usage(e.stderr)
			return exitUsage
		}
		usage(e.stdout)
		return exitOK
	}
	c, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(e.stderr, "lightkeeper: unknown command %q; run 'lightkeeper --help' for the list\n", args[0])
		return exitUsage
	}
	err := c.run(ctx, e, args[1:])
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	var ec *exitCodeError
	if errors.As(err, &ec) {
		if ec.err != nil {
			fmt.Fprintf(e.stderr, "lightkeeper %s: %v\n", c.name, ec.err)
		}
		return ec.code
	}
	fmt.Fprintf(e.stderr, "lightkeeper %s: %v\n", c.name, err)
	return exitError
}

func firstArg(args []string) string {
	if len(args) == 0 {
		return ""
	}
	return args[0]
}

// What lightkeeper is and its shared exit codes, in the top-level help and
// the man page.
const (
	tagline       = "keeps Tencent Cloud Lighthouse fleets at the size a git repository declares."
	exitCodesLine = "Exit codes: 0 success, 1 error, 64 bad flags or arguments; some commands add their own."
)

func usage(w io.Writer) {
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	b.WriteString("lightkeeper " + tagline + "\n\n")
	b.WriteString("Usage:\n  lightkeeper <command> [flags] [args]\n\nCommands:\n")
	for _, n := range names {
		fmt.Fprintf(&b, "  %-11s %s\n", n, commands[n].summary)
	}
	b.WriteString("\nRun 'lightkeeper <command> --help' for a command's flags and exit codes;\n'lightkeeper --version' is 'lightkeeper version'.\n")
	b.WriteString("\n" + exitCodesLine + "\n")
	io.WriteString(w, b.String())
}

// flagSet is a subcommand's flags, with the help text and the streams it
// prints to. The help, the man page and the shell completions are all made
// from it (commandDocs), so they say the same.
type flagSet struct {
	*flag.FlagSet
	e        *env
	name     string // the subcommand
	synopsis string // the usage line, after "lightkeeper "
	extra    string // the help text after the flags
}

// newFlagSet returns a flagSet that reports errors instead of exiting and
// prints help made of the synopsis, the flags and the extra text.
func newFlagSet(e *env, name, synopsis, extra string) *flagSet {
	fs := flag.NewFlagSet("lightkeeper "+name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	// A flag error prints the problem (the flag package does), then only
	// the usage line and where the help is: the whole help would bury the
	// problem.
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: lightkeeper %s\nRun 'lightkeeper %s --help' for the flags and examples.\n", synopsis, name)
	}
	return &flagSet{FlagSet: fs, e: e, name: name, synopsis: synopsis, extra: extra}
}

// help prints the whole help, for -h and --help: the usage line, the flags
// spelled --name as the usage lines and docs write them, and the text.
func (fs *flagSet) help() {
	w := fs.Output()
	fmt.Fprintf(w, "Usage:\n  lightkeeper %s\n\n", fs.synopsis)
	if docs := fs.flagDocs(); len(docs) > 0 {
		fmt.Fprintln(w, "Flags:")
		for _, f := range docs {
			fmt.Fprintf(w, "  %s\n    \t%s\n", f.spelling(), strings.ReplaceAll(f.usageWithDefault(), "\n", "\n    \t"))
		}
		fmt.Fprintln(w)
	}
	if extra := strings.TrimSpace(fs.extra); extra != "" {
		fmt.Fprintf(w, "%s\n", extra)
	}
}

// parse parses args and returns the positional arguments. Flags may come
// before, between or after them (`validate fleets/ --output json`);
// everything after "--" is positional. Help asked for with -h or --help
// goes to stdout (so it pages and greps) and returns flag.ErrHelp; a flag
// error prints the problem, the usage line and a pointer to --help to
// stderr and becomes a usage error.
func (fs *flagSet) parse(args []string) ([]string, error) {
	if fs.e.describe != nil {
		fs.e.describe(fs)
		return nil, flag.ErrHelp
	}
	for _, a := range args {
		if a == "--" {
			break
		}
		if a == "-h" || a == "-help" || a == "--h" || a == "--help" {
			fs.SetOutput(fs.e.stdout)
			fs.help()
			return nil, flag.ErrHelp
		}
	}
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, &exitCodeError{code: exitUsage} // flag already printed the problem and usage
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return positional, nil
		}
		if consumed := len(args) - len(rest); consumed > 0 && args[consumed-1] == "--" {
			return append(positional, rest...), nil
		}
		positional = append(positional, rest[0])
		args = rest[1:]
	}
}
