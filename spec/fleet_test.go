package spec

import (
	"strings"
	"testing"
	"testing/fstest"
	"time"
)

func loadOne(t *testing.T, doc string) *Fleet {
	t.Helper()
	return mustLoad(t, fstest.MapFS{"f.yaml": {Data: []byte(doc)}})[0]
}

const fullYAML = `apiVersion: lightkeeper/v1
kind: Fleet
metadata:
  name: api
spec:
  region: ap-shanghai
  count: 2
  bundleId: bundle_gen_04
  blueprintId: lhbp-dk3r8c2a
  zones: [ap-shanghai-3, ap-shanghai-5]
  charge: {period: 12}
  login: {keyIds: [lhkp-aaaa0001, lhkp-aaaa0002]}
  containers:
    - containerImage: nginx:1.27
      publishPorts: [{hostPort: 80, containerPort: 80}]
  tags: {team: platform, env: prod}
`

// The same fleet written differently: other key order, flow vs block style,
// comments, defaults spelled out, key ids reordered, count and scaleDown
// changed (not creation parameters).
const fullYAMLReformatted = `# reformatted
kind: Fleet
apiVersion: "lightkeeper/v1"
spec:
  tags:
    env: prod      # order of keys does not matter
    team: platform
  scaleDown: isolate
  count: 7
  instanceName: "{fleet}-{slot}"
  charge:
    renewFlag: NOTIFY_AND_MANUAL_RENEW
    period: 12
  containers:
    - publishPorts:
        - containerPort: 80
          hostPort: 80
          protocol: tcp
          ip: 0.0.0.0
      containerImage: 'nginx:1.27'
  login:
    keyIds:
      - lhkp-aaaa0002
      - lhkp-aaaa0001
  autoVoucher: false
  zones:
    - ap-shanghai-3
    - ap-shanghai-5
  blueprintId: lhbp-dk3r8c2a
  bundleId: bundle_gen_04
  region: ap-shanghai
metadata: {name: api}
`

// The same fleet again, through anchors, aliases, explicit tags, a block
// scalar, a document end marker and CRLF line endings.
var fullYAMLAnchored = strings.ReplaceAll(`apiVersion: !!str lightkeeper/v1
kind: Fleet
metadata:
  name: &n api
spec:
  region: &r 'ap-shanghai'
  count: 2
  bundleId: bundle_gen_04
  blueprintId: >-
    lhbp-dk3r8c2a
  zones: &z [ap-shanghai-3, ap-shanghai-5]
  charge: {period: !!int "12"}
  login: {keyIds: [lhkp-aaaa0002, lhkp-aaaa0001]}
  containers:
    - containerImage: "nginx:1.27"
      publishPorts: [{hostPort: 0x50, containerPort: 80}]
  tags: {team: platform, env: "prod"}
...
`, "\n", "\r\n")

func TestCreationHashStable(t *testing.T) {
	a, b := loadOne(t, fullYAML), loadOne(t, fullYAMLReformatted)
	if a.CreationHash() != b.CreationHash() {
		t.Fatalf("hash differs for the same creation parameters:\n%s\n%s", a.CreationHash(), b.CreationHash())
	}
	if c := loadOne(t, fullYAMLAnchored); c.CreationHash() != a.CreationHash() {
		t.Errorf("hash differs with anchors, tags and CRLF:\n%s\n%s", a.CreationHash(), c.CreationHash())
	}
	if len(a.CreationHash()) != 64 {
		t.Errorf("hash %q is not hex SHA-256", a.CreationHash())
	}
}

