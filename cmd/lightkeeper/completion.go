package main

import (
	"context"
	"fmt"
	"io"
	"strings"
)

func init() {
	register(command{name: "completion", summary: "print a shell completion script (bash, zsh or fish)", run: runCompletion})
}

const completionHelp = `Prints a script that completes lightkeeper's commands, flags and the values
the usage lines list (--output text|json), and file names where a command or
flag takes a path. It is made from the same flags and help as --help.

The packages install the scripts where each shell looks:
  bash  /usr/share/bash-completion/completions/lightkeeper
  zsh   /usr/share/zsh/vendor-completions/_lightkeeper
  fish  /usr/share/fish/vendor_completions.d/lightkeeper.fish

Exit codes: 0 printed, 64 bad flags or arguments (no shell, or another one).

Examples:
  source <(lightkeeper completion bash)                # this bash session
  lightkeeper completion zsh > "${fpath[1]}/_lightkeeper"
  lightkeeper completion fish > ~/.config/fish/completions/lightkeeper.fish`

// completionShells maps each shell to the writer of its script.
var completionShells = map[string]func(io.Writer, []commandDoc){
	"bash": writeBashCompletion,
	"zsh":  writeZshCompletion,
	"fish": writeFishCompletion,
}

func runCompletion(_ context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "completion", "completion bash|zsh|fish", completionHelp)
	rest, err := fs.parse(args)
	if err != nil {
		return err
	}
	if len(rest) != 1 {
		return usageError("completion takes one argument, the shell: bash, zsh or fish")
	}
	write, ok := completionShells[rest[0]]
	if !ok {
		return usageError("completion: unknown shell %q; want bash, zsh or fish", rest[0])
	}
	docs, err := commandDocs()
	if err != nil {
		return err
	}
	write(e.stdout, docs)
	return nil
}

// valueFlags returns the flags of c that take a value, the optional ones
// left out (their value goes after "=", in the same word).
func valueFlags(c commandDoc) (names []string) {
	for _, f := range c.flags {
		if f.arg != "" && !f.optional {
			names = append(names, "--"+f.name)
		}
	}
	return names
}

func writeBashCompletion(w io.Writer, docs []commandDoc) {
	var b strings.Builder
	b.WriteString(`# bash completion for lightkeeper; made by 'lightkeeper completion bash'.
_lightkeeper() {
	local cur=${COMP_WORDS[COMP_CWORD]} prev="" cmd="" i
	[ "$COMP_CWORD" -gt 0 ] && prev=${COMP_WORDS[COMP_CWORD-1]}
	# --flag=value: bash splits it at "=" (COMP_WORDBREAKS).
	if [ "$prev" = "=" ] && [ "$COMP_CWORD" -gt 1 ]; then
		prev=${COMP_WORDS[COMP_CWORD-2]}
	elif [ "$cur" = "=" ]; then
		cur=""
	fi
	for ((i = 1; i < COMP_CWORD; i++)); do
		case ${COMP_WORDS[i]} in
		-*) ;;
		*) cmd=${COMP_WORDS[i]}; break ;;
		esac
	done
	COMPREPLY=()
	if [ -z "$cmd" ]; then
`)
	names := make([]string, 0, len(docs))
	for _, c := range docs {
		names = append(names, c.name)
	}
	fmt.Fprintf(&b, "\t\tCOMPREPLY=($(compgen -W '%s help --help --version' -- \"$cur\"))\n\t\treturn\n\tfi\n", strings.Join(names, " "))
	b.WriteString("\tlocal flags=\"\" args=\"\" files=\"\"\n\tcase $cmd in\n")
	fmt.Fprintf(&b, "\thelp) args='%s' ;;\n", strings.Join(names, " "))
	for _, c := range docs {
		fmt.Fprintf(&b, "\t%s)\n", c.name)
		var flags []string
		for _, f := range c.flags {
			flags = append(flags, "--"+f.name)
		}
		fmt.Fprintf(&b, "\t\tflags='%s --help'\n", strings.Join(flags, " "))
		if len(c.args) > 0 {
			fmt.Fprintf(&b, "\t\targs='%s'\n", strings.Join(c.args, " "))
		}
		if c.files {
			b.WriteString("\t\tfiles=1\n")
		}
		// The value of the flag just typed.
		if vf := valueFlags(c); len(vf) > 0 {
			b.WriteString("\t\tcase $prev in\n")
			for _, f := range c.flags {
				if f.arg == "" || f.optional {
					continue
				}
				switch {
				case len(f.values) > 0:
					fmt.Fprintf(&b, "\t\t--%s) COMPREPLY=($(compgen -W '%s' -- \"$cur\")); return ;;\n", f.name, strings.Join(f.values, " "))
				case f.dirs:
					fmt.Fprintf(&b, "\t\t--%s) compopt -o filenames 2>/dev/null; COMPREPLY=($(compgen -d -- \"$cur\")); return ;;\n", f.name)
				case f.files:
					fmt.Fprintf(&b, "\t\t--%s) compopt -o filenames 2>/dev/null; COMPREPLY=($(compgen -f -- \"$cur\")); return ;;\n", f.name)
				}
			}
			fmt.Fprintf(&b, "\t\t%s) return ;;\n", strings.Join(vf, "|"))
			b.WriteString("\t\tesac\n")
		}
		b.WriteString("\t\t;;\n")
	}
	b.WriteString(`	*) return ;;
	esac
	if [[ $cur == -* ]]; then
		COMPREPLY=($(compgen -W "$flags" -- "$cur"))
	elif [ -n "$args" ]; then
		COMPREPLY=($(compgen -W "$args" -- "$cur"))
	elif [ -n "$files" ]; then
		compopt -o filenames 2>/dev/null
		COMPREPLY=($(compgen -f -- "$cur"))
	fi
}
complete -F _lightkeeper lightkeeper
`)
	io.WriteString(w, b.String())
}

