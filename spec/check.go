package spec

import (
	"fmt"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/lightkeeper/lightkeeper/schema"
	"go.yaml.in/yaml/v3"
)

// The checks a schema cannot express. checkFleet runs on a fleet that passed
// the schema; checkRepository on all fleets that did.

// zoneSuffixRE is what follows the region in a zone id: "-3".
var zoneSuffixRE = regexp.MustCompile(`^-[0-9]+$`)

// errorAt is a problem with field of f, placed where the field is written.
func (f *Fleet) errorAt(field, format string, args ...any) *Error {
	line, col := f.Position(field)
	return &Error{File: f.Source.File, Line: line, Column: col, Fleet: f.Metadata.Name,
		Field: field, Message: fmt.Sprintf(format, args...)}
}

// checkFleet checks one fleet on its own.
func checkFleet(f *Fleet, opts Options) Errors {
	var errs Errors
	add := func(field, format string, args ...any) {
		errs = append(errs, f.errorAt(field, format, args...))
	}
	s := &f.Spec
	if msg := regionProblem(s.Region, opts.ExtraRegions); msg != "" {
		// Zones are not checked against a region that does not exist: the
		// region is what to fix.
		add("spec.region", "%s", msg)
	} else {
		for i, z := range s.Zones {
			rest, ok := strings.CutPrefix(z, s.Region)
			if !ok || !zoneSuffixRE.MatchString(rest) {
				add(fmt.Sprintf("spec.zones[%d]", i), "zone %q is not in region %s; use a zone of %s, named %s-N (DescribeZones lists them)", z, s.Region, s.Region, s.Region)
			}
		}
	}
	if len(s.Tags) > MaxUserTags {
		add("spec.tags", "%d tags, at most %d: an instance takes %d tags and lightkeeper uses %d (%s, %s)",
			len(s.Tags), MaxUserTags, MaxTags, MaxTags-MaxUserTags, TagFleet, TagSlot)
	}
	if m := tagsNode(f); m != nil {
		for i := 0; i+1 < len(m.Content); i += 2 {
			k, v := m.Content[i], schema.Deref(m.Content[i+1])
			at := func(n *yaml.Node, field, format string, args ...any) {
				errs = append(errs, &Error{File: f.Source.File, Line: n.Line, Column: n.Column, Fleet: f.Metadata.Name, Field: field,
					Message: fmt.Sprintf(format, args...)})
			}
			lower := strings.ToLower(k.Value)
			if strings.HasPrefix(lower, ReservedTagPrefix) {
				at(k, "spec.tags", "tag key %q uses the reserved prefix %q; lightkeeper sets those tags itself, rename the key", k.Value, ReservedTagPrefix)
				continue
			}
			if p, others := cloudReservedPrefix(lower); p != "" {
				at(k, "spec.tags", "tag key %q uses the prefix %q, which Tencent Cloud reserves (as it does %s); rename the key", k.Value, p, others)
				continue
			}
			if r, bad := badTagRune(k.Value); bad {
				at(k, "spec.tags", "tag key %q has the character %q; tags take letters, digits, spaces and + - = . _ : / @", k.Value, r)
			}
			if r, bad := badTagRune(v.Value); bad && v.Kind == yaml.ScalarNode {
				at(v, "spec.tags."+k.Value, "tag value %q has the character %q; tags take letters, digits, spaces and + - = . _ : / @", v.Value, r)
			}
		}
	}
	if s.Login != nil {
		if field, msg := passwordSourceProblem(s.Login.PasswordFrom); msg != "" {
			add(field, "%s", msg)
		}
	}
	errs = append(errs, checkContainers(f)...)
	errs = append(errs, checkRenewal(f)...)
	errs = append(errs, checkUpdate(f)...)
	last := max(s.Count-1, 0)
	name, err := renderName(s.InstanceName, f.Metadata.Name, last)
	switch slots := strings.Count(s.InstanceName, SlotPlaceholder); {
	case err != nil:
		add("spec.instanceName", "%v", err)
	case slots != 1:
		add("spec.instanceName", "%s", slotCountMessage(slots))
	case utf8.RuneCountInString(name) > MaxInstanceNameLen:
		add("spec.instanceName", "renders to %d characters for slot %d (%q), at most %d; shorten the template or the fleet name",
			utf8.RuneCountInString(name), last, name, MaxInstanceNameLen)
	}
	return errs
}

