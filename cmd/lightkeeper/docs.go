package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"reflect"
	"regexp"
	"sort"
	"strings"
)

// docs.go turns what each subcommand declares (its flagSet: usage line,
// flags, help text) into data, so that --help, the man page (man.go) and
// the shell completions (completion.go) are made from one source.

// flagDoc is one flag as the help, the man page and the completions show it.
type flagDoc struct {
	name       string   // without dashes
	arg        string   // the value's placeholder ("FILE", "int"); "" for a switch
	optional   bool     // the value may be left out: --wait or --wait=5m
	usage      string   // the usage text, placeholder quotes removed
	def        string   // the default as --help prints it; "" for the zero value
	repeatable bool     // may be given more than once
	values     []string // the values it takes, where the usage line lists them (--output text|json)
	files      bool     // its value is a file or directory name
	dirs       bool     // ... and a directory
}

// spelling is the flag as the usage lines and docs write it: --plan,
// --config FILE, --wait[=DURATION].
func (f flagDoc) spelling() string {
	switch {
	case f.arg == "":
		return "--" + f.name
	case f.optional:
		return "--" + f.name + "[=" + f.arg + "]"
	default:
		return "--" + f.name + " " + f.arg
	}
}

// usageWithDefault is the usage text followed by the default, as the flag
// package prints it: (default "text"), (default 20).
func (f flagDoc) usageWithDefault() string {
	if f.def == "" {
		return f.usage
	}
	return f.usage + " (default " + f.def + ")"
}

// flagDocs describes the flags of fs, sorted by name.
func (fs *flagSet) flagDocs() []flagDoc {
	values := synopsisValues(fs.synopsis)
	var docs []flagDoc
	fs.VisitAll(func(f *flag.Flag) {
		arg, usage := flag.UnquoteUsage(f)
		d := flagDoc{name: f.Name, arg: arg, usage: usage, values: values["--"+f.Name]}
		if b, ok := f.Value.(interface{ IsBoolFlag() bool }); ok && b.IsBoolFlag() && arg != "" {
			d.optional = true // a switch that also takes a value: --wait or --wait=5m
		}
		if !isZeroDefault(f) {
			d.def = f.DefValue
			if g, ok := f.Value.(flag.Getter); ok {
				if _, isString := g.Get().(string); isString {
					d.def = fmt.Sprintf("%q", f.DefValue)
				}
			}
		}
		d.repeatable = strings.Contains(usage, "repeatable")
		switch strings.ToUpper(arg) {
		case "FILE", "PATH":
			d.files = true
		case "DIR":
			d.files, d.dirs = true, true
		}
		docs = append(docs, d)
	})
	return docs
}

// isZeroDefault reports whether f's default is its type's zero value, which
// the help leaves out, as the flag package does.
func isZeroDefault(f *flag.Flag) (zero bool) {
	t := reflect.TypeOf(f.Value)
	var z reflect.Value
	if t.Kind() == reflect.Pointer {
		z = reflect.New(t.Elem())
	} else {
		z = reflect.Zero(t)
	}
	defer func() {
		if recover() != nil {
			zero = true // a Value whose String needs its fields set: print no default, as the flag package
		}
	}()
	return f.DefValue == z.Interface().(flag.Value).String()
}

// synopsisAlternatives finds "--output text|json|markdown" and, for a
// positional argument, "completion bash|zsh|fish" in a usage line.
var synopsisAlternatives = regexp.MustCompile(`(--[a-z0-9-]+|^[a-z]+)[ =]([a-z0-9-]+(?:\|[a-z0-9-]+)+)\b`)

// synopsisValues maps each flag of a usage line that lists its values
// (--output text|json) to them; the key "" holds the values of the first
// positional argument (completion bash|zsh|fish).
func synopsisValues(synopsis string) map[string][]string {
	m := map[string][]string{}
	for _, sub := range synopsisAlternatives.FindAllStringSubmatch(synopsis, -1) {
		key := sub[1]
		if !strings.HasPrefix(key, "--") {
			key = ""
		}
		m[key] = strings.Split(sub[2], "|")
	}
	return m
}

// commandDoc is one subcommand as its --help describes it.
type commandDoc struct {
	name     string
	summary  string
	synopsis string
	help     string // the text after the flags
	flags    []flagDoc
	args     []string // the words its first positional argument is one of
	files    bool     // its positional arguments are paths
}

// commandDocs describes every registered subcommand, sorted by name, by
// running each with an env whose describe hook records its flagSet in parse,
// before the command does anything else. A command that returns without
// reaching parse is a bug, reported as an error.
func commandDocs() ([]commandDoc, error) {
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	docs := make([]commandDoc, 0, len(names))
	for _, n := range names {
		c := commands[n]
		var got *flagSet
		e := &env{stdout: io.Discard, stderr: io.Discard, getenv: func(string) string { return "" }, describe: func(fs *flagSet) { got = fs }}
		_ = c.run(context.Background(), e, nil)
		if got == nil {
			return nil, fmt.Errorf("command %s did not describe its flags: it must call newFlagSet and parse before doing anything", n)
		}
		d := commandDoc{name: n, summary: c.summary, synopsis: got.synopsis, help: strings.TrimSpace(got.extra), flags: got.flagDocs()}
		d.args = synopsisValues(got.synopsis)[""]
		d.files = strings.Contains(got.synopsis, "PATH") || strings.Contains(got.synopsis, "FILE...")
		docs = append(docs, d)
	}
	return docs, nil
}
