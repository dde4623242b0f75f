// Package spec defines the fleet specification of lightkeeper and loads it
// from a tree of YAML files.
//
// A fleet is one YAML document (apiVersion lightkeeper/v1, kind Fleet); a
// repository holds any number of them in *.yaml and *.yml files, several
// documents per file. Load checks every document against the JSON Schema of
// package schema, then adds what a schema cannot say (names unique across
// files, zones inside the region, tag and name limits, a repository-wide
// ceiling on instances) and returns every problem found, each placed at a
// file, line and column.
package spec

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash/maphash"
	"io/fs"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/lightkeeper/lightkeeper/schema"
	"go.yaml.in/yaml/v3"
)

// Values fixed by the format and by the Lighthouse API.
const (
	APIVersion = "lightkeeper/v1"
	KindFleet  = "Fleet"

	// TagFleet and TagSlot are the tags lightkeeper puts on every instance
	// it creates: the fleet name and the slot number.
	TagFleet = "lightkeeper-fleet"
	TagSlot  = "lightkeeper-slot"
	// ReservedTagPrefix starts every tag key lightkeeper owns; user tags
	// may not use it.
	ReservedTagPrefix = "lightkeeper-"
	// MaxTags is the number of tags an instance can carry (CreateInstances
	// Tags ≤ 10); lightkeeper's own two count against it.
	MaxTags = 10
	// MaxUserTags is what is left for user tags.
	MaxUserTags = MaxTags - 2
	// MaxInstanceNameLen is the longest instance name the API accepts, in
	// characters.
	MaxInstanceNameLen = 60

	// DefaultInstanceName is the name template used when a fleet sets none.
	DefaultInstanceName = "{fleet}-{slot}"
	// DefaultRenewFlag is the renew flag used when charge.renewFlag is unset.
	DefaultRenewFlag = "NOTIFY_AND_MANUAL_RENEW"
)

// ScaleDown policies: what happens to instances above a fleet's count.
const (
	ScaleDownReport  = "report"  // list them, touch nothing (default)
	ScaleDownIsolate = "isolate" // return them with IsolateInstances
)

// Fleet is one fleet document, with defaults applied.
type Fleet struct {
	APIVersion string   `yaml:"apiVersion" json:"apiVersion"`
	Kind       string   `yaml:"kind" json:"kind"`
	Metadata   Metadata `yaml:"metadata" json:"metadata"`
	Spec       Spec     `yaml:"spec" json:"spec"`

	// Source is where the document was read from.
	Source Source `yaml:"-" json:"-"`

	// node is the document's root mapping while the document is checked.
	// Afterwards it is dropped, so a loaded repository holds no YAML node
	// trees, and the document is read again from file when a position is
	// asked for (see root).
	node *yaml.Node
	file *sourceFile
}

// sourceFile is the file a loaded fleet came from, shared by its documents.
type sourceFile struct {
	fsys fs.FS
	name string
	sum  uint64 // maphash of the text the fleets were loaded from
}

// sourceSeed seeds the hashes of sourceFile.sum.
var sourceSeed = maphash.MakeSeed()

// root returns the document's root mapping: the node it is being checked
// from, or the document parsed again from its file. nil when the file can no
// longer be read or has changed since it was loaded (positions then fall
// back to the document's first line), and for a Fleet built in Go code.
func (f *Fleet) root() *yaml.Node {
	if f.node != nil {
		return f.node
	}
	if f.file == nil || f.Source.Document < 1 {
		return nil
	}
	data, err := fs.ReadFile(f.file.fsys, f.file.name)
	if err != nil || maphash.Bytes(sourceSeed, data) != f.file.sum {
		return nil
	}
	text, problem := schema.Prepare(data)
	if problem != nil {
		return nil
	}
	dec := yaml.NewDecoder(bytes.NewReader(text))
	for i := 1; ; i++ {
		var doc yaml.Node
		if err := dec.Decode(&doc); err != nil {
			return nil
		}
		if i == f.Source.Document {
			if len(doc.Content) == 0 {
				return nil
			}
			return doc.Content[0]
		}
	}
}

