package emulator

import (
	"encoding/base64"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/lightkeeper/lightkeeper/lighthouse"
)

var validPeriods = []int64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 24, 36, 48, 60}

// createPlan is a validated CreateInstances request.
type createPlan struct {
	req       lighthouse.CreateInstancesRequest
	bundle    *CatalogBundle
	blueprint *CatalogBlueprint
	count     uint64
	price     lighthouse.InstancePrice
}

func (s *Server) createInstances(c *call) (any, *apiError) {
	var req lighthouse.CreateInstancesRequest
	if aerr := decodeParams(c, &req); aerr != nil {
		return nil, aerr
	}
	if aerr := s.checkSite(c, intlCreateAbsent); aerr != nil {
		return nil, aerr
	}
	if aerr := s.checkIntlContainers(c); aerr != nil {
		return nil, aerr
	}
	p, aerr := s.validateCreate(c, req)
	if aerr != nil {
		return nil, aerr
	}
	fp := fingerprint(req, p.count)

	s.mu.Lock()
	defer s.mu.Unlock()
	s.advance(c.now)
	if !req.DryRun {
		switch outcome, e := s.lookupToken(c.region, req.ClientToken, fp, c.now); outcome {
		case tokenReplay:
			return &lighthouse.CreateInstancesResponse{InstanceIdSet: slices.Clone(e.InstanceIds), RequestId: c.requestID}, nil
		case tokenRejected:
			return nil, errf(codeIdempotentParamMismatch, "CreateInstances: ClientToken %q was already used with other parameters or for instances that are gone; use a new token", req.ClientToken)
		}
	}
	zones, aerr := s.pickZones(c, p)
	if aerr != nil {
		return nil, aerr
	}
	quotaKey := c.region + "/" + p.bundle.quotaName()
	if limit := s.quota(p.bundle.quotaName()); limit >= 0 && s.usage[quotaKey]+int64(p.count) > limit {
		return nil, errf(codeQuotaExceeded, "CreateInstances: %s quota in %s is %d instances, %d in use; %d more requested", p.bundle.quotaName(), c.region, limit, s.usage[quotaKey], p.count)
	}
	if !s.affordable(p.price.DiscountPrice) {
		return nil, s.insufficient(c.action, p.price.DiscountPrice)
	}
	if req.DryRun {
		if s.cfg.DryRunAsError {
			return nil, errf(codeDryRunOperation, "CreateInstances: the dry run passed; nothing was created")
		}
		return &lighthouse.CreateInstancesResponse{InstanceIdSet: []string{}, RequestId: c.requestID}, nil
	}
	ids := make([]string, 0, p.count)
	for i := range p.count {
		in := s.newInstance(c, p, zones[int(i)%len(zones)])
		in.Quota = quotaKey
		s.usage[quotaKey]++
		s.instances[in.InstanceId] = in
		s.order = append(s.order, in)
		result := lighthouse.StateRunning
		if s.cfg.LaunchFailureProbability > 0 && s.rng.Float64() < s.cfg.LaunchFailureProbability {
			result = lighthouse.StateLaunchFailed
		}
		s.startOp(in, c, lighthouse.StatePending, result, s.cfg.LaunchDelay)
		s.scheduleExpiry(in)
		ids = append(ids, in.InstanceId)
	}
	s.spent += p.price.DiscountPrice
	s.rememberToken(c.region, req.ClientToken, fp, ids, c.now)
	return &lighthouse.CreateInstancesResponse{InstanceIdSet: slices.Clone(ids), RequestId: c.requestID}, nil
}

// quota is the per-region limit of a quota name; negative = unlimited.
func (s *Server) quota(name string) int64 {
	if q, ok := s.cfg.Quotas[name]; ok {
		return q
	}
	return DefaultQuota
}

// pickZones returns the zones to place instances in, round-robin: the
// requested ones, or one random zone of the region where the bundle is not
// sold out. s.mu held (it draws from the seeded generator).
func (s *Server) pickZones(c *call, p *createPlan) ([]string, *apiError) {
	if len(p.req.Zones) > 0 {
		for _, z := range p.req.Zones {
			if p.bundle.soldOutIn(z) {
				return nil, errf(codeBundleSoldOut, "CreateInstances: bundle %s is sold out in zone %s; pick another zone or bundle", p.bundle.BundleId, z)
			}
		}
		return p.req.Zones, nil
	}
	var open []string
	for _, z := range s.catalog.regions[c.region].Zones {
		if !p.bundle.soldOutIn(z.Zone) {
			open = append(open, z.Zone)
		}
	}
	if len(open) == 0 {
		return nil, errf(codeBundleSoldOut, "CreateInstances: bundle %s is sold out in every zone of %s", p.bundle.BundleId, c.region)
	}
	return []string{open[s.rng.IntN(len(open))]}, nil
}

