package lighthouse_test

import (
	"testing"

	"github.com/lightkeeper/lightkeeper/lighthouse"
)

func TestTakesTags(t *testing.T) {
	for _, tc := range []struct {
		site, endpoint string
		want           bool
	}{
		{lighthouse.SiteAuto, "", true},
		{"", "", true},
		{lighthouse.SiteAuto, lighthouse.EndpointDefault, true},
		{lighthouse.SiteAuto, lighthouse.EndpointDefault + "/", true},
		{lighthouse.SiteAuto, lighthouse.EndpointRegional, true},
		{lighthouse.SiteAuto, "https://lighthouse.ap-guangzhou.tencentcloudapi.com", true},
		{lighthouse.SiteAuto, lighthouse.EndpointIntl, false},
		{lighthouse.SiteAuto, "http://127.0.0.1:9100", true},
		{lighthouse.SiteAuto, "http://localhost:9100/", true},
		{lighthouse.SiteAuto, "http://[::1]:9100", true},
		{lighthouse.SiteIntl, "http://127.0.0.1:9100", false},
		{lighthouse.SiteAuto, "https://lighthouse.example.com", false},
		{lighthouse.SiteAuto, "https://lighthouse.a.b.tencentcloudapi.com", false},
		{lighthouse.SiteChina, "http://127.0.0.1:9100", true},
		{lighthouse.SiteIntl, "", false},
	} {
		if got := lighthouse.TakesTags(tc.site, tc.endpoint); got != tc.want {
			t.Errorf("TakesTags(%q, %q) = %v, want %v", tc.site, tc.endpoint, got, tc.want)
		}
	}
}
