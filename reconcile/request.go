package reconcile

import (
	"fmt"
	"strconv"

	"github.com/lightkeeper/lightkeeper/lighthouse"
	"github.com/lightkeeper/lightkeeper/spec"
)

// CreateRequest is the one place a fleet slot becomes a CreateInstances
// request: one instance (InstanceCount 1) named for the slot, in the slot's
// zone, with the fleet's bundle, blueprint, charge, login and containers, and
// the slot's ClientToken. withTags adds the user tags and lightkeeper's
// lightkeeper-fleet and lightkeeper-slot tags, for sites that take Tags on
// create (the international site does not). A fleet whose login reads a
// password (passwordFrom) gets a LoginConfiguration without it: the
// password is set only on the copy that is sent (WithPassword).
func CreateRequest(f *spec.Fleet, slot, incarnation int, withTags bool) *lighthouse.CreateInstancesRequest {
	s := f.Spec
	req := &lighthouse.CreateInstancesRequest{
		BundleId:              s.BundleID,
		BlueprintId:           s.BlueprintID,
		InstanceChargePrepaid: &lighthouse.InstanceChargePrepaid{Period: int64(s.Charge.Period), RenewFlag: s.Charge.RenewFlag},
		InstanceName:          f.InstanceName(slot),
		InstanceCount:         1,
		AutoVoucher:           s.AutoVoucher,
		ClientToken:           Token(s.Region, f.Name(), slot, incarnation),
	}
	if z := f.Zone(slot); z != "" {
		req.Zones = []string{z}
	}
	if l := s.Login; l != nil {
		req.LoginConfiguration = &lighthouse.LoginConfiguration{KeyIds: l.KeyIDs}
	}
	if withTags {
		for _, tag := range f.InstanceTags(slot) {
			req.Tags = append(req.Tags, lighthouse.Tag{Key: tag.Key, Value: tag.Value})
		}
	}
	req.Containers = containersOf(s)
	return req
}

// containersOf is the fleet's containers as the API takes them, on create
// and on reset.
func containersOf(s spec.Spec) []lighthouse.DockerContainerConfiguration {
	var out []lighthouse.DockerContainerConfiguration
	for _, ct := range s.Containers {
		dc := lighthouse.DockerContainerConfiguration{
			ContainerImage: ct.ContainerImage, ContainerName: ct.ContainerName,
			Command: ct.Command, RestartPolicy: ct.RestartPolicy,
		}
		for _, e := range ct.Envs {
			dc.Envs = append(dc.Envs, lighthouse.ContainerEnv{Key: e.Key, Value: e.Value})
		}
		for _, p := range ct.PublishPorts {
			dc.PublishPorts = append(dc.PublishPorts, lighthouse.DockerContainerPublishPort{
				HostPort: int64(p.HostPort), ContainerPort: int64(p.ContainerPort), Ip: p.IP, Protocol: p.Protocol,
			})
		}
		for _, v := range ct.Volumes {
			dc.Volumes = append(dc.Volumes, lighthouse.DockerContainerVolume{ContainerPath: v.ContainerPath, HostPath: v.HostPath})
		}
		out = append(out, dc)
	}
	return out
}

// ResetRequest is the one place a fleet's instance becomes a
// ResetInstance request: the fleet's blueprint, containers and login
// (key IDs; a fleet that reads a password gets a LoginConfiguration
// without it, set only on the copy that is sent, as for creates).
func ResetRequest(f *spec.Fleet, instanceID string) *lighthouse.ResetInstanceRequest {
	req := &lighthouse.ResetInstanceRequest{InstanceId: instanceID, BlueprintId: f.Spec.BlueprintID, Containers: containersOf(f.Spec)}
	if l := f.Spec.Login; l != nil {
		req.LoginConfiguration = &lighthouse.LoginConfiguration{KeyIds: l.KeyIDs}
	}
	return req
}

// WithPassword returns a copy of req that logs in with password, to send;
// req itself is left without it. A "" password, or a request without a
// LoginConfiguration, returns req.
func WithPassword(req *lighthouse.CreateInstancesRequest, password string) *lighthouse.CreateInstancesRequest {
	if password == "" || req.LoginConfiguration == nil {
		return req
	}
	cp := *req
	lc := *req.LoginConfiguration
	lc.Password = password
	cp.LoginConfiguration = &lc
	return &cp
}

// sendable is the request Apply sends for c at incarnation inc, a copy of
// the plan's: for a later incarnation that incarnation's token, and the
// login password.
func (c *Create) sendable(region, fleet string, inc int, password string) (*lighthouse.CreateInstancesRequest, error) {
	if c.Request == nil {
		return nil, fmt.Errorf("the plan holds no request for slot %d; apply only plans made by Reconciler.Plan", c.Slot)
	}
	req := *c.Request
	switch {
	case inc == c.Incarnation:
	case c.Shape != "":
		req.ClientToken = ReplacementToken(region, fleet, c.Slot, c.Shape, inc)
	default:
		req.ClientToken = Token(region, fleet, c.Slot, inc)
	}
	return WithPassword(&req, password), nil
}

// slotOfTags reads lightkeeper's tags of an instance: the fleet and slot it
// was created for, or ok false when it carries none (or a malformed slot).
func slotOfTags(tags []lighthouse.Tag) (fleet string, slot int, ok bool) {
	var slotTag string
	for _, t := range tags {
		switch t.Key {
		case spec.TagFleet:
			fleet = t.Value
		case spec.TagSlot:
			slotTag = t.Value
		}
	}
	if fleet == "" {
		return "", 0, false
	}
	n, err := strconv.Atoi(slotTag)
	if err != nil || n < 0 || strconv.Itoa(n) != slotTag {
		return fleet, -1, true
	}
	return fleet, n, true
}
