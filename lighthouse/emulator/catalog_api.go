package emulator

import (
	"slices"
	"strings"

	"github.com/lightkeeper/lightkeeper/lighthouse"
)

var bundleFilterNames = []string{"bundle-id", "support-platform-type", "bundle-type", "bundle-state"}

func (s *Server) describeBundles(c *call) (any, *apiError) {
	const a = lighthouse.ActionDescribeBundles
	var req lighthouse.DescribeBundlesRequest
	if aerr := decodeParams(c, &req); aerr != nil {
		return nil, aerr
	}
	if aerr := checkIDsOrFilters(a, "BundleIds", req.BundleIds, req.Filters); aerr != nil {
		return nil, aerr
	}
	if aerr := checkFilters(a, req.Filters, bundleFilterNames, false, 5); aerr != nil {
		return nil, aerr
	}
	limit, aerr := checkPage(a, req.Offset, req.Limit)
	if aerr != nil {
		return nil, aerr
	}
	zones := req.Zones
	for i, z := range zones {
		if s.catalog.zoneRegion[z] != c.region {
			return nil, errf(codeZoneInvalid, "%s: Zones[%d] %q is not a zone of %s", a, i, z, c.region)
		}
	}
	if len(zones) == 0 {
		for _, z := range s.catalog.regions[c.region].Zones {
			zones = append(zones, z.Zone)
		}
	}
	var all []lighthouse.Bundle
	for i := range s.catalog.Bundles {
		b := &s.catalog.Bundles[i]
		if len(req.BundleIds) > 0 && !slices.Contains(req.BundleIds, b.BundleId) {
			continue
		}
		if !matchBundle(b, req.Filters) {
			continue
		}
		all = append(all, bundleView(b, zones))
	}
	return &lighthouse.DescribeBundlesResponse{BundleSet: page(all, req.Offset, limit), TotalCount: int64(len(all)), RequestId: c.requestID}, nil
}

// bundleView is b as DescribeBundles shows it, AVAILABLE when it is sold
// in one of zones.
func bundleView(b *CatalogBundle, zones []string) lighthouse.Bundle {
	sales := "SOLD_OUT"
	for _, z := range zones {
		if !b.Offline && !b.soldOutIn(z) {
			sales = "AVAILABLE"
		}
	}
	return lighthouse.Bundle{
		BundleId:                 b.BundleId,
		Memory:                   b.Memory,
		SystemDiskType:           b.SystemDiskType,
		SystemDiskSize:           b.SystemDiskSize,
		MonthlyTraffic:           b.MonthlyTraffic,
		SupportLinuxUnixPlatform: b.supports(platformLinux),
		SupportWindowsPlatform:   b.supports(platformWindows),
		Price:                    lighthouse.Price{InstancePrice: priceOf(b, 1, 1)},
		CPU:                      b.CPU,
		InternetMaxBandwidthOut:  b.Bandwidth,
		InternetChargeType:       "TRAFFIC_POSTPAID_BY_HOUR",
		BundleSalesState:         sales,
		BundleType:               b.BundleType,
		BundleTypeDescription:    bundleTypeDescription(b.BundleType),
		BundleDisplayLabel:       "NORMAL",
	}
}

// matchBundle ANDs bundle filters (validated by checkFilters against
// bundleFilterNames); the values of one filter are ORed.
func matchBundle(b *CatalogBundle, fs []lighthouse.Filter) bool {
	state := "ONLINE"
	if b.Offline {
		state = "OFFLINE"
	}
	for _, f := range fs {
		var ok bool
		switch f.Name {
		case "bundle-id":
			ok = slices.Contains(f.Values, b.BundleId)
		case "support-platform-type":
			ok = slices.ContainsFunc(f.Values, b.supports)
		case "bundle-type":
			ok = slices.Contains(f.Values, b.BundleType)
		case "bundle-state":
			ok = slices.Contains(f.Values, state)
		}
		if !ok {
			return false
		}
	}
	return true
}

func bundleTypeDescription(t string) string {
	name := strings.TrimSuffix(t, "_BUNDLE")
	return strings.ToUpper(name[:1]) + strings.ToLower(name[1:]) + " bundle"
}

// page returns items[offset:offset+limit], never nil.
func page[T any](items []T, offset, limit int64) []T {
	out := []T{}
	for i := offset; i < int64(len(items)) && i < offset+limit; i++ {
		out = append(out, items[i])
	}
	return out
}

var blueprintFilterNames = []string{
	"blueprint-id", "blueprint-type", "platform-type", "blueprint-name", "blueprint-state", "scene-id", "tag-key", "tag-value",
}