// zshQuote quotes s for a single-quoted zsh word inside an _arguments spec,
// whose brackets and colons are special.
func zshQuote(s string) string {
	s = firstLine(s)
	r := strings.NewReplacer(`'`, `'\''`, `[`, `\[`, `]`, `\]`, `:`, `\:`, `\`, `\\`)
	return r.Replace(s)
}

// firstLine is the first line of a usage text, for completion menus.
func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return s
}

func writeZshCompletion(w io.Writer, docs []commandDoc) {
	var b strings.Builder
	b.WriteString(`#compdef lightkeeper
# zsh completion for lightkeeper; made by 'lightkeeper completion zsh'.

_lightkeeper() {
	local curcontext=$curcontext state line
	local -a commands
	commands=(
`)
	for _, c := range docs {
		fmt.Fprintf(&b, "\t\t'%s:%s'\n", c.name, zshQuote(c.summary))
	}
	b.WriteString(`	)
	_arguments -C \
		'(- :)--help[show the commands]' \
		'(- :)--version[print the version]' \
		'1: :->command' \
		'*:: :->args'
	case $state in
	command)
		_describe -t commands 'lightkeeper command' commands
		;;
	args)
		case $line[1] in
`)
	for _, c := range docs {
		fmt.Fprintf(&b, "\t\t%s)\n\t\t\t_arguments \\\n\t\t\t\t'(- *)--help[show the help]'", c.name)
		for _, f := range c.flags {
			spec := "--" + f.name
			if f.repeatable {
				spec = "*" + spec
			}
			desc := "[" + zshQuote(f.usage) + "]"
			switch {
			case f.arg == "":
				spec += desc
			case f.optional:
				spec += "=-" + desc + "::" + zshQuote(f.arg) + ": "
			default:
				action := " "
				switch {
				case len(f.values) > 0:
					action = "(" + strings.Join(f.values, " ") + ")"
				case f.dirs:
					action = "_files -/"
				case f.files:
					action = "_files"
				}
				spec += "=" + desc + ":" + zshQuote(f.arg) + ":" + action
			}
			fmt.Fprintf(&b, " \\\n\t\t\t\t'%s'", spec)
		}
		switch {
		case len(c.args) > 0:
			fmt.Fprintf(&b, " \\\n\t\t\t\t'1:argument:(%s)'", strings.Join(c.args, " "))
		case c.files:
			b.WriteString(" \\\n\t\t\t\t'*:path:_files'")
		}
		b.WriteString("\n\t\t\t;;\n")
	}
	b.WriteString(`		esac
		;;
	esac
}

if [ "$funcstack[1]" = "_lightkeeper" ]; then
	_lightkeeper "$@"
else
	compdef _lightkeeper lightkeeper
fi
`)
	io.WriteString(w, b.String())
}

// fishQuote quotes s as a single-quoted fish word.
func fishQuote(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(firstLine(s)) + "'"
}

func writeFishCompletion(w io.Writer, docs []commandDoc) {
	var b strings.Builder
	b.WriteString("# fish completion for lightkeeper; made by 'lightkeeper completion fish'.\n")
	b.WriteString("complete -c lightkeeper -f\n")
	b.WriteString("complete -c lightkeeper -n __fish_use_subcommand -l help -d 'show the commands'\n")
	b.WriteString("complete -c lightkeeper -n __fish_use_subcommand -l version -d 'print the version'\n")
	for _, c := range docs {
		fmt.Fprintf(&b, "complete -c lightkeeper -n __fish_use_subcommand -a %s -d %s\n", c.name, fishQuote(c.summary))
	}
	for _, c := range docs {
		cond := fishQuote("__fish_seen_subcommand_from " + c.name)
		fmt.Fprintf(&b, "complete -c lightkeeper -n %s -l help -d 'show the help'\n", cond)
		for _, f := range c.flags {
			fmt.Fprintf(&b, "complete -c lightkeeper -n %s -l %s", cond, f.name)
			switch {
			case f.arg == "" || f.optional:
			case len(f.values) > 0:
				fmt.Fprintf(&b, " -x -a %s", fishQuote(strings.Join(f.values, " ")))
			case f.dirs:
				b.WriteString(" -x -a '(__fish_complete_directories (commandline -ct))'")
			case f.files:
				b.WriteString(" -r -F")
			default:
				b.WriteString(" -x")
			}
			fmt.Fprintf(&b, " -d %s\n", fishQuote(f.usage))
		}
		switch {
		case len(c.args) > 0:
			fmt.Fprintf(&b, "complete -c lightkeeper -n %s -a %s\n", cond, fishQuote(strings.Join(c.args, " ")))
		case c.files:
			fmt.Fprintf(&b, "complete -c lightkeeper -n %s -F\n", cond)
		}
	}
	io.WriteString(w, b.String())
}
