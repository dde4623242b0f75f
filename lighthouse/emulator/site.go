package emulator

import (
	"encoding/json"
	"fmt"

	"github.com/lightkeeper/lightkeeper/lighthouse"
)

// Site is the Tencent Cloud site whose API the emulator imitates. The China
// site (cloud.tencent.com, SDK TencentCloud/tencentcloud-sdk-go) and the
// international site (www.tencentcloud.com, SDK
// TencentCloud/tencentcloud-sdk-go-intl-en) serve the same action names
// with different parameters and response fields.
type Site string

// Sites.
const (
	// SiteChina is the China site: every parameter and field of
	// tencentcloud-sdk-go tencentcloud/lighthouse/v20200324/models.go.
	SiteChina Site = "china"
	// SiteIntl is the international site: only the parameters and fields of
	// tencentcloud-sdk-go-intl-en tencentcloud/lighthouse/v20200324/models.go
	// and the international CreateInstances page (intl:1103/45859, the
	// project's seed page).
	SiteIntl Site = "intl"
)

// intlCreateAbsent are the CreateInstancesRequestParams fields of the China
// SDK that the international SDK and the international CreateInstances
// page do not have (models.go of both SDKs at the revisions named in
// lighthouse-api.md). The international site answers a request naming one
// of them as any request with an undefined parameter: UnknownParameter
// (common error codes, https://cloud.tencent.com/document/product/213/30435).
var intlCreateAbsent = []string{"FirewallTemplateId", "Tags", "InitCommand", "DomainName", "Subdomain"}

// intlDescribeAbsent are the DescribeInstancesRequestParams fields the
// international SDK does not have.
var intlDescribeAbsent = []string{"OrderField", "Order"}

// checkIntlContainers refuses, on the international site, a container with
// RestartPolicy: the international SDK's DockerContainerConfiguration has
// no such field (the China SDK's has).
func (s *Server) checkIntlContainers(c *call) *apiError {
	if s.cfg.Site != SiteIntl {
		return nil
	}
	var body struct {
		Containers []map[string]json.RawMessage
	}
	if json.Unmarshal(c.body, &body) != nil {
		return nil // decodeParams already accepted the body; nothing to add
	}
	for i, ct := range body.Containers {
		if _, ok := ct["RestartPolicy"]; ok {
			return errf(codeUnknownParameter, "%s: the parameter Containers[%d].RestartPolicy is not recognized (the international site does not take it)", c.action, i)
		}
	}
	return nil
}

// intlInstanceFilterNames are DescribeInstances' filter names on the
// international site: its SDK's DescribeInstancesRequestParams.Filters
// comment lists no bundle-id filter.
var intlInstanceFilterNames = []string{
	"instance-name", "private-ip-address", "public-ip-address", "zone", "instance-state",
	"tag-key", "tag-value",
}

// checkSite refuses, on the international site, a request that names one
// of the parameters absent there. The body is decoded once for all of them
// (present would decode it per name).
func (s *Server) checkSite(c *call, absent []string) *apiError {
	if s.cfg.Site != SiteIntl {
		return nil
	}
	var body map[string]json.RawMessage
	if json.Unmarshal(c.body, &body) != nil {
		return nil // as present: an undecodable body names no parameter
	}
	for _, name := range absent {
		if _, ok := body[name]; ok {
			return errf(codeUnknownParameter, "%s: the parameter %s is not recognized (the international site does not take it)", c.action, name)
		}
	}
	return nil
}

// intlInstance is an Instance as the international site's DescribeInstances
// returns it: the fields of the international SDK's Instance struct, which
// lacks LatestOperationStartedTime, SupportIpv6Detail, PublicIpv6Addresses,
// InitInvocationId and InstanceViolationDetail of the China SDK's. Each of
// those is hidden by a field of the same JSON name here, which encoding/json
// prefers to the embedded one and, nil with omitempty, never writes.
type intlInstance struct {
	lighthouse.Instance
	LatestOperationStartedTime *struct{} `json:"LatestOperationStartedTime,omitempty"`
	SupportIpv6Detail          *struct{} `json:"SupportIpv6Detail,omitempty"`
	PublicIpv6Addresses        *struct{} `json:"PublicIpv6Addresses,omitempty"`
	InitInvocationId           *struct{} `json:"InitInvocationId,omitempty"`
	InstanceViolationDetail    *struct{} `json:"InstanceViolationDetail,omitempty"`
}

// intlDescribeResponse is DescribeInstances' response on the international
// site.
type intlDescribeResponse struct {
	TotalCount  int64          `json:"TotalCount"`
	InstanceSet []intlInstance `json:"InstanceSet"`
	RequestId   string         `json:"RequestId"`
}

// forSite returns resp as the configured site shows it.
func (s *Server) forSite(resp *lighthouse.DescribeInstancesResponse) any {
	if s.cfg.Site != SiteIntl {
		return resp
	}
	out := &intlDescribeResponse{TotalCount: resp.TotalCount, InstanceSet: make([]intlInstance, 0, len(resp.InstanceSet)), RequestId: resp.RequestId}
	for _, in := range resp.InstanceSet {
		out.InstanceSet = append(out.InstanceSet, intlInstance{Instance: in})
	}
	return out
}

// validSite checks Config.Site; "" means SiteChina.
func validSite(s *Site) error {
	switch *s {
	case "":
		*s = SiteChina
	case SiteChina, SiteIntl:
	default:
		return fmt.Errorf("emulator: Config.Site: unknown site %q (want %q or %q)", *s, SiteChina, SiteIntl)
	}
	return nil
}
