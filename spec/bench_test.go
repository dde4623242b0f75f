package spec

import (
	"fmt"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/lightkeeper/lightkeeper/internal/fleetgen"
)

const benchDocs = 10000

// BenchmarkLoad10k validates 10,000 generated fleet documents per
// iteration, laid out as one file each and as 100 files of 100 documents,
// and reports documents per second.
func BenchmarkLoad10k(b *testing.B) {
	layouts := []struct {
		name    string
		perFile int
	}{{"files=10000", 1}, {"files=100", 100}}
	for _, l := range layouts {
		fsys := fstest.MapFS{}
		for f := 0; f < benchDocs/l.perFile; f++ {
			docs := make([]string, l.perFile)
			for d := range docs {
				docs[d] = fleetgen.Doc(f*l.perFile + d)
			}
			fsys[fmt.Sprintf("fleets/f%05d.yaml", f)] = &fstest.MapFile{Data: []byte(strings.Join(docs, "---\n"))}
		}
		b.Run(l.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				fleets, err := Load(fsys, Options{MaxTotalCount: -1})
				if err != nil || len(fleets) != benchDocs {
					b.Fatalf("%d fleets, %v", len(fleets), err)
				}
			}
			b.ReportMetric(float64(benchDocs*b.N)/b.Elapsed().Seconds(), "docs/s")
		})
	}
}

func TestGeneratedDocsValid(t *testing.T) {
	if fleets, err := Load(fleetgen.MapFS(30), Options{}); err != nil || len(fleets) != 30 {
		t.Fatalf("%d fleets, %v", len(fleets), err)
	}
}
