// Command fleetgen writes N generated fleet files to a directory, the input
// of the validation benchmark that docs/benchmarks.md compares with
// kubeconform:
//
//	go run ./internal/fleetgen/cmd/fleetgen -n 10000 -o /tmp/fleets
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/lightkeeper/lightkeeper/internal/fleetgen"
)

func main() {
	n := flag.Int("n", 10000, "number of fleet files")
	out := flag.String("o", "", "output directory (required)")
	flag.Parse()
	if *out == "" || *n < 0 {
		flag.Usage()
		os.Exit(64)
	}
	if err := fleetgen.WriteDir(*out, *n); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