// Metadata identifies a fleet.
type Metadata struct {
	// Name is unique in the repository; lowercase letters, digits and '-'.
	Name string `yaml:"name" json:"name"`
}

// Spec is what a fleet is made of. See schema/fleet.schema.json for the
// rules of each field.
type Spec struct {
	Region      string `yaml:"region" json:"region"`           // e.g. ap-guangzhou
	Count       int    `yaml:"count" json:"count"`             // slots 0..Count-1
	BundleID    string `yaml:"bundleId" json:"bundleId"`       // e.g. bundle_gen_03
	BlueprintID string `yaml:"blueprintId" json:"blueprintId"` // e.g. lhbp-g0tn7djh
	// Zones of the region; slot k goes to Zones[k mod len]. Empty: the
	// cloud picks (see Zone).
	Zones []string `yaml:"zones,omitempty" json:"zones,omitempty"`
	// InstanceName is the name template, {fleet} and {slot} replaced (see
	// the InstanceName method). Default DefaultInstanceName.
	InstanceName string      `yaml:"instanceName" json:"instanceName"`
	Charge       Charge      `yaml:"charge" json:"charge"`
	AutoVoucher  bool        `yaml:"autoVoucher" json:"autoVoucher"`
	Login        *Login      `yaml:"login,omitempty" json:"login,omitempty"` // nil: no login set at creation
	Containers   []Container `yaml:"containers,omitempty" json:"containers,omitempty"`
	// Tags are the user tags; lightkeeper adds TagFleet and TagSlot (see
	// InstanceTags).
	Tags map[string]string `yaml:"tags,omitempty" json:"tags,omitempty"`
	// ScaleDown is ScaleDownReport (default) or ScaleDownIsolate.
	ScaleDown string `yaml:"scaleDown" json:"scaleDown"`
	// Suspend pauses the fleet: it is observed and planned for the record,
	// and nothing is created, changed, renewed or isolated for it.
	Suspend bool `yaml:"suspend,omitempty" json:"suspend,omitempty"`
	// Update says whether and how instances follow a change of the
	// fleet's shape (update.go); strategy UpdateReport by default.
	Update Update `yaml:"update" json:"update"`
}

// Charge is the prepaid charging of each instance (InstanceChargePrepaid).
type Charge struct {
	Period    int    `yaml:"period" json:"period"` // months
	RenewFlag string `yaml:"renewFlag" json:"renewFlag"`
	// RenewBefore, when positive, is the window before an instance's
	// expiry in which lightkeeper renews it for Period months
	// (charge.renewBefore, written "7d" or "36h"; see ParseRenewBefore). 0:
	// never renewed by lightkeeper. It is not a creation parameter, so
	// CreationHash leaves it out.
	RenewBefore time.Duration `yaml:"-" json:"-"`

	// renewBefore is charge.renewBefore as written ("" when omitted), which
	// checkRenewal words its problems with, whichever reader decoded it.
	renewBefore string
}

// Login says how to log in to new instances: key pairs or a password taken
// from outside the repository. Exactly one is set.
type Login struct {
	KeyIDs       []string      `yaml:"keyIds,omitempty" json:"keyIds,omitempty"`
	PasswordFrom *PasswordFrom `yaml:"passwordFrom,omitempty" json:"passwordFrom,omitempty"`
}

// PasswordFrom names where the login password is read when an instance is
// created. Exactly one of Env and File is set. The password itself is never
// part of a Fleet.
type PasswordFrom struct {
	Env  string `yaml:"env,omitempty" json:"env,omitempty"`
	File string `yaml:"file,omitempty" json:"file,omitempty"`
}

