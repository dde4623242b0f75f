package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/lightkeeper/lightkeeper/internal/escape"
	"github.com/lightkeeper/lightkeeper/spec"
)

func init() {
	register(command{name: "validate", summary: "check fleet specs offline and list every problem", run: runValidate})
}

const validateHelp = `Checks the fleet specs in each PATH (a directory, walked for *.yaml and *.yml;
a file; or - for standard input; default ".") against the fleet schema and the
repository rules: unique names, known regions and zones inside them, tag and
name limits, instance names that no two fleets of a region can share, and the
total count. Nothing is sent to the cloud. Every problem is listed, one a line:

  fleets/web.yaml:7:10: fleet "web": spec.count: must be >= 0

PATH should be the directory of the fleet specs: every YAML file under it is
read as fleets, and a document that is something else (a CI workflow, a
Kubernetes manifest) is reported. --exclude leaves files and directories out,
matched against the path relative to the directory walked: "ci/**",
"**/testdata", "*.compose.yaml".

Walking skips names that start with "." and refuses symbolic links (to files
or directories) that lead outside the directory; a file named on the command
line is read whatever its name and wherever it leads.

With --output json, stdout is one JSON object:
  {"valid": bool, "fleets": [{"name","file","line","region","count"}],
   "errors": [{"file","line","column","fleet","field","message"}]}

Exit codes: 0 all specs valid, 1 problems found (or unreadable input),
64 bad flags or arguments.

Examples:
  lightkeeper validate fleets/
  lightkeeper validate --output json fleets/ | jq '.errors[].message'
  lightkeeper validate - < web.yaml
  lightkeeper validate --exclude 'ci/**' --exclude '**/testdata' .`

// validateReport is the --output json document.
type validateReport struct {
	Valid  bool             `json:"valid"`
	Fleets []validatedFleet `json:"fleets"`
	Errors []*spec.Error    `json:"errors"`
}

type validatedFleet struct {
	Name   string `json:"name"`
	File   string `json:"file"`
	Line   int    `json:"line"`
	Region string `json:"region"`
	Count  int    `json:"count"`
}

func runValidate(_ context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "validate", "validate [--output text|json] [--max-total-count N] [--exclude GLOB]... [--region-allow REGION]... [PATH...]", validateHelp)
	output := fs.String("output", "text", "output format: text or json")
	maxTotal := fs.Int("max-total-count", spec.DefaultMaxTotalCount, "largest sum of count over all fleets; -1 for no limit")
	var regions listFlag
	fs.Var(&regions, "region-allow", "accept `REGION` besides the Lighthouse regions this build knows (repeatable, or comma-separated)")
	var exclude repeatedFlag
	fs.Var(&exclude, "exclude", "leave out files and directories matching `GLOB`, relative to each directory walked; ** matches any number of directories (repeatable)")
	paths, err := fs.parse(args)
	if err != nil {
		return err
	}
	if *output != "text" && *output != "json" {
		return usageError("--output must be text or json, not %q", *output)
	}
	if *maxTotal == 0 || *maxTotal < -1 {
		return usageError("--max-total-count must be positive or -1, not %d", *maxTotal)
	}
	fleets, err := loadFleets(e, paths, exclude, spec.Options{MaxTotalCount: *maxTotal, ExtraRegions: regions})
	errs, isSpec := specErrors(err)
	if err != nil && !isSpec {
		return err
	}

	if *output == "json" {
		rep := validateReport{Valid: err == nil, Fleets: []validatedFleet{}, Errors: []*spec.Error(errs)}
		if rep.Errors == nil {
			rep.Errors = []*spec.Error{}
		}
		for _, f := range fleets {
			rep.Fleets = append(rep.Fleets, validatedFleet{f.Name(), f.Source.File, f.Source.Line, f.Spec.Region, f.Spec.Count})
		}
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false) // "<stdin>", not "\u003cstdin\u003e"
		if err := enc.Encode(rep); err != nil {
			return fmt.Errorf("write report: %w", err)
		}
	} else {
		for _, pe := range errs {
			fmt.Fprintln(e.stdout, escape.Text(pe.Error()))
		}
		if err == nil {
			total := 0
			for _, f := range fleets {
				total += f.Spec.Count
			}
			fmt.Fprintf(e.stdout, "%s valid (%s in all)\n", plural(len(fleets), "fleet"), plural(total, "instance"))
		}
	}
	if err != nil {
		if *output == "text" {
			fmt.Fprintf(e.stderr, "lightkeeper validate: %s found\n", plural(errs.Count(), "problem"))
		}
		return &exitCodeError{code: exitError}
	}
	return nil
}

// listFlag is a repeatable flag whose values may also be comma-separated.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }

func (l *listFlag) Set(v string) error {
	for _, part := range strings.Split(v, ",") {
		if part = strings.TrimSpace(part); part != "" {
			*l = append(*l, part)
		}
	}
	return nil
}

// repeatedFlag is a repeatable flag that keeps each value whole.
type repeatedFlag []string

func (r *repeatedFlag) String() string { return strings.Join(*r, " ") }

func (r *repeatedFlag) Set(v string) error {
	*r = append(*r, v)
	return nil
}

// plural renders "1 fleet" or "2 fleets".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