func TestCreationHashChanges(t *testing.T) {
	base := loadOne(t, fullYAML).CreationHash()
	for _, change := range [][2]string{
		{"name: api", "name: api2"},
		{"region: ap-shanghai\n", "region: ap-beijing\n  # zones changed too\n"},
		{"bundle_gen_04", "bundle_gen_03"},
		{"lhbp-dk3r8c2a", "lhbp-g0tn7djh"},
		{"[ap-shanghai-3, ap-shanghai-5]", "[ap-shanghai-5, ap-shanghai-3]"},
		{"{period: 12}", "{period: 12, renewFlag: NOTIFY_AND_AUTO_RENEW}"},
		{"{period: 12}", "{period: 24}"},
		{"login: {keyIds: [lhkp-aaaa0001, lhkp-aaaa0002]}", "login: {keyIds: [lhkp-aaaa0001]}"},
		{"login: {keyIds: [lhkp-aaaa0001, lhkp-aaaa0002]}", "login: {passwordFrom: {env: PW}}"},
		{"nginx:1.27", "nginx:1.28"},
		{"hostPort: 80,", "hostPort: 8080,"},
		{"env: prod", "env: staging"},
		{"  tags:", "  autoVoucher: true\n  tags:"},
		{"  tags:", "  instanceName: \"api-{slot}\"\n  tags:"},
		{"containerPort: 80}", "containerPort: 81}"},
		{"containerPort: 80}", "containerPort: 80, ip: 127.0.0.1}"},
		{"containerPort: 80}", "containerPort: 80, protocol: udp}"},
		{"      publishPorts:", "      containerName: web\n      publishPorts:"},
		{"      publishPorts:", "      command: nginx -g daemon-off\n      publishPorts:"},
		{"      publishPorts:", "      restartPolicy: always\n      publishPorts:"},
		{"      publishPorts:", "      envs: [{key: A, value: b}]\n      publishPorts:"},
		{"      publishPorts:", "      volumes: [{containerPath: /d, hostPath: /srv/d}]\n      publishPorts:"},
		{"  login: {keyIds: [lhkp-aaaa0001, lhkp-aaaa0002]}\n", ""},
		{"team: platform", "team: platform, extra: x"},
	} {
		doc := strings.Replace(fullYAML, change[0], change[1], 1)
		if change[0] == "region: ap-shanghai\n" {
			doc = strings.ReplaceAll(doc, "ap-shanghai-", "ap-beijing-")
		}
		if got := loadOne(t, doc).CreationHash(); got == base {
			t.Errorf("hash unchanged after %q -> %q", change[0], change[1])
		}
	}
}

func TestInstanceNameZoneTags(t *testing.T) {
	f := loadOne(t, strings.Replace(fullYAML, "  tags:", "  instanceName: \"{fleet}-sh-{slot}-{fleet}\"\n  tags:", 1))
	if got := f.InstanceName(11); got != "api-sh-11-api" {
		t.Errorf("InstanceName(11) = %q", got)
	}
	if z0, z1, z2 := f.Zone(0), f.Zone(1), f.Zone(2); z0 != "ap-shanghai-3" || z1 != "ap-shanghai-5" || z2 != "ap-shanghai-3" {
		t.Errorf("zones = %s %s %s", z0, z1, z2)
	}
	var got []string
	for _, tag := range f.InstanceTags(4) {
		got = append(got, tag.Key+"="+tag.Value)
	}
	if s := strings.Join(got, ","); s != "env=prod,lightkeeper-fleet=api,lightkeeper-slot=4,team=platform" {
		t.Errorf("InstanceTags = %s", s)
	}
	noZones := loadOne(t, strings.Replace(fullYAML, "  zones: [ap-shanghai-3, ap-shanghai-5]\n", "", 1))
	if z := noZones.Zone(3); z != "" {
		t.Errorf("Zone without zones = %q", z)
	}
	if n := noZones.InstanceName(0); n != "api-0" {
		t.Errorf("default name = %q", n)
	}
}

func TestPosition(t *testing.T) {
	f := loadOne(t, fullYAML)
	for field, want := range map[string][2]int{
		"metadata.name": {4, 9},
		"spec.count":    {7, 10},
		"spec.zones[1]": {10, 26},
		"spec.containers[0].publishPorts[0].hostPort": {15, 33},
		"spec.nothere": {6, 3}, // deepest existing node: spec's mapping, at its first key
	} {
		if l, c := f.Position(field); l != want[0] || c != want[1] {
			t.Errorf("Position(%s) = %d:%d, want %d:%d", field, l, c, want[0], want[1])
		}
	}
}

// The 60-character limit of instance names counts characters, as the
// schema's maxLength on the template does, not UTF-8 bytes.
func TestInstanceNameLimitCountsCharacters(t *testing.T) {
	// 25 CJK characters (75 bytes) + "-" + "1": 27 characters.
	doc := strings.Replace(fullYAML, "  tags:", "  instanceName: \""+strings.Repeat("网", 25)+"-{slot}\"\n  tags:", 1)
	fleets, err := Load(fstest.MapFS{"f.yaml": {Data: []byte(doc)}}, Options{})
	if err != nil {
		t.Fatalf("a 27-character name is refused: %v", err)
	}
	if n := fleets[0].InstanceName(1); n != strings.Repeat("网", 25)+"-1" {
		t.Errorf("InstanceName(1) = %q", n)
	}
	// 20 characters + a 40-character fleet name + "1" = 61: refused, and
	// the message counts characters.
	doc = strings.Replace(fullYAML, "  tags:", "  instanceName: \""+strings.Repeat("网", 20)+"{fleet}{slot}\"\n  tags:", 1)
	doc = strings.Replace(doc, "name: api", "name: "+strings.Repeat("a", 40), 1)
	_, err = Load(fstest.MapFS{"f.yaml": {Data: []byte(doc)}}, Options{})
	if err == nil || !strings.Contains(err.Error(), "renders to 61 characters") {
		t.Errorf("err = %v", err)
	}
}