// Container is one Docker container started on new instances, as the API's
// DockerContainerConfiguration.
type Container struct {
	ContainerImage string            `yaml:"containerImage" json:"containerImage"`
	ContainerName  string            `yaml:"containerName,omitempty" json:"containerName,omitempty"`
	Envs           []ContainerEnv    `yaml:"envs,omitempty" json:"envs,omitempty"`
	PublishPorts   []PublishPort     `yaml:"publishPorts,omitempty" json:"publishPorts,omitempty"`
	Volumes        []ContainerVolume `yaml:"volumes,omitempty" json:"volumes,omitempty"`
	Command        string            `yaml:"command,omitempty" json:"command,omitempty"`
	RestartPolicy  string            `yaml:"restartPolicy,omitempty" json:"restartPolicy,omitempty"`
}

// ContainerEnv is an environment variable of a container.
type ContainerEnv struct {
	Key   string `yaml:"key" json:"key"`
	Value string `yaml:"value" json:"value"`
}

// PublishPort is a port published on the host; Ip defaults to 0.0.0.0 and
// Protocol to tcp.
type PublishPort struct {
	HostPort      int    `yaml:"hostPort" json:"hostPort"`
	ContainerPort int    `yaml:"containerPort" json:"containerPort"`
	IP            string `yaml:"ip" json:"ip"`
	Protocol      string `yaml:"protocol" json:"protocol"`
}

// ContainerVolume mounts a host path into a container.
type ContainerVolume struct {
	ContainerPath string `yaml:"containerPath" json:"containerPath"`
	HostPath      string `yaml:"hostPath" json:"hostPath"`
}

// Source is where a fleet document was read from.
type Source struct {
	File     string // as shown in errors, e.g. "fleets/web.yaml"
	Document int    // 1-based index of the document in the file
	Line     int    // line of the document's first node
}

// Name is the fleet's name (metadata.name).
func (f *Fleet) Name() string { return f.Metadata.Name }

// applyDefaults fills what the document may leave out.
func (f *Fleet) applyDefaults() {
	s := &f.Spec
	if s.InstanceName == "" {
		s.InstanceName = DefaultInstanceName
	}
	if s.Charge.RenewFlag == "" {
		s.Charge.RenewFlag = DefaultRenewFlag
	}
	if s.ScaleDown == "" {
		s.ScaleDown = ScaleDownReport
	}
	if s.Update.Strategy == "" {
		s.Update = fillUpdate(nil)
	}
	for i := range s.Containers {
		for j := range s.Containers[i].PublishPorts {
			p := &s.Containers[i].PublishPorts[j]
			if p.IP == "" {
				p.IP = "0.0.0.0"
			}
			if p.Protocol == "" {
				p.Protocol = "tcp"
			}
		}
	}
}

// InstanceName renders the fleet's name template for a slot: {fleet}
// becomes the fleet name and {slot} the slot number.
func (f *Fleet) InstanceName(slot int) string {
	name, _ := renderName(f.Spec.InstanceName, f.Metadata.Name, slot)
	return name
}

// renderName renders a name template and reports an unknown placeholder.
func renderName(tmpl, fleet string, slot int) (string, error) {
	var b strings.Builder
	rest := tmpl
	for {
		i := strings.IndexByte(rest, '{')
		if i < 0 {
			b.WriteString(rest)
			return b.String(), nil
		}
		b.WriteString(rest[:i])
		rest = rest[i:]
		j := strings.IndexByte(rest, '}')
		if j < 0 {
			return "", fmt.Errorf("unclosed '{' in %q; placeholders are {fleet} and {slot}", tmpl)
		}
		switch ph := rest[:j+1]; ph {
		case "{fleet}":
			b.WriteString(fleet)
		case "{slot}":
			b.WriteString(strconv.Itoa(slot))
		default:
			return "", fmt.Errorf("unknown placeholder %s; placeholders are {fleet} and {slot}", ph)
		}
		rest = rest[j+1:]
	}
}