func (s *Server) newInstance(c *call, p *createPlan, zone string) *instance {
	id := s.nextID("lhins-")
	n := s.idSeq
	created := fmtTime(c.now)
	renew := p.req.InstanceChargePrepaid.RenewFlag
	if renew == "" {
		renew = lighthouse.RenewNotifyManual
	}
	name := p.req.InstanceName
	if name == "" {
		name = strings.ReplaceAll(p.blueprint.DisplayTitle, " ", "-") + "-" + strings.ToUpper(id[6:10])
	}
	keyIDs := []string{}
	if lc := p.req.LoginConfiguration; lc != nil && len(lc.KeyIds) > 0 {
		keyIDs = slices.Clone(lc.KeyIds)
	}
	tags := slices.Clone(p.req.Tags)
	if tags == nil {
		tags = []lighthouse.Tag{}
	}
	in := &instance{
		Instance: lighthouse.Instance{
			InstanceId:         id,
			BundleId:           p.bundle.BundleId,
			BlueprintId:        p.blueprint.BlueprintId,
			CPU:                p.bundle.CPU,
			Memory:             p.bundle.Memory,
			InstanceName:       name,
			InstanceChargeType: "PREPAID",
			SystemDisk: lighthouse.SystemDisk{
				DiskType: p.bundle.SystemDiskType,
				DiskSize: p.bundle.SystemDiskSize,
				DiskId:   s.nextID("lhdisk-"),
			},
			PrivateAddresses: []string{fmt.Sprintf("10.%d.%d.%d", 0+(n>>16)&0xff, (n>>8)&0xff, 2+n%250)},
			PublicAddresses:  []string{},
			InternetAccessible: lighthouse.InternetAccessible{
				InternetChargeType:      "TRAFFIC_POSTPAID_BY_HOUR",
				InternetMaxBandwidthOut: p.bundle.Bandwidth,
			},
			RenewFlag:             renew,
			LoginSettings:         lighthouse.LoginSettings{KeyIds: keyIDs},
			Uuid:                  s.nextUUID(),
			CreatedTime:           created,
			ExpiredTime:           fmtTime(addMonths(c.now, p.req.InstanceChargePrepaid.Period)),
			PlatformType:          p.blueprint.PlatformType,
			Platform:              p.blueprint.Platform,
			OsName:                p.blueprint.OsName,
			Zone:                  zone,
			Tags:                  tags,
			InstanceRestrictState: "NORMAL",
		},
		Region:    c.region,
		Created:   c.now,
		PublicIP:  fmt.Sprintf("43.%d.%d.%d", 128+(n>>16)&0x7f, (n>>8)&0xff, 1+n%254),
		ClientTok: p.req.ClientToken,
	}
	if p.req.InitCommand != nil {
		inv := s.nextID("inv-")
		in.InitInvocationId = &inv
	}
	return in
}

func addMonths(t time.Time, months int64) time.Time {
	return t.AddDate(0, int(months), 0)
}

