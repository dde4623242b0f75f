package emulator

import (
	"fmt"
	"slices"

	"github.com/lightkeeper/lightkeeper/lighthouse"
)

// resetBlueprintFilterNames are DescribeResetInstanceBlueprints' filters
// (models.go, DescribeResetInstanceBlueprintsRequestParams.Filters).
var resetBlueprintFilterNames = []string{"blueprint-id", "blueprint-type", "platform-type", "blueprint-name", "blueprint-state"}

// intlResetAbsent are the ResetInstanceRequestParams fields of the China
// SDK that the international SDK does not have.
var intlResetAbsent = []string{"LoginConfiguration"}

// resettable says whether in can be reset to bp: the code and message
// ResetInstance answers when it cannot, "" when it can.
//
//   - A switch between LINUX_UNIX and WINDOWS: "非中国大陆地域的实例不支持使用该接口实现LIUNX_UNIX和WINDOWS操作系统切换"
//     (instances outside mainland China cannot switch; the China SDK's
//     client.go), while the international SDK says the API does not
//     support the switch at all: the China site allows it in mainland
//     regions only (CatalogRegion.ChinaMainland), the international site
//     nowhere. Code InvalidParameterValue.NotAllowToChangePlatformType.
//   - A blueprint the bundle cannot run (its platform, or more memory or
//     disk than the bundle has): InvalidParameterValue.BlueprintConfigNotMatch
//     ("该实例配置不符合指定镜像的要求").
func (s *Server) resettable(in *instance, bp *CatalogBlueprint) (code, msg string) {
	if bp.PlatformType != in.PlatformType {
		switch {
		case s.cfg.Site == SiteIntl:
			return codeNotAllowChangePlatform, fmt.Sprintf("switching between %s and %s is not supported", in.PlatformType, bp.PlatformType)
		case !s.catalog.regions[in.Region].ChinaMainland:
			return codeNotAllowChangePlatform, fmt.Sprintf("switching between %s and %s is not supported outside mainland China (%s)", in.PlatformType, bp.PlatformType, in.Region)
		}
	}
	b := s.catalog.bundles[in.BundleId]
	switch {
	case b == nil:
		return codeBlueprintConfigNotMatch, fmt.Sprintf("the instance's bundle %s is no longer sold", in.BundleId)
	case !b.supports(bp.PlatformType):
		return codeBlueprintConfigNotMatch, fmt.Sprintf("bundle %s does not support the %s platform of blueprint %s", b.BundleId, bp.PlatformType, bp.BlueprintId)
	case b.Memory < bp.RequiredMemorySize || b.SystemDiskSize < bp.RequiredSystemDiskSize:
		return codeBlueprintConfigNotMatch, fmt.Sprintf("blueprint %s needs %d GB memory and a %d GB disk; bundle %s has %d GB and %d GB", bp.BlueprintId, bp.RequiredMemorySize, bp.RequiredSystemDiskSize, b.BundleId, b.Memory, b.SystemDiskSize)
	}
	return "", ""
}

func (s *Server) describeResetBlueprints(c *call) (any, *apiError) {
	var req lighthouse.DescribeResetInstanceBlueprintsRequest
	if aerr := decodeParams(c, &req); aerr != nil {
		return nil, aerr
	}
	items, total, aerr := optionsOf(s, c, req.InstanceId, req.Filters, resetBlueprintFilterNames, req.Offset, req.Limit, func(in *instance) ([]lighthouse.ResetInstanceBlueprint, *apiError) {
		var all []lighthouse.ResetInstanceBlueprint
		for i := range s.catalog.Blueprints {
			bp := &s.catalog.Blueprints[i]
			if !matchBlueprint(bp, req.Filters) {
				continue
			}
			_, msg := s.resettable(in, bp)
			all = append(all, lighthouse.ResetInstanceBlueprint{BlueprintInfo: blueprintView(bp), IsResettable: msg == "", NonResettableMessage: msg})
		}
		return all, nil
	})
	if aerr != nil {
		return nil, aerr
	}
	return &lighthouse.DescribeResetInstanceBlueprintsResponse{TotalCount: total, ResetInstanceBlueprintSet: items, RequestId: c.requestID}, nil
}

func (s *Server) resetInstance(c *call) (any, *apiError) {
	var req lighthouse.ResetInstanceRequest
	if aerr := decodeParams(c, &req); aerr != nil {
		return nil, aerr
	}
	if aerr := s.checkSite(c, intlResetAbsent); aerr != nil {
		return nil, aerr
	}
	if aerr := s.checkIntlContainers(c); aerr != nil {
		return nil, aerr
	}
	if req.BlueprintId != "" && !reBlueprintID.MatchString(req.BlueprintId) {
		return nil, errf(codeBlueprintIDMalformed, "%s: BlueprintId %q is malformed (want lhbp- and 8 lowercase letters or digits)", c.action, req.BlueprintId)
	}
	if aerr := validateContainers(c.action, req.Containers); aerr != nil {
		return nil, aerr
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.advance(c.now)
	in, aerr := s.lookupInstance(c, "InstanceId", req.InstanceId)
	if aerr != nil {
		return nil, aerr
	}
	if aerr := s.deny(c, in, 0); aerr != nil {
		return nil, aerr
	}
	// "如果指定了 BlueprintId 参数，则使用指定的镜像重装，否则按照当前实例使用的镜像进行重装"
	// (with a BlueprintId that image, else the current one; client.go).
	id := req.BlueprintId
	if id == "" {
		id = in.BlueprintId
	}
	bp, ok := s.catalog.blueprints[id]
	if !ok {
		return nil, errf(codeBlueprintIDNotFound, "%s: blueprint %q does not exist; see DescribeResetInstanceBlueprints", c.action, id)
	}
	if code, msg := s.resettable(in, bp); code != "" {
		return nil, errf(code, "%s: instance %s cannot be reset to %s: %s; see DescribeResetInstanceBlueprints", c.action, in.InstanceId, bp.BlueprintId, msg)
	}
	// "仅重装的镜像类型为Docker时支持传入该参数" (Containers only with a
	// DOCKER blueprint; models.go).
	if len(req.Containers) > 0 && bp.BlueprintType != "DOCKER" {
		return nil, errf(codeInvalidParamCombination, "%s: Containers need a DOCKER blueprint; %s is %s", c.action, bp.BlueprintId, bp.BlueprintType)
	}
	if aerr := s.validateResetLogin(c, req.LoginConfiguration, bp.PlatformType); aerr != nil {
		return nil, aerr
	}
	var keys []string
	if lc := req.LoginConfiguration; lc != nil {
		keys = slices.Clone(lc.KeyIds)
	}
	s.begin(in, c, in.InstanceState, in.InstanceState, &change{BlueprintId: bp.BlueprintId, KeyIds: keys})
	return &lighthouse.ResetInstanceResponse{RequestId: c.requestID}, nil
}

// validateResetLogin checks a reset's LoginConfiguration as a create's,
// except that a Linux password is allowed (the create-only refusal is not
// in ResetInstance's error list) and an automatically generated password
// is refused with UnsupportedOperation.OperationNotSupportAutoGeneratePassword,
// which is.
func (s *Server) validateResetLogin(c *call, lc *lighthouse.LoginConfiguration, platform string) *apiError {
	if lc == nil {
		return nil
	}
	if lc.AutoGeneratePassword == "YES" {
		return errf(codeNoAutoGeneratePassword, "%s: LoginConfiguration.AutoGeneratePassword YES is not supported for a reset; give a Password or KeyIds", c.action)
	}
	return s.validateLogin(c.action, c.region, lc, platform, true)
}
