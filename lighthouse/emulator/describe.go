package emulator

import (
	"slices"
	"strings"

	"github.com/lightkeeper/lightkeeper/lighthouse"
)

// instanceFilterNames are DescribeInstances' filters (models.go,
// DescribeInstancesRequestParams.Filters). There is no instance-id filter,
// in any version of the SDK: a lookup by ID is InstanceIds (which cannot
// be combined with Filters), and a filter named instance-id is refused
// with InvalidParameter.InvalidFilterNotSupportedName.
var instanceFilterNames = []string{
	"instance-name", "private-ip-address", "public-ip-address", "zone", "instance-state",
	"tag-key", "tag-value", "bundle-id",
}

// checkPage validates Offset and Limit and returns the effective limit
// (default 20, at most 100).
func checkPage(a string, offset, limit int64) (int64, *apiError) {
	if offset < 0 {
		return 0, errf(codeNegative, "%s: Offset %d is negative", a, offset)
	}
	if limit < 0 || limit > 100 {
		return 0, errf(codeOutOfRange, "%s: Limit %d is out of range 0..100", a, limit)
	}
	if limit == 0 {
		limit = 20
	}
	return limit, nil
}

// checkFilters validates filter names against names (tag:<key> allowed
// when tags is set) and the number of filters and values.
func checkFilters(a string, fs []lighthouse.Filter, names []string, tags bool, maxValues int) *apiError {
	if len(fs) > 10 {
		return errf(codeValueLimitExceeded, "%s: Filters has %d filters; at most 10", a, len(fs))
	}
	for i, f := range fs {
		ok := slices.Contains(names, f.Name) || tags && strings.HasPrefix(f.Name, "tag:") && len(f.Name) > len("tag:")
		if !ok {
			return errf(codeFilterNotSupportedName, "%s: Filters[%d].Name %q is not supported (supported: %s)", a, i, f.Name, strings.Join(names, ", "))
		}
		if len(f.Values) == 0 {
			return errf(codeInvalidFilter, "%s: Filters[%d] (%s) needs at least one value", a, i, f.Name)
		}
		if len(f.Values) > maxValues {
			return errf(codeFilterValueLimitExceeded, "%s: Filters[%d] (%s) has %d values; at most %d", a, i, f.Name, len(f.Values), maxValues)
		}
	}
	return nil
}

// checkIDsOrFilters enforces the rule every Describe action shares: IDs or
// Filters, never both, and at most 100 IDs.
func checkIDsOrFilters(a, field string, ids []string, filters []lighthouse.Filter) *apiError {
	if len(ids) > 0 && len(filters) > 0 {
		return errf(codeParameterConflict, "%s: %s and Filters cannot be used together", a, field)
	}
	if len(ids) > 100 {
		return errf(codeValueLimitExceeded, "%s: %s has %d IDs; at most 100", a, field, len(ids))
	}
	return nil
}

