package spec

import (
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/lightkeeper/lightkeeper/internal/fleetgen"
)

// TestFillMatchesYAMLDecode checks the hand-written fill against decoding
// the same YAML by reflection through the struct tags.
func TestFillMatchesYAMLDecode(t *testing.T) {
	fsys := fstest.MapFS{"full.yaml": {Data: []byte(strings.Replace(fullYAML, "name: api", "name: full", 1))}}
	for i := range 12 {
		fsys[fmt.Sprintf("gen%d.yaml", i)] = &fstest.MapFile{Data: []byte(fleetgen.Doc(i))}
	}
	examples, err := os.ReadFile("../examples/fleets/shanghai.yaml")
	if err != nil {
		t.Fatal(err)
	}
	fsys["shanghai.yaml"] = &fstest.MapFile{Data: examples}
	fleets := mustLoad(t, fsys)
	if len(fleets) != 15 {
		t.Fatalf("%d fleets", len(fleets))
	}
	for _, f := range fleets {
		var want Fleet
		if err := f.root().Decode(&want); err != nil {
			t.Fatal(err)
		}
		want.applyDefaults()
		want.Source, want.node, want.file = f.Source, f.node, f.file
		if !reflect.DeepEqual(*f, want) {
			t.Errorf("fleet %s:\nfilled  %+v\ndecoded %+v", f.Name(), f.Spec, want.Spec)
		}
	}
}