// validateCreate checks every parameter of a create that does not depend
// on the account's state, in the order the service reports them.
func (s *Server) validateCreate(c *call, req lighthouse.CreateInstancesRequest) (*createPlan, *apiError) {
	const a = lighthouse.ActionCreateInstances
	if req.BundleId == "" {
		return nil, errf(codeMissingParameter, "%s: BundleId is required", a)
	}
	if req.BlueprintId == "" {
		return nil, errf(codeMissingParameter, "%s: BlueprintId is required", a)
	}
	if req.InstanceChargePrepaid == nil {
		return nil, errf(codeMissingParameter, "%s: InstanceChargePrepaid is required (Period in months, optional RenewFlag)", a)
	}
	if aerr := validateCharge(a, req.InstanceChargePrepaid); aerr != nil {
		return nil, aerr
	}
	p := &createPlan{req: req, count: req.InstanceCount}
	if present(c, "InstanceCount") && (req.InstanceCount < 1 || req.InstanceCount > 30) {
		return nil, errf(codeOutOfRange, "%s: InstanceCount %d is out of range 1..30", a, req.InstanceCount)
	}
	if p.count == 0 {
		p.count = 1
	}
	if len(req.ClientToken) > 64 {
		return nil, errf(codeClientTokenTooLong, "%s: ClientToken is %d characters; at most 64", a, len(req.ClientToken))
	}
	for _, r := range req.ClientToken {
		if r > unicode.MaxASCII || !unicode.IsPrint(r) {
			return nil, errf(codeInvalidParamValue, "%s: ClientToken must be printable ASCII", a)
		}
	}
	if n := len([]rune(req.InstanceName)); n > 60 {
		return nil, errf(codeInstanceNameTooLong, "%s: InstanceName is %d characters; at most 60", a, n)
	}
	b, ok := s.catalog.bundles[req.BundleId]
	if !ok {
		return nil, errf(codeBundleIDNotFound, "%s: bundle %q does not exist; see DescribeBundles", a, req.BundleId)
	}
	if b.Offline {
		return nil, errf(codeBundleUnavailable, "%s: bundle %q is not sold through the API", a, req.BundleId)
	}
	p.bundle = b
	if !reBlueprintID.MatchString(req.BlueprintId) {
		return nil, errf(codeBlueprintIDMalformed, "%s: BlueprintId %q is malformed (want lhbp- and 8 lowercase letters or digits)", a, req.BlueprintId)
	}
	bp, ok := s.catalog.blueprints[req.BlueprintId]
	if !ok {
		return nil, errf(codeBlueprintIDNotFound, "%s: blueprint %q does not exist; see DescribeBlueprints", a, req.BlueprintId)
	}
	p.blueprint = bp
	if !b.supports(bp.PlatformType) {
		return nil, errf(codeNotSupportPlatform, "%s: bundle %s does not support the %s platform of blueprint %s", a, b.BundleId, bp.PlatformType, bp.BlueprintId)
	}
	if b.Memory < bp.RequiredMemorySize || b.SystemDiskSize < bp.RequiredSystemDiskSize {
		return nil, errf(codeBundleBlueprintNotMatch, "%s: blueprint %s needs %d GB memory and a %d GB disk; bundle %s has %d GB and %d GB", a, bp.BlueprintId, bp.RequiredMemorySize, bp.RequiredSystemDiskSize, b.BundleId, b.Memory, b.SystemDiskSize)
	}
	seenZone := map[string]bool{}
	for i, z := range req.Zones {
		if s.catalog.zoneRegion[z] != c.region {
			return nil, errf(codeZoneInvalid, "%s: Zones[%d] %q is not a zone of %s", a, i, z, c.region)
		}
		if seenZone[z] {
			return nil, errf(codeDuplicated, "%s: Zones[%d] %q is duplicated", a, i, z)
		}
		seenZone[z] = true
	}
	if aerr := s.validateLogin(a, c.region, req.LoginConfiguration, bp.PlatformType, s.cfg.AllowLinuxPassword); aerr != nil {
		return nil, aerr
	}
	if aerr := validateTags(a, req.Tags); aerr != nil {
		return nil, aerr
	}
	if aerr := validateContainers(a, req.Containers); aerr != nil {
		return nil, aerr
	}
	if ic := req.InitCommand; ic != nil {
		if ic.Content == "" {
			return nil, errf(codeMissingParameter, "%s: InitCommand.Content is required", a)
		}
		raw, err := base64.StdEncoding.DecodeString(ic.Content)
		if err != nil {
			return nil, errf(codeInvalidParamValue, "%s: InitCommand.Content is not base64: %v", a, err)
		}
		if len(raw) > 64<<10 {
			return nil, errf(codeInitCommandTooLong, "%s: InitCommand.Content decodes to %d bytes; at most 64 KB", a, len(raw))
		}
		if ic.Timeout != 0 && (ic.Timeout < 1 || ic.Timeout > 86400) {
			return nil, errf(codeOutOfRange, "%s: InitCommand.Timeout %d is out of range 1..86400", a, ic.Timeout)
		}
	}
	if (req.DomainName != "" || req.Subdomain != "") && p.count > 1 {
		return nil, errf(codeParameterConflict, "%s: DomainName and Subdomain need InstanceCount 1", a)
	}
	if ft := req.FirewallTemplateId; ft != "" {
		if !reFirewallID.MatchString(ft) {
			return nil, errf(codeFirewallIDMalformed, "%s: FirewallTemplateId %q is malformed", a, ft)
		}
		if !s.catalog.firewalls[ft] {
			return nil, errf(codeFirewallNotFound, "%s: firewall template %q does not exist", a, ft)
		}
	}
	p.price = priceOf(b, req.InstanceChargePrepaid.Period, int64(p.count))
	return p, nil
}

