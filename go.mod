module github.com/lightkeeper/lightkeeper

go 1.26.0

require (
	github.com/distribution/reference v0.6.0
	github.com/hashicorp/go-retryablehttp v0.7.8
	github.com/santhosh-tekuri/jsonschema/v6 v6.0.3
	github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common v1.3.211
	go.yaml.in/yaml/v3 v3.0.6
	golang.org/x/time v0.16.0
)

require (
	github.com/hashicorp/go-cleanhttp v0.5.2 // indirect
	github.com/opencontainers/go-digest v1.0.0 // indirect
	golang.org/x/text v0.14.0 // indirect
)
