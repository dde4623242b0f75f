// Package fleetgen generates valid, varied fleet documents for benchmarks
// (of spec, and of the packages that work on loaded fleets) and for
// comparing lightkeeper with other validators on the same input. It does not
// import spec, so spec's own tests can use it; load what it makes with
// spec.Load(fleetgen.MapFS(n), …).
package fleetgen

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing/fstest"
)

var regions = []struct {
	name  string
	zones []string
}{
	{"ap-guangzhou", []string{"ap-guangzhou-3", "ap-guangzhou-4", "ap-guangzhou-6"}},
	{"ap-shanghai", []string{"ap-shanghai-2", "ap-shanghai-3", "ap-shanghai-5"}},
	{"ap-beijing", []string{"ap-beijing-3", "ap-beijing-5", "ap-beijing-7"}},
	{"ap-hongkong", []string{"ap-hongkong-2", "ap-hongkong-3"}},
	{"ap-singapore", []string{"ap-singapore-1", "ap-singapore-3"}},
}

var bundles = []string{"bundle_gen_01", "bundle_gen_02", "bundle_gen_03", "bundle_gen_04"}

var blueprints = []string{"lhbp-g0tn7djh", "lhbp-a7oxy2bx", "lhbp-d8pgvqz2", "lhbp-dk3r8c2a"}

// Doc returns fleet document i (named fleet-<i>), about 25 lines, with zones,
// key-pair login, tags and, for every third, a container.
func Doc(i int) string {
	r := regions[i%len(regions)]
	var b strings.Builder
	fmt.Fprintf(&b, `# yaml-language-server: $schema=fleet.schema.json
apiVersion: lightkeeper/v1
kind: Fleet
metadata:
  name: fleet-%05d
spec:
  region: %s
  count: %d
  bundleId: %s
  blueprintId: %s
  zones: [%s]
  instanceName: "{fleet}-{slot}"
  charge:
    period: %d
    renewFlag: NOTIFY_AND_AUTO_RENEW
  autoVoucher: %t
  login:
    keyIds: [lhkp-%08d]
  tags:
    team: team-%d
    env: production
  scaleDown: report
`, i, r.name, 1+i%3, bundles[i%len(bundles)], blueprints[i%len(blueprints)],
		strings.Join(r.zones[:1+i%len(r.zones)], ", "), 1+i%12, i%2 == 0, i, i%17)
	if i%3 == 0 {
		fmt.Fprintf(&b, `  containers:
    - containerImage: nginx:1.27
      containerName: web
      publishPorts:
        - {hostPort: 80, containerPort: 8080}
      envs:
        - {key: FLEET, value: fleet-%05d}
      restartPolicy: always
`, i)
	}
	return b.String()
}

// WriteDir writes documents 0..n-1 to dir, one file each (fleet-<i>.yaml).
func WriteDir(dir string, n int) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("fleetgen: %w", err)
	}
	for i := range n {
		name := filepath.Join(dir, fmt.Sprintf("fleet-%05d.yaml", i))
		if err := os.WriteFile(name, []byte(Doc(i)), 0o644); err != nil {
			return fmt.Errorf("fleetgen: %w", err)
		}
	}
	return nil
}

// MapFS holds documents 0..n-1 in memory, one file each
// (fleets/fleet-<i>.yaml), as WriteDir lays them out on disk.
func MapFS(n int) fstest.MapFS {
	fsys := make(fstest.MapFS, n)
	for i := range n {
		fsys[fmt.Sprintf("fleets/fleet-%05d.yaml", i)] = &fstest.MapFile{Data: []byte(Doc(i)), Mode: 0o644}
	}
	return fsys
}

// Minimal returns the smallest valid fleet document: name, region and count
// with a bundle, a blueprint and a one-month charge that the emulator's
// built-in catalog sells in every region, and nothing else, so that a
// benchmark against the emulator buys exactly what it asks for.
func Minimal(name, region string, count int) string {
	return fmt.Sprintf("---\napiVersion: lightkeeper/v1\nkind: Fleet\nmetadata: {name: %s}\nspec:\n  region: %s\n  count: %d\n  bundleId: bundle_gen_01\n  blueprintId: lhbp-g0tn7djh\n  charge: {period: 1}\n", name, region, count)
}
