// Package examples holds a working fleet repository (fleets/). Its test
// proves that every example fleet is valid and that the built-in emulator
// would sell each of its instances, so the README's examples stay true.
package examples

import (
	"context"
	"os"
	"strconv"
	"testing"

	"github.com/lightkeeper/lightkeeper/lighthouse"
	"github.com/lightkeeper/lightkeeper/lighthouse/emulator"
	"github.com/lightkeeper/lightkeeper/lighthouse/emulator/emulatortest"
	"github.com/lightkeeper/lightkeeper/spec"
)

// TestExampleFleetsAreBuyable loads examples/fleets and sends, for every
// slot of every fleet, a DryRun CreateInstances to the emulator with the
// fleet's bundle, blueprint, zone, login, containers and tags: the catalog
// must serve them and the API's parameter rules must accept them.
func TestExampleFleetsAreBuyable(t *testing.T) {
	fleets, err := spec.Load(os.DirFS("fleets"), spec.Options{})
	if err != nil {
		t.Fatalf("example fleets do not validate:\n%v", err)
	}
	if regions := spec.Regions(fleets); len(fleets) < 3 || len(regions) < 2 {
		t.Fatalf("examples: %d fleets over regions %v; want at least 3 over 2", len(fleets), regions)
	}

	h := emulatortest.New(t, emulator.Config{RateLimits: emulator.NoRateLimits()},
		emulatortest.WithClient(func(o *lighthouse.Options) { o.RetryMax = -1 }))
	c, srv := h.Client, h.Server

	for _, f := range fleets {
		for slot := range f.Spec.Count {
			req := dryRunCreate(f, slot)
			if _, err := c.CreateInstances(context.Background(), f.Spec.Region, req); err != nil {
				t.Errorf("%s: fleet %q slot %d: the emulator refuses it: %v", f.Source.File, f.Name(), slot, err)
			}
		}
	}
	if got := len(srv.Instances()); got != 0 {
		t.Errorf("a DryRun created %d instances", got)
	}
}

// dryRunCreate maps a fleet slot to the CreateInstances request a
// reconciler would send, with a placeholder password of the API's form
// where the fleet reads one from outside the repository.
func dryRunCreate(f *spec.Fleet, slot int) *lighthouse.CreateInstancesRequest {
	s := f.Spec
	req := &lighthouse.CreateInstancesRequest{
		BundleId:              s.BundleID,
		BlueprintId:           s.BlueprintID,
		InstanceChargePrepaid: &lighthouse.InstanceChargePrepaid{Period: int64(s.Charge.Period), RenewFlag: s.Charge.RenewFlag},
		InstanceName:          f.InstanceName(slot),
		DryRun:                true,
		AutoVoucher:           s.AutoVoucher,
		ClientToken:           "examples-" + f.Name() + "-" + strconv.Itoa(slot),
	}
	if z := f.Zone(slot); z != "" {
		req.Zones = []string{z}
	}
	if l := s.Login; l != nil {
		req.LoginConfiguration = &lighthouse.LoginConfiguration{KeyIds: l.KeyIDs}
		if l.PasswordFrom != nil {
			req.LoginConfiguration.Password = "Placeholder-Pass-2026"
		}
	}
	for _, tag := range f.InstanceTags(slot) {
		req.Tags = append(req.Tags, lighthouse.Tag{Key: tag.Key, Value: tag.Value})
	}
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
		req.Containers = append(req.Containers, dc)
	}
	return req
}