func validateCharge(a string, ch *lighthouse.InstanceChargePrepaid) *apiError {
	if ch.Period == 0 {
		return errf(codeMissingParameter, "%s: InstanceChargePrepaid.Period is required", a)
	}
	if !slices.Contains(validPeriods, ch.Period) {
		return errf(codeOutOfRange, "%s: InstanceChargePrepaid.Period %d is not one of 1-12, 24, 36, 48, 60", a, ch.Period)
	}
	switch ch.RenewFlag {
	case "", lighthouse.RenewNotifyAuto, lighthouse.RenewNotifyManual, lighthouse.RenewDisableNotifyManual:
		return nil
	}
	return errf(codeInvalidParamValue, "%s: InstanceChargePrepaid.RenewFlag %q is not one of %s, %s, %s", a, ch.RenewFlag, lighthouse.RenewNotifyAuto, lighthouse.RenewNotifyManual, lighthouse.RenewDisableNotifyManual)
}

// validateLogin checks a LoginConfiguration for an instance of platform in
// region; linuxPassword accepts a password for a LINUX_UNIX blueprint.
func (s *Server) validateLogin(a, region string, lc *lighthouse.LoginConfiguration, platform string, linuxPassword bool) *apiError {
	if lc == nil {
		return nil
	}
	switch lc.AutoGeneratePassword {
	case "", "YES", "NO":
	default:
		return errf(codeInvalidParamValue, "%s: LoginConfiguration.AutoGeneratePassword %q is not YES or NO", a, lc.AutoGeneratePassword)
	}
	if lc.Password != "" && len(lc.KeyIds) > 0 {
		return errf(codeParameterConflict, "%s: LoginConfiguration.Password and KeyIds are mutually exclusive", a)
	}
	if lc.Password != "" && lc.AutoGeneratePassword == "YES" {
		return errf(codeParameterConflict, "%s: LoginConfiguration.Password conflicts with AutoGeneratePassword YES", a)
	}
	if len(lc.KeyIds) > 0 {
		if platform == platformWindows {
			return errf(codeWindowsKeyPair, "%s: Windows instances do not support key pairs; use LoginConfiguration.Password", a)
		}
		if len(lc.KeyIds) > 5 {
			return errf(codeValueLimitExceeded, "%s: LoginConfiguration.KeyIds has %d IDs; at most 5", a, len(lc.KeyIds))
		}
		for i, k := range lc.KeyIds {
			if !reKeyPairID.MatchString(k) {
				return errf(codeKeyPairIDMalformed, "%s: LoginConfiguration.KeyIds[%d] %q is malformed (want lhkp- and 8 lowercase letters or digits)", a, i, k)
			}
			// ResourceNotFound.KeyPairNotFound is in CreateInstances' error
			// list (the China SDK's client.go; errors.go: the key pair does
			// not exist). A key pair of another region is not found either.
			if !s.catalog.keyPairs[region+"/"+k] {
				return errf(codeKeyPairNotFound, "%s: LoginConfiguration.KeyIds[%d]: key pair %q does not exist in %s", a, i, k, region)
			}
		}
	}
	if lc.Password == "" {
		return nil
	}
	minLen := 12
	if platform == platformLinux {
		if !linuxPassword {
			return errf(codeLinuxPassword, "%s: a password cannot be set when creating a LINUX_UNIX instance; use KeyIds or set the password later", a)
		}
		minLen = 8
	}
	if !validPassword(lc.Password, minLen) {
		// The message never repeats the password.
		return errf(codeInvalidPassword, "%s: LoginConfiguration.Password must be %d-30 characters with at least 3 of lowercase, uppercase, digits and ()`~!@#$%%^&*-+=_|{}[]:;'<>,.?/, no spaces, not starting with /", a, minLen)
	}
	return nil
}

