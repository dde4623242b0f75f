package lighthouse

import (
	"net/url"
	"strings"
)

// Sites, as a front end names them (reconcile --site, the daemon's
// api.site).
const (
	SiteAuto  = "auto"  // decided by the endpoint (TakesTags)
	SiteChina = "china" // takes Tags on CreateInstances
	SiteIntl  = "intl"  // takes none
)

// TakesTags reports whether CreateInstances takes Tags where creates go:
// SiteChina says yes and SiteIntl no (its CreateInstances has no Tags
// parameter and refuses one as UnknownParameter); SiteAuto or "" decides
// by the endpoint. The China site's endpoints take tags: EndpointDefault
// ("" too) and the regional hosts lighthouse.<region>.tencentcloudapi.com
// (EndpointRegional); so does a loopback http endpoint, an emulator, which
// serves the China site by default. EndpointIntl takes none, and neither,
// as far as can be told, does any other URL (a proxy): name the site there.
func TakesTags(site, endpoint string) bool {
	switch site {
	case SiteChina:
		return true
	case SiteIntl:
		return false
	}
	if endpoint == "" || endpoint == EndpointRegional {
		return true
	}
	u, err := url.Parse(strings.TrimSuffix(endpoint, "/"))
	if err == nil && u.Scheme == "http" && IsLoopbackHost(u.Hostname()) {
		// Plain http is allowed for loopback only: an emulator, which
		// (lightkeeper emulator, the in-process one, emulatortest) serves
		// the China site by default.
		return true
	}
	if err != nil || u.Scheme != "https" {
		return false
	}
	host := u.Hostname()
	if host == "lighthouse.intl.tencentcloudapi.com" {
		return false
	}
	return host == "lighthouse.tencentcloudapi.com" ||
		strings.HasPrefix(host, "lighthouse.") && strings.HasSuffix(host, ".tencentcloudapi.com") && strings.Count(host, ".") == 3
}
