package lighthouse

import (
	"net/url"
	"strings"
)

// Sites, as a configuration or a flag names them.
const (
	// SiteChina is the China site: CreateInstances takes Tags.
	SiteChina = "china"
	// SiteIntl is the international site: CreateInstances takes no Tags.
	SiteIntl = "intl"
	// SiteAuto decides by the endpoint (see SendsTags).
	SiteAuto = "auto"
)

// SendsTags reports whether creates should carry Tags: always for
// SiteChina, never for SiteIntl, and for SiteAuto (or "") when the
// endpoint is the China site's: "" (EndpointDefault), EndpointRegional, an
// https lighthouse.REGION.tencentcloudapi.com host, or plain http to a
// loopback address (an emulator, which serves the China site by default).
// The international endpoint and any other server get none.
func SendsTags(site, endpoint string) bool {
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