func (s *Server) describeInstances(c *call) (any, *apiError) {
	const a = lighthouse.ActionDescribeInstances
	var req lighthouse.DescribeInstancesRequest
	if aerr := decodeParams(c, &req); aerr != nil {
		return nil, aerr
	}
	if aerr := s.checkSite(c, intlDescribeAbsent); aerr != nil {
		return nil, aerr
	}
	if aerr := checkIDsOrFilters(a, "InstanceIds", req.InstanceIds, req.Filters); aerr != nil {
		return nil, aerr
	}
	ids := map[string]bool{}
	for i, id := range req.InstanceIds {
		if !reInstanceID.MatchString(id) {
			return nil, errf(codeInstanceIDMalformed, "%s: InstanceIds[%d] %q is malformed (want lhins- and 8 lowercase letters or digits)", a, i, id)
		}
		if ids[id] {
			return nil, errf(codeDuplicated, "%s: InstanceIds[%d] %q is duplicated", a, i, id)
		}
		ids[id] = true
	}
	names := instanceFilterNames
	if s.cfg.Site == SiteIntl {
		names = intlInstanceFilterNames
	}
	if aerr := checkFilters(a, req.Filters, names, true, 100); aerr != nil {
		return nil, aerr
	}
	limit, aerr := checkPage(a, req.Offset, req.Limit)
	if aerr != nil {
		return nil, aerr
	}
	if req.OrderField != "" && req.OrderField != "EXPIRED_TIME" {
		return nil, errf(codeInvalidParamValue, "%s: OrderField %q is not supported; use EXPIRED_TIME", a, req.OrderField)
	}
	switch req.Order {
	case "":
	case "ASC", "DESC":
		// The China SDK's models.go: "当传入该字段时，必须指定OrderField"
		// (when Order is given, OrderField must be given too); the code
		// is in DescribeInstances' error list in client.go.
		if req.OrderField == "" {
			return nil, errf(codeOrderFieldRequired, "%s: Order %s needs OrderField", a, req.Order)
		}
	default:
		return nil, errf(codeInvalidParamValue, "%s: Order %q is not ASC or DESC", a, req.Order)
	}
	lag := s.describeLag()
	visibleAfter := c.now.Add(-lag)

	resp := &lighthouse.DescribeInstancesResponse{InstanceSet: []lighthouse.Instance{}, RequestId: c.requestID}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.advance(c.now)
	visible := func(in *instance) bool {
		return in.Region == c.region && (lag <= 0 || !in.Created.After(visibleAfter))
	}
	if s.cfg.DescribeMissingAsError {
		for i, id := range req.InstanceIds {
			if in, ok := s.instances[id]; !ok || !visible(in) {
				return nil, errf(codeInstanceIDNotFound, "%s: InstanceIds[%d] %q does not exist in %s", a, i, id, c.region)
			}
		}
	}
	filters := matchFilters(req.Filters, s.cfg.InstanceNameMatch)
	match := func(in *instance) bool {
		if !visible(in) {
			return false
		}
		if len(ids) > 0 {
			return ids[in.InstanceId]
		}
		return filters(in)
	}
	if req.OrderField != "" {
		var all []*instance
		for _, in := range s.order {
			if match(in) {
				all = append(all, in)
			}
		}
		slices.SortStableFunc(all, func(x, y *instance) int {
			cmp := strings.Compare(deref(x.ExpiredTime), deref(y.ExpiredTime))
			if req.Order == "DESC" {
				cmp = -cmp
			}
			return cmp
		})
		resp.TotalCount = int64(len(all))
		for i := req.Offset; i < int64(len(all)) && i < req.Offset+limit; i++ {
			resp.InstanceSet = append(resp.InstanceSet, all[i].Instance)
		}
		return s.forSite(resp), nil
	}
	// Default order: SHUTDOWN first, then the rest, each newest first.
	// s.order is creation order, so two backward sweeps need no sort.
	var n int64
	for _, shutdown := range []bool{true, false} {
		for i := len(s.order) - 1; i >= 0; i-- {
			in := s.order[i]
			if (in.InstanceState == lighthouse.StateShutdown) != shutdown || !match(in) {
				continue
			}
			if n >= req.Offset && n < req.Offset+limit {
				resp.InstanceSet = append(resp.InstanceSet, in.Instance)
			}
			n++
		}
	}
	resp.TotalCount = n
	return s.forSite(resp), nil
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// matchFilters returns the test of DescribeInstances' filters: ANDed,
// the values of one filter ORed; names is how instance-name matches
// (Config.InstanceNameMatch). The values are put in a set once, so that a
// filter of 100 names over 10,000 instances is not a million compares.
func matchFilters(fs []lighthouse.Filter, names NameMatch) func(*instance) bool {
	tests := make([]func(*instance) bool, len(fs))
	for i, f := range fs {
		tests[i] = matchFilter(f, names)
	}
	return func(in *instance) bool {
		for _, t := range tests {
			if !t(in) {
				return false
			}
		}
		return true
	}
}

func matchFilter(f lighthouse.Filter, names NameMatch) func(*instance) bool {
	set := make(map[string]bool, len(f.Values))
	for _, v := range f.Values {
		set[v] = true
	}
	has := func(v string) bool { return set[v] }
	switch f.Name {
	case "instance-name":
		if names == NameSubstring {
			return func(in *instance) bool {
				return slices.ContainsFunc(f.Values, func(v string) bool { return strings.Contains(in.InstanceName, v) })
			}
		}
		return func(in *instance) bool { return has(in.InstanceName) }
	case "private-ip-address":
		return func(in *instance) bool { return slices.ContainsFunc(in.PrivateAddresses, has) }
	case "public-ip-address":
		return func(in *instance) bool { return slices.ContainsFunc(in.PublicAddresses, has) }
	case "zone":
		return func(in *instance) bool { return has(in.Zone) }
	case "instance-state":
		return func(in *instance) bool { return has(in.InstanceState) }
	case "bundle-id":
		return func(in *instance) bool { return has(in.BundleId) }
	case "tag-key":
		return func(in *instance) bool {
			return slices.ContainsFunc(in.Tags, func(t lighthouse.Tag) bool { return has(t.Key) })
		}
	case "tag-value":
		return func(in *instance) bool {
			return slices.ContainsFunc(in.Tags, func(t lighthouse.Tag) bool { return has(t.Value) })
		}
	}
	key := strings.TrimPrefix(f.Name, "tag:")
	return func(in *instance) bool {
		return slices.ContainsFunc(in.Tags, func(t lighthouse.Tag) bool { return t.Key == key && has(t.Value) })
	}
}
