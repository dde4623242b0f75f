package spec

import (
	"encoding/json"
	"math"
)

// fillFleet builds a Fleet from a document's JSON form once the schema has
// accepted it, so every value has the type the schema demands. It is much
// cheaper than decoding the YAML node again by reflection.
func fillFleet(f *Fleet, doc map[string]any) {
	f.APIVersion = str(doc["apiVersion"])
	f.Kind = str(doc["kind"])
	f.Metadata.Name = str(obj(doc["metadata"])["name"])
	s := obj(doc["spec"])
	f.Spec = Spec{
		Region:       str(s["region"]),
		Count:        integer(s["count"]),
		BundleID:     str(s["bundleId"]),
		BlueprintID:  str(s["blueprintId"]),
		Zones:        strs(s["zones"]),
		InstanceName: str(s["instanceName"]),
		AutoVoucher:  s["autoVoucher"] == true,
		ScaleDown:    str(s["scaleDown"]),
		Suspend:      s["suspend"] == true,
	}
	f.Spec.Update = fillUpdate(obj(s["update"]))
	charge := obj(s["charge"])
	f.Spec.Charge = Charge{Period: integer(charge["period"]), RenewFlag: str(charge["renewFlag"])}
	f.Spec.Charge.renewBefore = str(charge["renewBefore"])
	f.Spec.Charge.RenewBefore, _ = ParseRenewBefore(f.Spec.Charge.renewBefore) // checkRenewal reports a bad one
	if l, ok := s["login"].(map[string]any); ok {
		f.Spec.Login = &Login{KeyIDs: strs(l["keyIds"])}
		if p, ok := l["passwordFrom"].(map[string]any); ok {
			f.Spec.Login.PasswordFrom = &PasswordFrom{Env: str(p["env"]), File: str(p["file"])}
		}
	}
	if tags, ok := s["tags"].(map[string]any); ok {
		f.Spec.Tags = make(map[string]string, len(tags))
		for k, v := range tags {
			f.Spec.Tags[k] = str(v)
		}
	}
	for _, c := range list(s["containers"]) {
		c := obj(c)
		ct := Container{
			ContainerImage: str(c["containerImage"]),
			ContainerName:  str(c["containerName"]),
			Command:        str(c["command"]),
			RestartPolicy:  str(c["restartPolicy"]),
		}
		for _, e := range list(c["envs"]) {
			e := obj(e)
			ct.Envs = append(ct.Envs, ContainerEnv{Key: str(e["key"]), Value: str(e["value"])})
		}
		for _, p := range list(c["publishPorts"]) {
			p := obj(p)
			ct.PublishPorts = append(ct.PublishPorts, PublishPort{
				HostPort: integer(p["hostPort"]), ContainerPort: integer(p["containerPort"]),
				IP: str(p["ip"]), Protocol: str(p["protocol"]),
			})
		}
		for _, v := range list(c["volumes"]) {
			v := obj(v)
			ct.Volumes = append(ct.Volumes, ContainerVolume{ContainerPath: str(v["containerPath"]), HostPath: str(v["hostPath"])})
		}
		f.Spec.Containers = append(f.Spec.Containers, ct)
	}
}

func obj(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

func list(v any) []any {
	l, _ := v.([]any)
	return l
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

func strs(v any) []string {
	l := list(v)
	if l == nil {
		return nil
	}
	out := make([]string, len(l))
	for i, e := range l {
		out[i] = str(e)
	}
	return out
}

// integer converts a number the schema bounded as an integer.
func integer(v any) int {
	switch n := v.(type) {
	case int64:
		return int(n)
	case float64:
		if n >= math.MinInt32 && n <= math.MaxInt32 {
			return int(n)
		}
	case json.Number:
		if i, err := n.Int64(); err == nil {
			return int(i)
		}
	}
	return 0
}
