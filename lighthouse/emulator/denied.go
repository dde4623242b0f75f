package emulator

import "github.com/lightkeeper/lightkeeper/lighthouse"

// deniable are the actions DescribeInstancesDeniedActions reports on: the
// actions on existing instances the emulator serves. (The service reports
// others too, such as StartInstances, in the same form.)
var deniable = []string{
	lighthouse.ActionResetInstance,
	lighthouse.ActionModifyInstancesBundle,
	lighthouse.ActionRenewInstances,
	lighthouse.ActionModifyInstancesRenewFlag,
	lighthouse.ActionIsolateInstances,
	lighthouse.ActionTerminateInstances,
}

// describeDeniedActions tells, per instance, which actions it may not do
// now, with the code and message the action would answer (see deny), plus
// OperationDenied.BundleNotSupportModify for ModifyInstancesBundle when no
// bundle is an available upgrade for it.
func (s *Server) describeDeniedActions(c *call) (any, *apiError) {
	var req lighthouse.DescribeInstancesDeniedActionsRequest
	if aerr := decodeParams(c, &req); aerr != nil {
		return nil, aerr
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.advance(c.now)
	// "每次请求批量实例的上限为 100" (models.go), over it
	// InvalidParameterValue.LimitExceeded (in its error list).
	ins, aerr := s.lookupInstances(c, req.InstanceIds, lighthouse.MaxDeniedActionsIDs, codeValueLimitExceeded)
	if aerr != nil {
		return nil, aerr
	}
	resp := &lighthouse.DescribeInstancesDeniedActionsResponse{InstanceDeniedActionSet: make([]lighthouse.InstanceDeniedActions, 0, len(ins)), RequestId: c.requestID}
	for _, in := range ins {
		out := lighthouse.InstanceDeniedActions{InstanceId: in.InstanceId, DeniedActions: []lighthouse.DeniedAction{}}
		for _, a := range deniable {
			ac := &call{action: a, region: c.region, now: c.now}
			aerr := s.deny(ac, in, 0)
			if aerr == nil && a == lighthouse.ActionModifyInstancesBundle && !s.canUpgrade(in) {
				aerr = errf(codeBundleNotSupportModify, "%s: no bundle is an available upgrade for instance %s (bundle %s in %s); see DescribeModifyInstanceBundles", a, in.InstanceId, in.BundleId, in.Zone)
			}
			if aerr != nil {
				out.DeniedActions = append(out.DeniedActions, lighthouse.DeniedAction{Action: a, Code: aerr.Code, Message: aerr.Message})
			}
		}
		resp.InstanceDeniedActionSet = append(resp.InstanceDeniedActionSet, out)
	}
	return resp, nil
}