func (s *Server) describeBlueprints(c *call) (any, *apiError) {
	const a = lighthouse.ActionDescribeBlueprints
	var req lighthouse.DescribeBlueprintsRequest
	if aerr := decodeParams(c, &req); aerr != nil {
		return nil, aerr
	}
	if aerr := checkIDsOrFilters(a, "BlueprintIds", req.BlueprintIds, req.Filters); aerr != nil {
		return nil, aerr
	}
	for i, id := range req.BlueprintIds {
		if !reBlueprintID.MatchString(id) {
			return nil, errf(codeBlueprintIDMalformed, "%s: BlueprintIds[%d] %q is malformed", a, i, id)
		}
	}
	if aerr := checkFilters(a, req.Filters, blueprintFilterNames, true, 100); aerr != nil {
		return nil, aerr
	}
	limit, aerr := checkPage(a, req.Offset, req.Limit)
	if aerr != nil {
		return nil, aerr
	}
	var all []lighthouse.Blueprint
	for _, bp := range s.catalog.Blueprints {
		if len(req.BlueprintIds) > 0 && !slices.Contains(req.BlueprintIds, bp.BlueprintId) {
			continue
		}
		if !matchBlueprint(&bp, req.Filters) {
			continue
		}
		all = append(all, blueprintView(&bp))
	}
	return &lighthouse.DescribeBlueprintsResponse{TotalCount: int64(len(all)), BlueprintSet: page(all, req.Offset, limit), RequestId: c.requestID}, nil
}

// matchBlueprint ANDs blueprint filters (validated by checkFilters); the
// values of one filter are ORed.
func matchBlueprint(bp *CatalogBlueprint, fs []lighthouse.Filter) bool {
	for _, f := range fs {
		var ok bool
		switch f.Name {
		case "blueprint-id":
			ok = slices.Contains(f.Values, bp.BlueprintId)
		case "blueprint-type":
			ok = slices.Contains(f.Values, bp.BlueprintType)
		case "platform-type":
			ok = slices.Contains(f.Values, bp.PlatformType)
		case "blueprint-name":
			ok = slices.Contains(f.Values, bp.DisplayTitle+" "+bp.DisplayVersion)
		case "blueprint-state":
			ok = slices.Contains(f.Values, "NORMAL")
		default: // scene-id and tags: built-in blueprints have none
		}
		if !ok {
			return false
		}
	}
	return true
}

// blueprintView is bp as DescribeBlueprints shows it.
func blueprintView(bp *CatalogBlueprint) lighthouse.Blueprint {
	var docker *string
	if bp.DockerVersion != "" {
		v := bp.DockerVersion
		docker = &v
	}
	return lighthouse.Blueprint{
		BlueprintId:            bp.BlueprintId,
		DisplayTitle:           bp.DisplayTitle,
		DisplayVersion:         bp.DisplayVersion,
		OsName:                 bp.OsName,
		Platform:               bp.Platform,
		PlatformType:           bp.PlatformType,
		BlueprintType:          bp.BlueprintType,
		ImageUrl:               "https://lighthouse.emulator.invalid/blueprints/" + bp.BlueprintId + ".png",
		RequiredSystemDiskSize: bp.RequiredSystemDiskSize,
		BlueprintState:         "NORMAL",
		BlueprintName:          bp.DisplayTitle + " " + bp.DisplayVersion,
		SupportAutomationTools: true,
		RequiredMemorySize:     bp.RequiredMemorySize,
		ImageId:                "img-" + bp.BlueprintId[len("lhbp-"):],
		SceneIdSet:             []string{},
		DockerVersion:          docker,
		Tags:                   []lighthouse.Tag{},
	}
}

func (s *Server) describeZones(c *call) (any, *apiError) {
	const a = lighthouse.ActionDescribeZones
	var req lighthouse.DescribeZonesRequest
	if aerr := decodeParams(c, &req); aerr != nil {
		return nil, aerr
	}
	if req.OrderField != "" && req.OrderField != "ZONE" && req.OrderField != "INSTANCE_DISPLAY_LABEL" {
		return nil, errf(codeInvalidParamValue, "%s: OrderField %q is not ZONE or INSTANCE_DISPLAY_LABEL", a, req.OrderField)
	}
	if req.Order != "" && req.Order != "ASC" && req.Order != "DESC" {
		return nil, errf(codeInvalidParamValue, "%s: Order %q is not ASC or DESC", a, req.Order)
	}
	var zones []lighthouse.ZoneInfo
	for i, z := range s.catalog.regions[c.region].Zones {
		label := "NORMAL"
		if i == 0 {
			label = "SELECTED"
		}
		zones = append(zones, lighthouse.ZoneInfo{Zone: z.Zone, ZoneName: z.Name, InstanceDisplayLabel: label})
	}
	rank := map[string]int{"SELECTED": 0, "NORMAL": 1, "HIDDEN": 2}
	slices.SortStableFunc(zones, func(x, y lighthouse.ZoneInfo) int {
		cmp := strings.Compare(x.Zone, y.Zone)
		if req.OrderField == "INSTANCE_DISPLAY_LABEL" {
			cmp = rank[x.InstanceDisplayLabel] - rank[y.InstanceDisplayLabel]
		}
		if req.Order == "DESC" {
			cmp = -cmp
		}
		return cmp
	})
	return &lighthouse.DescribeZonesResponse{TotalCount: int64(len(zones)), ZoneInfoSet: zones, RequestId: c.requestID}, nil
}