func validPassword(p string, minLen int) bool {
	if len(p) < minLen || len(p) > 30 || strings.HasPrefix(p, "/") {
		return false
	}
	const specials = "()`~!@#$%^&*-+=_|{}[]:;'<>,.?/"
	var classes [4]bool
	for _, r := range p {
		switch {
		case r >= 'a' && r <= 'z':
			classes[0] = true
		case r >= 'A' && r <= 'Z':
			classes[1] = true
		case r >= '0' && r <= '9':
			classes[2] = true
		case strings.ContainsRune(specials, r):
			classes[3] = true
		default:
			return false
		}
	}
	n := 0
	for _, c := range classes {
		if c {
			n++
		}
	}
	return n >= 3
}

func validateTags(a string, tags []lighthouse.Tag) *apiError {
	if len(tags) > 10 {
		return errf(codeValueLimitExceeded, "%s: Tags has %d tags; at most 10", a, len(tags))
	}
	seen := map[string]bool{}
	for i, t := range tags {
		if t.Key == "" {
			return errf(codeMissingParameter, "%s: Tags[%d].Key is required", a, i)
		}
		if len(t.Key) > 127 || len(t.Value) > 255 {
			return errf(codeInvalidParamValue, "%s: Tags[%d]: keys are at most 127 and values at most 255 characters", a, i)
		}
		if seen[t.Key] {
			return errf(codeDuplicated, "%s: Tags[%d].Key %q is duplicated", a, i, t.Key)
		}
		seen[t.Key] = true
	}
	return nil
}

func validateContainers(a string, cs []lighthouse.DockerContainerConfiguration) *apiError {
	for i, ct := range cs {
		if ct.ContainerImage == "" {
			return errf(codeMissingParameter, "%s: Containers[%d].ContainerImage is required", a, i)
		}
		switch rp := ct.RestartPolicy; {
		case rp == "", rp == "no", rp == "always", rp == "on-failure":
		case strings.HasPrefix(rp, "on-failure:") && isDigits(rp[len("on-failure:"):]):
		default:
			return errf(codeInvalidParamValue, "%s: Containers[%d].RestartPolicy %q is not no, on-failure, on-failure:N or always", a, i, rp)
		}
		for j, e := range ct.Envs {
			if e.Key == "" {
				return errf(codeMissingParameter, "%s: Containers[%d].Envs[%d].Key is required", a, i, j)
			}
		}
		for j, pp := range ct.PublishPorts {
			if pp.HostPort < 1 || pp.HostPort > 65535 || pp.ContainerPort < 1 || pp.ContainerPort > 65535 {
				return errf(codeOutOfRange, "%s: Containers[%d].PublishPorts[%d]: ports must be in 1..65535", a, i, j)
			}
			switch pp.Protocol {
			case "", "tcp", "udp", "sctp":
			default:
				return errf(codeInvalidParamValue, "%s: Containers[%d].PublishPorts[%d].Protocol %q is not tcp, udp or sctp", a, i, j, pp.Protocol)
			}
		}
		for j, v := range ct.Volumes {
			if v.ContainerPath == "" || v.HostPath == "" {
				return errf(codeMissingParameter, "%s: Containers[%d].Volumes[%d]: ContainerPath and HostPath are required", a, i, j)
			}
		}
	}
	return nil
}

func isDigits(s string) bool {
	return s != "" && strings.Trim(s, "0123456789") == ""
}

// priceOf is the price of count instances of b for period months.
func priceOf(b *CatalogBundle, period, count int64) lighthouse.InstancePrice {
	discount := b.Discount
	if discount == 0 {
		discount = 100
	}
	orig := round2(b.MonthlyPrice * float64(period*count))
	disc := round2(orig * discount / 100)
	return lighthouse.InstancePrice{
		OriginalBundlePrice: b.MonthlyPrice,
		OriginalPrice:       orig,
		Discount:            discount,
		DiscountPrice:       disc,
		Currency:            "CNY",
		DetailPrices: []lighthouse.DetailPrice{{
			PriceName:       "Instance",
			OriginUnitPrice: b.MonthlyPrice,
			OriginalPrice:   orig,
			Discount:        discount,
			DiscountPrice:   disc,
		}},
	}
}

func round2(f float64) float64 { return math.Round(f*100) / 100 }
