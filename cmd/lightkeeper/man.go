package main

import (
	"context"
	"fmt"
	"io"
	"runtime/debug"
	"strings"
)

func init() {
	register(command{name: "man", summary: "print the manual page lightkeeper(1), in roff", run: runMan})
}

const manHelp = `Prints the manual page lightkeeper(1) in roff: every command with its usage
line, flags and help, made from the same text as each command's --help. The
packages install it as /usr/share/man/man1/lightkeeper.1.gz.

Exit codes: 0 printed, 64 bad flags or arguments.

Examples:
  lightkeeper man | man -l -
  lightkeeper man | gzip -9 > /usr/local/share/man/man1/lightkeeper.1.gz`

func runMan(_ context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "man", "man", manHelp)
	rest, err := fs.parse(args)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return usageError("man takes no arguments")
	}
	docs, err := commandDocs()
	if err != nil {
		return err
	}
	v := version
	if v == "" {
		if bi, ok := debug.ReadBuildInfo(); ok {
			v = bi.Main.Version
		}
	}
	writeMan(e.stdout, strings.TrimPrefix(v, "v"), docs)
	return nil
}

// roffEscape makes s safe as text on a roff line: backslashes are printed,
// hyphens stay hyphen-minus (so --plan copies as typed), and a line that
// starts with a control character is not read as a request.
func roffEscape(s string) string {
	s = strings.NewReplacer(`\`, `\e`, `-`, `\-`).Replace(s)
	if strings.HasPrefix(s, ".") || strings.HasPrefix(s, "'") {
		s = `\&` + s
	}
	return s
}

// roffText writes a help text as roff: paragraphs (separated by blank
// lines) are filled, and indented lines (examples, tables, JSON shapes) are
// kept as they are, indented.
func roffText(b *strings.Builder, text string) {
	for i, para := range strings.Split(strings.TrimSpace(text), "\n\n") {
		if i > 0 {
			b.WriteString(".PP\n")
		}
		nofill := false
		for _, line := range strings.Split(para, "\n") {
			indented := strings.HasPrefix(line, " ") || strings.HasPrefix(line, "\t")
			if indented && !nofill {
				b.WriteString(".RS 4\n.nf\n")
			} else if !indented && nofill {
				b.WriteString(".fi\n.RE\n")
			}
			nofill = indented
			if indented {
				line = strings.TrimPrefix(strings.TrimPrefix(line, "  "), "\t")
			}
			b.WriteString(roffEscape(line) + "\n")
		}
		if nofill {
			b.WriteString(".fi\n.RE\n")
		}
	}
}

// writeMan writes lightkeeper(1): the synopsis, the commands and their
// flags and help, the exit codes and the files the packages install.
func writeMan(w io.Writer, version string, docs []commandDoc) {
	var b strings.Builder
	if version == "" {
		version = "(devel)"
	}
	fmt.Fprintf(&b, ".TH LIGHTKEEPER 1 \"\" \"lightkeeper %s\" \"User Commands\"\n", roffEscape(version))
	b.WriteString(".nh\n.ad l\n")
	b.WriteString(".SH NAME\nlightkeeper \\- " + roffEscape(strings.TrimSuffix(tagline, ".")) + "\n")
	b.WriteString(".SH SYNOPSIS\n.B lightkeeper\n.I command\n[\\fIflags\\fR] [\\fIargs\\fR]\n")
	b.WriteString(".SH DESCRIPTION\n")
	b.WriteString("A git repository holds YAML fleet specs; lightkeeper validates them against a\n" +
		"JSON Schema, lists the Lighthouse instances, plans the difference and creates\n" +
		"what is missing with deterministic client tokens, so that nothing is ever\n" +
		"bought twice. It runs as a command (validate, reconcile) or as a daemon that\n" +
		"follows the repository (the systemd unit lightkeeper.service).\n")
	b.WriteString(".PP\nEvery command takes \\fB\\-\\-help\\fR, which prints what this page says of it.\n")
	b.WriteString(".SH COMMANDS\n")
	for _, c := range docs {
		fmt.Fprintf(&b, ".SS \"%s\"\n", roffEscape(c.name))
		fmt.Fprintf(&b, "%s.\n", roffEscape(c.summary))
		fmt.Fprintf(&b, ".PP\n\\fBlightkeeper\\fR %s\n", roffEscape(c.synopsis))
		if len(c.flags) > 0 {
			b.WriteString(".PP\nFlags:\n")
			for _, f := range c.flags {
				fmt.Fprintf(&b, ".TP\n.B %s\n%s\n", roffEscape(f.spelling()), roffEscape(strings.ReplaceAll(f.usageWithDefault(), "\n", " ")))
			}
		}
		if c.help != "" {
			b.WriteString(".PP\n")
			roffText(&b, c.help)
		}
	}
	b.WriteString(".SH EXIT STATUS\n")
	roffText(&b, exitCodesLine+" Each command's section lists its own.")
	b.WriteString(".SH FILES\n")
	for _, f := range [][2]string{
		{"/etc/lightkeeper/config.yaml", "the daemon's configuration (an example is installed; the service is not enabled)"},
		{"/etc/lightkeeper/secret-id, /etc/lightkeeper/secret-key", "the API credentials, readable by root only, passed to the service with LoadCredential="},
		{"/usr/lib/systemd/system/lightkeeper.service", "the systemd unit: systemctl enable \\-\\-now lightkeeper"},
		{"/var/lib/lightkeeper", "the daemon's git cache and state (StateDirectory=)"},
	} {
		fmt.Fprintf(&b, ".TP\n.I %s\n%s\n", roffEscape(f[0]), f[1])
	}
	b.WriteString(".SH SEE ALSO\n.BR systemctl (1),\n.BR systemd.exec (5),\n.UR https://github.com/lightkeeper/lightkeeper\n.UE\n")
	io.WriteString(w, b.String())
}