func (s *Server) describeRegions(c *call) (any, *apiError) {
	var req lighthouse.DescribeRegionsRequest
	if aerr := decodeParams(c, &req); aerr != nil {
		return nil, aerr
	}
	var regions []lighthouse.RegionInfo
	for _, r := range s.catalog.Regions {
		regions = append(regions, lighthouse.RegionInfo{Region: r.Region, RegionName: r.Name, RegionState: "AVAILABLE", IsChinaMainland: r.ChinaMainland})
	}
	return &lighthouse.DescribeRegionsResponse{TotalCount: int64(len(regions)), RegionSet: regions, RequestId: c.requestID}, nil
}

// otherQuotas are the non-instance quota names and their fixed totals.
var otherQuotas = map[string]int64{
	"USER_KEY_PAIR": 100, "SNAPSHOT": 20, "BLUEPRINT": 20, "FREE_BLUEPRINT": 20, "DATA_DISK": 20,
}

var instanceQuotaTypes = []string{
	"GENERAL", "STORAGE", "ENTERPRISE", "EXCLUSIVE", "BEFAST", "STARTER", "HK_EXCLUSIVE", "CAREFREE",
	"NEWCOMER", "GAME_PORTAL", "ECONOMY", "BUDGET", "RAZOR_SPEED", "BANDWIDTH",
}

func isInstanceQuota(name string) bool {
	if name == "EXCLUSIVE_BUNDLE_02_INSTANCE" {
		return true
	}
	t, ok := strings.CutSuffix(name, "_BUNDLE_INSTANCE")
	return ok && slices.Contains(instanceQuotaTypes, t)
}

func (s *Server) describeQuotas(c *call) (any, *apiError) {
	const a = lighthouse.ActionDescribeGeneralResourceQuotas
	var req lighthouse.DescribeGeneralResourceQuotasRequest
	if aerr := decodeParams(c, &req); aerr != nil {
		return nil, aerr
	}
	if len(req.ResourceNames) == 0 {
		return nil, errf(codeMissingParameter, "%s: ResourceNames is required", a)
	}
	out := []lighthouse.GeneralResourceQuota{}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.advance(c.now)
	for i, name := range req.ResourceNames {
		if total, ok := otherQuotas[name]; ok {
			out = append(out, lighthouse.GeneralResourceQuota{ResourceName: name, ResourceQuotaAvailable: total, ResourceQuotaTotal: total})
			continue
		}
		if !isInstanceQuota(name) {
			return nil, errf(codeInvalidQuotaName, "%s: ResourceNames[%d] %q is not a quota name", a, i, name)
		}
		total := s.quota(name)
		if total < 0 {
			total = 1 << 31
		}
		used := s.usage[c.region+"/"+name]
		out = append(out, lighthouse.GeneralResourceQuota{ResourceName: name, ResourceQuotaAvailable: max(total-used, 0), ResourceQuotaTotal: total})
	}
	return &lighthouse.DescribeGeneralResourceQuotasResponse{GeneralResourceQuotaSet: out, RequestId: c.requestID}, nil
}

func (s *Server) inquirePrice(c *call) (any, *apiError) {
	const a = lighthouse.ActionInquirePriceCreateInstances
	var req lighthouse.InquirePriceCreateInstancesRequest
	if aerr := decodeParams(c, &req); aerr != nil {
		return nil, aerr
	}
	if req.BundleId == "" {
		return nil, errf(codeMissingParameter, "%s: BundleId is required", a)
	}
	if req.InstanceChargePrepaid == nil {
		return nil, errf(codeMissingParameter, "%s: InstanceChargePrepaid is required", a)
	}
	if aerr := validateCharge(a, req.InstanceChargePrepaid); aerr != nil {
		return nil, aerr
	}
	count := req.InstanceCount
	if present(c, "InstanceCount") && (count < 1 || count > 30) {
		return nil, errf(codeOutOfRange, "%s: InstanceCount %d is out of range 1..30", a, count)
	}
	if count == 0 {
		count = 1
	}
	b, ok := s.catalog.bundles[req.BundleId]
	if !ok {
		return nil, errf(codeBundleIDNotFound, "%s: bundle %q does not exist", a, req.BundleId)
	}
	if req.BlueprintId != "" {
		if !reBlueprintID.MatchString(req.BlueprintId) {
			return nil, errf(codeBlueprintIDMalformed, "%s: BlueprintId %q is malformed", a, req.BlueprintId)
		}
		bp, ok := s.catalog.blueprints[req.BlueprintId]
		if !ok {
			return nil, errf(codeBlueprintIDNotFound, "%s: blueprint %q does not exist", a, req.BlueprintId)
		}
		if !b.supports(bp.PlatformType) {
			return nil, errf(codeNotSupportPlatform, "%s: bundle %s does not support the %s platform of blueprint %s", a, b.BundleId, bp.PlatformType, bp.BlueprintId)
		}
	}
	return &lighthouse.InquirePriceCreateInstancesResponse{
		Price:     lighthouse.Price{InstancePrice: priceOf(b, req.InstanceChargePrepaid.Period, count)},
		RequestId: c.requestID,
	}, nil
}
