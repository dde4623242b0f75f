package lighthouse_test

import (
	"testing"

	"github.com/lightkeeper/lightkeeper/lighthouse"
)

func TestSendsTags(t *testing.T) {
	for _, tc := range []struct {
		site, endpoint string
		want           bool
	}{
		{"auto", "", true},
		{"auto", lighthouse.EndpointDefault, true},
		{"auto", lighthouse.EndpointDefault + "/", true},
		{"auto", lighthouse.EndpointRegional, true},
		{"auto", "https://lighthouse.ap-guangzhou.tencentcloudapi.com", true},
		{"auto", lighthouse.EndpointIntl, false},
		{"auto", "http://127.0.0.1:9100", true},
		{"auto", "http://localhost:9100/", true},
		{"auto", "http://[::1]:9100", true},
		{"intl", "http://127.0.0.1:9100", false},
		{"auto", "https://lighthouse.example.com", false},
		{"china", "http://127.0.0.1:9100", true},
		{"intl", "", false},
	} {
		if got := lighthouse.SendsTags(tc.site, tc.endpoint); got != tc.want {
			t.Errorf("SendsTags(%q, %q) = %v, want %v", tc.site, tc.endpoint, got, tc.want)
		}
	}
}