// slotCountMessage explains a template that does not hold {slot} exactly
// once. The schema's pattern says the same of a template without {slot}.
func slotCountMessage(n int) string {
	const rule = "must hold {slot} exactly once, such as \"{fleet}-{slot}\" (the instance name is the slot's identity)"
	if n == 0 {
		return rule
	}
	return fmt.Sprintf("holds {slot} %d times; it %s", n, rule)
}

// checkRepository checks what spans fleets: unique names, the total count,
// instance names that two fleets of a region could both render.
// fleets are in file order.
func checkRepository(fleets []*Fleet, opts Options) Errors {
	var errs Errors
	first := make(map[string]*Fleet, len(fleets))
	unique := make([]*Fleet, 0, len(fleets))
	total := 0
	for _, f := range fleets {
		if prev, dup := first[f.Metadata.Name]; dup {
			pl, pc := prev.Position("metadata.name")
			errs = append(errs, f.errorAt("metadata.name",
				"duplicate fleet name, first defined at %s:%d:%d; fleet names must be unique in the repository", prev.Source.File, pl, pc))
			continue
		}
		first[f.Metadata.Name] = f
		unique = append(unique, f)
		before := total
		total += f.Spec.Count
		if opts.MaxTotalCount >= 0 && before <= opts.MaxTotalCount && total > opts.MaxTotalCount {
			errs = append(errs, f.errorAt("spec.count",
				"brings the total count of all fleets to %d, above the repository-wide limit of %d; lower the counts or raise the limit (--max-total-count of validate and reconcile, limits.maxTotalCount of the daemon)",
				total, opts.MaxTotalCount))
		}
	}
	return append(errs, checkNameCollisions(unique)...)
}

// checkContainers checks what Docker would refuse on the instance, after
// the instance is bought: an image reference it cannot parse, a restart
// count it cannot hold, two containers with one name, a host port published
// twice, a variable set twice or a mount point used twice in one container.
func checkContainers(f *Fleet) Errors {
	var errs Errors
	add := func(field, format string, args ...any) {
		errs = append(errs, f.errorAt(field, format, args...))
	}
	type published struct {
		port  PublishPort
		field string
	}
	names := map[string]int{}
	var ports []published
	for i, c := range f.Spec.Containers {
		if msg := imageProblem(c.ContainerImage); msg != "" {
			add(fmt.Sprintf("spec.containers[%d].containerImage", i), "%s", msg)
		}
		if msg := restartPolicyProblem(c.RestartPolicy); msg != "" {
			add(fmt.Sprintf("spec.containers[%d].restartPolicy", i), "%s", msg)
		}
		mounts := map[string]int{}
		for k, v := range c.Volumes {
			p := cleanMountPath(v.ContainerPath)
			if first, dup := mounts[p]; dup {
				add(fmt.Sprintf("spec.containers[%d].volumes[%d].containerPath", i, k),
					"%s is already a mount point of this container (volumes[%d]); Docker refuses a duplicate mount point: mount each container path once", visible(v.ContainerPath), first)
			} else {
				mounts[p] = k
			}
		}
		if c.ContainerName != "" {
			if j, dup := names[c.ContainerName]; dup {
				add(fmt.Sprintf("spec.containers[%d].containerName", i), "container name %q is also used by spec.containers[%d]; container names must be unique on an instance", c.ContainerName, j)
			} else {
				names[c.ContainerName] = i
			}
		}
		envs := map[string]int{}
		for k, e := range c.Envs {
			field := fmt.Sprintf("spec.containers[%d].envs[%d].key", i, k)
			if first, dup := envs[e.Key]; dup {
				line, _ := f.Position(fmt.Sprintf("spec.containers[%d].envs[%d].key", i, first))
				add(field, "duplicate environment variable %q, first set at line %d", e.Key, line)
			} else {
				envs[e.Key] = k
			}
		}
		for k, p := range c.PublishPorts {
			field := fmt.Sprintf("spec.containers[%d].publishPorts[%d]", i, k)
			for _, prev := range ports {
				q := prev.port
				if q.HostPort != p.HostPort || q.Protocol != p.Protocol || !addressesOverlap(q.IP, p.IP) {
					continue
				}
				on := ""
				if !isUnspecified(q.IP) {
					on = " on " + q.IP
				}
				add(field+".hostPort", "host port %d/%s is already published%s by %s; use another hostPort", p.HostPort, p.Protocol, on, prev.field)
				break
			}
			ports = append(ports, published{p, field})
		}
	}
	return errs
}