// Zone returns the zone of a slot: slots go round the zone list in order.
// "" means the fleet names no zones and the cloud picks one.
func (f *Fleet) Zone(slot int) string {
	if len(f.Spec.Zones) == 0 {
		return ""
	}
	return f.Spec.Zones[slot%len(f.Spec.Zones)]
}

// Tag is one instance tag.
type Tag struct {
	Key, Value string
}

// InstanceTags returns every tag of the instance of a slot: the user tags
// and lightkeeper's TagFleet and TagSlot, sorted by key.
func (f *Fleet) InstanceTags(slot int) []Tag {
	tags := make([]Tag, 0, len(f.Spec.Tags)+2)
	for k, v := range f.Spec.Tags {
		tags = append(tags, Tag{k, v})
	}
	tags = append(tags, Tag{TagFleet, f.Metadata.Name}, Tag{TagSlot, strconv.Itoa(slot)})
	slices.SortFunc(tags, func(a, b Tag) int { return cmp.Compare(a.Key, b.Key) })
	return tags
}

// CreationHash is a hex SHA-256 of the parameters a new instance of the
// fleet is created with: name, region, bundle, blueprint, zones, name
// template, charge, voucher, login (key ids, or where the password comes
// from), containers and user tags, defaults applied. It does not cover
// count or scaleDown. It is stable under key order, formatting, comments
// and whether a default was written out, and changes with any of the
// parameters. Key id order is not significant.
func (f *Fleet) CreationHash() string {
	s := f.Spec
	var login *Login
	if s.Login != nil {
		l := *s.Login
		l.KeyIDs = slices.Sorted(slices.Values(l.KeyIDs))
		login = &l
	}
	// A fixed struct marshals in field order and encoding/json sorts map
	// keys, so the encoding is canonical.
	canon := struct {
		V            int               `json:"v"`
		Name         string            `json:"name"`
		Region       string            `json:"region"`
		BundleID     string            `json:"bundleId"`
		BlueprintID  string            `json:"blueprintId"`
		Zones        []string          `json:"zones"`
		InstanceName string            `json:"instanceName"`
		Charge       Charge            `json:"charge"`
		AutoVoucher  bool              `json:"autoVoucher"`
		Login        *Login            `json:"login"`
		Containers   []Container       `json:"containers"`
		Tags         map[string]string `json:"tags"`
	}{1, f.Metadata.Name, s.Region, s.BundleID, s.BlueprintID, s.Zones, s.InstanceName, s.Charge,
		s.AutoVoucher, login, s.Containers, s.Tags}
	if len(canon.Zones) == 0 {
		canon.Zones = nil
	}
	if len(canon.Containers) == 0 {
		canon.Containers = nil
	}
	if len(canon.Tags) == 0 {
		canon.Tags = nil
	}
	b, err := json.Marshal(canon)
	if err != nil {
		// Only strings, ints, bools, slices and maps of strings: cannot fail.
		panic("spec: marshal creation parameters: " + err.Error())
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// Regions returns the distinct regions of fleets, sorted: the regions the
// reconciler must observe.
func Regions(fleets []*Fleet) []string {
	var rs []string
	for _, f := range fleets {
		rs = append(rs, f.Spec.Region)
	}
	slices.Sort(rs)
	return slices.Compact(rs)
}

// Position returns the line and column of the value at a dotted field path
// of the document, such as "spec.count" or "spec.containers[0].envs[1].key",
// or of the deepest node on that path that exists. Use it to place messages
// about a fleet (for example in a plan) at the line that declared it. A
// loaded fleet keeps no node tree: each call reads and parses its file again
// (from the Input's FS, which must still be open), so call it for messages,
// not for every field. If the file has changed or cannot be read, it returns
// the document's first line.
func (f *Fleet) Position(field string) (line, col int) {
	n, _ := schema.Lookup(f.root(), schema.ParseField(field))
	if n == nil {
		return f.Source.Line, 1
	}
	return n.Line, n.Column
}
