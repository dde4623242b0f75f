package main

import (
	"context"
	"fmt"

	"github.com/lightkeeper/lightkeeper/schema"
)

func init() {
	register(command{name: "schema", summary: "print the JSON Schema of fleet files (for editors)", run: runSchema})
}

const schemaHelp = `Prints the JSON Schema (draft 2020-12) that fleet files are checked against,
as built into this binary. Save it and point your editor at it, or keep the
modeline of the example fleets:

  # yaml-language-server: $schema=../schema/fleet.schema.json

Exit codes: 0 printed, 64 bad flags or arguments.

Example:
  lightkeeper schema > fleet.schema.json`

func runSchema(_ context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "schema", "schema", schemaHelp)
	rest, err := fs.parse(args)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return usageError("schema takes no arguments")
	}
	if _, err := e.stdout.Write(schema.JSON()); err != nil {
		return fmt.Errorf("write schema: %w", err)
	}
	return nil
}
