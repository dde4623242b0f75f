package spec

import (
	"fmt"
	"slices"
	"strings"

	"github.com/lightkeeper/lightkeeper/schema"
)

// knownRegions are the Tencent Cloud regions that offer Lighthouse, as
// DescribeRegions listed them when this build was made: the Chinese
// mainland, then the rest by id. A region opened later is accepted with
// Options.ExtraRegions (validate --region-allow).
var knownRegions = []string{
	// Chinese mainland
	"ap-beijing", "ap-chengdu", "ap-chongqing", "ap-guangzhou", "ap-nanjing", "ap-shanghai",
	// elsewhere
	"ap-bangkok", "ap-hongkong", "ap-jakarta", "ap-mumbai", "ap-seoul", "ap-singapore", "ap-tokyo",
	"eu-frankfurt", "eu-moscow", "na-ashburn", "na-siliconvalley", "na-toronto", "sa-saopaulo",
}

// KnownRegions returns the Lighthouse regions this build knows, sorted.
func KnownRegions() []string {
	return slices.Sorted(slices.Values(knownRegions))
}

// regionProblem explains a region that is neither known nor allowed by
// extra, or "".
func regionProblem(region string, extra []string) string {
	if slices.Contains(knownRegions, region) || slices.Contains(extra, region) {
		return ""
	}
	candidates := append(slices.Clone(knownRegions), extra...)
	if s := schema.Suggest(region, candidates); s != "" {
		return fmt.Sprintf("unknown Lighthouse region %q; did you mean %q? (a region newer than this build: validate --region-allow %s)", region, s, region)
	}
	return fmt.Sprintf("unknown Lighthouse region %q; known: %s (a region newer than this build: validate --region-allow %s)",
		region, strings.Join(KnownRegions(), ", "), region)
}