// addressesOverlap reports whether binding one host address blocks the
// other: the same address, or a wildcard and an address of its family
// (Docker publishes 0.0.0.0 and :: side by side).
func addressesOverlap(a, b string) bool {
	pa, errA := netip.ParseAddr(a)
	pb, errB := netip.ParseAddr(b)
	if errA != nil || errB != nil {
		return a == b
	}
	pa, pb = pa.Unmap(), pb.Unmap()
	if pa.Is4() != pb.Is4() {
		return false
	}
	return pa == pb || pa.IsUnspecified() || pb.IsUnspecified()
}

func isUnspecified(ip string) bool {
	a, err := netip.ParseAddr(ip)
	return err == nil && a.IsUnspecified()
}

// cloudTagPrefixes start the tag keys Tencent Cloud keeps for itself
// (InvalidParameter.ReservedTagKey of the tag service).
var cloudTagPrefixes = []string{"qcloud", "tencent", "project"}

// cloudReservedPrefix returns the reserved prefix that lower-cased key
// starts with, and the other prefixes quoted for the message.
func cloudReservedPrefix(key string) (prefix, others string) {
	for i, p := range cloudTagPrefixes {
		if strings.HasPrefix(key, p) {
			var rest []string
			for j, o := range cloudTagPrefixes {
				if j != i {
					rest = append(rest, strconv.Quote(o))
				}
			}
			return p, strings.Join(rest, " and ")
		}
	}
	return "", ""
}

// badTagRune finds a character that Tencent Cloud tags do not take: they
// hold letters (any script), digits, spaces and + - = . _ : / @.
func badTagRune(s string) (rune, bool) {
	for _, r := range s {
		if unicode.IsLetter(r) || unicode.IsDigit(r) || r == ' ' || strings.ContainsRune("+-=._:/@", r) {
			continue
		}
		return r, true
	}
	return 0, false
}

// tagsClean reports whether checkFleet would find nothing wrong with the
// keys and values of tags (the same checks, without a node tree).
func tagsClean(tags map[string]string) bool {
	for k, v := range tags {
		lower := strings.ToLower(k)
		if strings.HasPrefix(lower, ReservedTagPrefix) {
			return false
		}
		if p, _ := cloudReservedPrefix(lower); p != "" {
			return false
		}
		if _, bad := badTagRune(k); bad {
			return false
		}
		if _, bad := badTagRune(v); bad {
			return false
		}
	}
	return true
}

// tagsNode returns the mapping of spec.tags, or nil when the fleet has none.
func tagsNode(f *Fleet) *yaml.Node {
	m, key := schema.Lookup(f.root(), []string{"spec", "tags"})
	if m = schema.Deref(m); key == nil || m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	return m
}
