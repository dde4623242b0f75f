package reconcile

import (
	"fmt"
	"slices"
	"strings"

	"github.com/lightkeeper/lightkeeper/spec"
)

// siteProblem reports what of fleet f the international site cannot
// create, where DiffOptions.Tags says the site takes no tags: its
// CreateInstances takes no Tags and its DockerContainerConfiguration has no
// RestartPolicy (tencentcloud-sdk-go-intl-en, lighthouse/v20200324/models.go).
// A restart policy is refused rather than dropped, so that no container runs
// other than the spec says; user tags are only noted, as the spec documents
// that they are sent where the site takes them.
func siteProblem(fp *FleetPlan, f *spec.Fleet, tags bool) {
	if tags {
		return
	}
	s := f.Spec
	for i, c := range s.Containers {
		if c.RestartPolicy != "" {
			fp.Error = &FleetError{Field: fmt.Sprintf("spec.containers[%d].restartPolicy", i),
				Message: fmt.Sprintf("spec.containers[%d].restartPolicy: the international site takes no restart policy on create; remove it, or use the China site's endpoint (--site china if that is what the endpoint is)", i)}
			return
		}
	}
	if len(s.Tags) > 0 {
		keys := make([]string, 0, len(s.Tags))
		for k := range s.Tags {
			keys = append(keys, k)
		}
		fp.Notes = appendOnce(fp.Notes, fmt.Sprintf("spec.tags (%s) are not sent: the international site takes no tags on create", strings.Join(slices.Sorted(slices.Values(keys)), ", ")))
	}
}