func TestAddressesOverlap(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want bool
	}{
		{"0.0.0.0", "0.0.0.0", true},
		{"0.0.0.0", "127.0.0.1", true},
		{"10.0.0.1", "127.0.0.1", false},
		{"::", "::1", true},
		{"::ffff:127.0.0.1", "127.0.0.1", true},
		// Docker publishes the IPv4 and the IPv6 wildcard side by side.
		{"0.0.0.0", "::", false},
		{"0.0.0.0", "::1", false},
		{"::", "127.0.0.1", false},
	} {
		if got := addressesOverlap(tc.a, tc.b); got != tc.want {
			t.Errorf("addressesOverlap(%s, %s) = %v, want %v", tc.a, tc.b, got, tc.want)
		}
	}
}

// A loaded fleet keeps no node tree: Position reads its file again, and
// falls back to the document's first line once the file has changed or is
// gone, rather than point into other text.
func TestPositionRereadsFile(t *testing.T) {
	fsys := fstest.MapFS{"f.yaml": {Data: []byte("# first\n---\n" + fullYAML)}}
	f := mustLoad(t, fsys)[0]
	if f.node != nil {
		t.Error("a loaded fleet keeps its node tree")
	}
	if l, c := f.Position("spec.count"); l != 9 || c != 10 {
		t.Errorf("Position(spec.count) = %d:%d, want 9:10", l, c)
	}
	fsys["f.yaml"] = &fstest.MapFile{Data: []byte("# edited\n\n---\n" + fullYAML)}
	if l, c := f.Position("spec.count"); l != 3 || c != 1 {
		t.Errorf("after an edit, Position(spec.count) = %d:%d, want the document's line 3:1", l, c)
	}
	delete(fsys, "f.yaml")
	if l, c := f.Position("spec.count"); l != 3 || c != 1 {
		t.Errorf("file gone: Position(spec.count) = %d:%d, want 3:1", l, c)
	}
}

// charge.renewBefore and suspend load into the Spec, and the window is not
// a creation parameter.
func TestLoadRenewBeforeAndSuspend(t *testing.T) {
	for _, tc := range []struct {
		text string
		want time.Duration
	}{{"7d", 7 * 24 * time.Hour}, {"36h", 36 * time.Hour}, {"2d12h", 60 * time.Hour}, {"1d0h", 24 * time.Hour}} {
		doc := strings.Replace(webYAML, "charge: {period: 1}", "charge: {period: 1, renewBefore: "+tc.text+"}\n  suspend: true", 1)
		f := mustLoad(t, fstest.MapFS{"web.yaml": {Data: []byte(doc)}})[0]
		if f.Spec.Charge.RenewBefore != tc.want || !f.Spec.Suspend {
			t.Errorf("%s: renewBefore %s, suspend %v; want %s, true", tc.text, f.Spec.Charge.RenewBefore, f.Spec.Suspend, tc.want)
		}
		plain := mustLoad(t, fstest.MapFS{"web.yaml": {Data: []byte(webYAML)}})[0]
		if f.CreationHash() != plain.CreationHash() {
			t.Errorf("%s: renewBefore or suspend changed the creation hash", tc.text)
		}
		if back, err := ParseRenewBefore(FormatRenewBefore(tc.want)); err != nil || back != tc.want {
			t.Errorf("FormatRenewBefore(%s) = %q, which reads back as %s, %v", tc.want, FormatRenewBefore(tc.want), back, err)
		}
	}
	f := mustLoad(t, fstest.MapFS{"web.yaml": {Data: []byte(webYAML)}})[0]
	if f.Spec.Charge.RenewBefore != 0 || f.Spec.Suspend {
		t.Errorf("defaults: renewBefore %s, suspend %v", f.Spec.Charge.RenewBefore, f.Spec.Suspend)
	}
}
