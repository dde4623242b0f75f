package lighthouse

// This file holds the wire types of the actions lightkeeper uses, with the
// API's own PascalCase field names. Optional request fields are omitted when
// zero; nullable response fields are pointers.

// Tag is a user tag on an instance.
type Tag struct {
	Key   string `json:"Key"`
	Value string `json:"Value"`
}

// Filter narrows a Describe call: Values of one filter are ORed, filters ANDed.
type Filter struct {
	Name   string   `json:"Name"`
	Values []string `json:"Values"`
}

// InstanceChargePrepaid is the monthly prepaid plan of a new instance.
type InstanceChargePrepaid struct {
	Period    int64  `json:"Period"`              // months: 1-12, 24, 36, 48, 60
	RenewFlag string `json:"RenewFlag,omitempty"` // NOTIFY_AND_AUTO_RENEW | NOTIFY_AND_MANUAL_RENEW | DISABLE_NOTIFY_AND_MANUAL_RENEW
}

// Renew flags of InstanceChargePrepaid.RenewFlag.
const (
	RenewNotifyAuto          = "NOTIFY_AND_AUTO_RENEW"
	RenewNotifyManual        = "NOTIFY_AND_MANUAL_RENEW"
	RenewDisableNotifyManual = "DISABLE_NOTIFY_AND_MANUAL_RENEW"
)

// LoginConfiguration sets how one logs in to a new instance. Password and
// KeyIds are mutually exclusive.
type LoginConfiguration struct {
	AutoGeneratePassword string   `json:"AutoGeneratePassword,omitempty"` // YES | NO
	Password             string   `json:"Password,omitempty"`
	KeyIds               []string `json:"KeyIds,omitempty"`
}

// ContainerEnv is one environment variable of a container.
type ContainerEnv struct {
	Key   string `json:"Key"`
	Value string `json:"Value"`
}

// DockerContainerPublishPort maps a host port to a container port.
type DockerContainerPublishPort struct {
	HostPort      int64  `json:"HostPort"`
	ContainerPort int64  `json:"ContainerPort"`
	Ip            string `json:"Ip,omitempty"`       // default 0.0.0.0
	Protocol      string `json:"Protocol,omitempty"` // tcp | udp | sctp
}

// DockerContainerVolume mounts a host path into a container.
type DockerContainerVolume struct {
	ContainerPath string `json:"ContainerPath"`
	HostPath      string `json:"HostPath"`
}

// DockerContainerConfiguration is a container started on a new instance.
type DockerContainerConfiguration struct {
	ContainerImage string                       `json:"ContainerImage"`
	ContainerName  string                       `json:"ContainerName,omitempty"`
	Envs           []ContainerEnv               `json:"Envs,omitempty"`
	PublishPorts   []DockerContainerPublishPort `json:"PublishPorts,omitempty"`
	Volumes        []DockerContainerVolume      `json:"Volumes,omitempty"`
	Command        string                       `json:"Command,omitempty"`
	RestartPolicy  string                       `json:"RestartPolicy,omitempty"` // no | on-failure | on-failure:N | always
}

// Command is a script run once on a new instance (InitCommand).
type Command struct {
	Content          string `json:"Content"` // base64, at most 64 KB
	Timeout          int64  `json:"Timeout,omitempty"`
	WorkingDirectory string `json:"WorkingDirectory,omitempty"`
	Username         string `json:"Username,omitempty"`
}

// CreateInstancesRequest buys new instances. Every attempt of one logical
// create must carry the same ClientToken and body. ClientToken is documented
// only as a client-chosen string of at most 64 ASCII characters that makes
// the request idempotent; how long the service remembers it is not
// documented (see Client.CreateInstances for what lightkeeper assumes).
type CreateInstancesRequest struct {
	BundleId              string                         `json:"BundleId"`
	BlueprintId           string                         `json:"BlueprintId"`
	InstanceChargePrepaid *InstanceChargePrepaid         `json:"InstanceChargePrepaid"`
	InstanceName          string                         `json:"InstanceName,omitempty"`
	InstanceCount         uint64                         `json:"InstanceCount,omitempty"` // 1-30, default 1
	Zones                 []string                       `json:"Zones,omitempty"`
	DryRun                bool                           `json:"DryRun,omitempty"`
	ClientToken           string                         `json:"ClientToken,omitempty"` // at most 64 ASCII characters
	LoginConfiguration    *LoginConfiguration            `json:"LoginConfiguration,omitempty"`
	Containers            []DockerContainerConfiguration `json:"Containers,omitempty"`
	AutoVoucher           bool                           `json:"AutoVoucher,omitempty"`
	FirewallTemplateId    string                         `json:"FirewallTemplateId,omitempty"`
	Tags                  []Tag                          `json:"Tags,omitempty"` // at most 10
	InitCommand           *Command                       `json:"InitCommand,omitempty"`
	DomainName            string                         `json:"DomainName,omitempty"`
	Subdomain             string                         `json:"Subdomain,omitempty"`
}

// CreateInstancesResponse lists the IDs of the new instances. An ID does
// not mean success: the instance may still end in LAUNCH_FAILED. A DryRun
// that passes returns no IDs.
type CreateInstancesResponse struct {
	InstanceIdSet []string `json:"InstanceIdSet"`
	RequestId     string   `json:"RequestId"`
}

// DescribeInstancesRequest lists instances by ID or by filters, never both.
type DescribeInstancesRequest struct {
	InstanceIds []string `json:"InstanceIds,omitempty"` // at most 100
	Filters     []Filter `json:"Filters,omitempty"`     // at most 10, each at most 100 values
	Offset      int64    `json:"Offset,omitempty"`
	Limit       int64    `json:"Limit,omitempty"`      // default 20, at most 100
	OrderField  string   `json:"OrderField,omitempty"` // EXPIRED_TIME
	Order       string   `json:"Order,omitempty"`      // ASC | DESC
}

// DescribeInstancesResponse is one page of instances.
type DescribeInstancesResponse struct {
	TotalCount  int64      `json:"TotalCount"`
	InstanceSet []Instance `json:"InstanceSet"`
	RequestId   string     `json:"RequestId"`
}

// Instance states (InstanceState).
const (
	StatePending         = "PENDING"
	StateLaunchFailed    = "LAUNCH_FAILED"
	StateRunning         = "RUNNING"
	StateStopped         = "STOPPED"
	StateStarting        = "STARTING"
	StateStopping        = "STOPPING"
	StateRebooting       = "REBOOTING"
	StateShutdown        = "SHUTDOWN" // isolated, awaiting destruction
	StateTerminating     = "TERMINATING"
	StateDeleting        = "DELETING"
	StateFreezing        = "FREEZING"
	StateEnterRescueMode = "ENTER_RESCUE_MODE"
	StateRescueMode      = "RESCUE_MODE"
	StateExitRescueMode  = "EXIT_RESCUE_MODE"
)

// Latest operation states (LatestOperationState).
const (
	OperationSuccess   = "SUCCESS"
	OperationOperating = "OPERATING"
	OperationFailed    = "FAILED"
)

// SystemDisk is an instance's system disk.
type SystemDisk struct {
	DiskType string `json:"DiskType"`
	DiskSize int64  `json:"DiskSize"`
	DiskId   string `json:"DiskId"`
}

// InternetAccessible is an instance's public network setting.
type InternetAccessible struct {
	InternetChargeType      string `json:"InternetChargeType"`
	InternetMaxBandwidthOut int64  `json:"InternetMaxBandwidthOut"`
	PublicIpAssigned        bool   `json:"PublicIpAssigned"`
}

// LoginSettings are an instance's login settings.
type LoginSettings struct {
	KeyIds []string `json:"KeyIds"`
}

// SupportIpv6Detail says whether an instance can have IPv6.
type SupportIpv6Detail struct {
	IsSupport bool   `json:"IsSupport"`
	Detail    string `json:"Detail"`
	Message   string `json:"Message"`
}

// InstanceViolationDetail describes a compliance restriction on an instance.
type InstanceViolationDetail struct {
	Source  string `json:"Source"`
	State   string `json:"State"`
	Reason  string `json:"Reason"`
	Content string `json:"Content"`
}

// Instance is a Lighthouse instance as DescribeInstances returns it. Times
// are UTC "2006-01-02T15:04:05Z" strings; nullable fields are pointers.
type Instance struct {
	InstanceId                 string                   `json:"InstanceId"`
	BundleId                   string                   `json:"BundleId"`
	BlueprintId                string                   `json:"BlueprintId"`
	CPU                        int64                    `json:"CPU"`
	Memory                     int64                    `json:"Memory"` // GB
	InstanceName               string                   `json:"InstanceName"`
	InstanceChargeType         string                   `json:"InstanceChargeType"`
	SystemDisk                 SystemDisk               `json:"SystemDisk"`
	PrivateAddresses           []string                 `json:"PrivateAddresses"`
	PublicAddresses            []string                 `json:"PublicAddresses"`
	InternetAccessible         InternetAccessible       `json:"InternetAccessible"`
	RenewFlag                  string                   `json:"RenewFlag"`
	LoginSettings              LoginSettings            `json:"LoginSettings"`
	InstanceState              string                   `json:"InstanceState"`
	Uuid                       string                   `json:"Uuid"`
	LatestOperation            string                   `json:"LatestOperation"`
	LatestOperationState       string                   `json:"LatestOperationState"`
	LatestOperationRequestId   string                   `json:"LatestOperationRequestId"`
	LatestOperationStartedTime *string                  `json:"LatestOperationStartedTime"`
	IsolatedTime               *string                  `json:"IsolatedTime"`
	CreatedTime                *string                  `json:"CreatedTime"`
	ExpiredTime                *string                  `json:"ExpiredTime"`
	PlatformType               string                   `json:"PlatformType"`
	Platform                   string                   `json:"Platform"`
	OsName                     string                   `json:"OsName"`
	Zone                       string                   `json:"Zone"`
	Tags                       []Tag                    `json:"Tags"`
	InstanceRestrictState      string                   `json:"InstanceRestrictState"`
	SupportIpv6Detail          *SupportIpv6Detail       `json:"SupportIpv6Detail,omitempty"`
	PublicIpv6Addresses        []string                 `json:"PublicIpv6Addresses,omitempty"`
	InitInvocationId           *string                  `json:"InitInvocationId,omitempty"`
	InstanceViolationDetail    *InstanceViolationDetail `json:"InstanceViolationDetail,omitempty"`
}

// DescribeBundlesRequest lists bundles (instance plans).
type DescribeBundlesRequest struct {
	BundleIds []string `json:"BundleIds,omitempty"`
	Offset    int64    `json:"Offset,omitempty"`
	Limit     int64    `json:"Limit,omitempty"`
	Filters   []Filter `json:"Filters,omitempty"`
	Zones     []string `json:"Zones,omitempty"`
}

// DescribeBundlesResponse is one page of bundles.
type DescribeBundlesResponse struct {
	BundleSet  []Bundle `json:"BundleSet"`
	TotalCount int64    `json:"TotalCount"`
	RequestId  string   `json:"RequestId"`
}

// Bundle is an instance plan: size, disk, traffic and price.
type Bundle struct {
	BundleId                 string `json:"BundleId"`
	Memory                   int64  `json:"Memory"`
	SystemDiskType           string `json:"SystemDiskType"`
	SystemDiskSize           int64  `json:"SystemDiskSize"`
	MonthlyTraffic           int64  `json:"MonthlyTraffic"`
	SupportLinuxUnixPlatform bool   `json:"SupportLinuxUnixPlatform"`
	SupportWindowsPlatform   bool   `json:"SupportWindowsPlatform"`
	Price                    Price  `json:"Price"`
	CPU                      int64  `json:"CPU"`
	InternetMaxBandwidthOut  int64  `json:"InternetMaxBandwidthOut"`
	InternetChargeType       string `json:"InternetChargeType"`
	BundleSalesState         string `json:"BundleSalesState"` // AVAILABLE | SOLD_OUT
	BundleType               string `json:"BundleType"`
	BundleTypeDescription    string `json:"BundleTypeDescription"`
	BundleDisplayLabel       string `json:"BundleDisplayLabel"`
	TrafficUnlimited         *bool  `json:"TrafficUnlimited,omitempty"`
}

// Price wraps an instance price.
type Price struct {
	InstancePrice InstancePrice `json:"InstancePrice"`
}

// InstancePrice is the price of a bundle for a period.
type InstancePrice struct {
	OriginalBundlePrice float64       `json:"OriginalBundlePrice"`
	OriginalPrice       float64       `json:"OriginalPrice"`
	Discount            float64       `json:"Discount"` // percent; 100 means no discount
	DiscountPrice       float64       `json:"DiscountPrice"`
	Currency            string        `json:"Currency"` // CNY | USD
	DetailPrices        []DetailPrice `json:"DetailPrices,omitempty"`
}

// DetailPrice is one line of a price breakdown.
type DetailPrice struct {
	PriceName       string  `json:"PriceName"`
	OriginUnitPrice float64 `json:"OriginUnitPrice"`
	OriginalPrice   float64 `json:"OriginalPrice"`
	Discount        float64 `json:"Discount"`
	DiscountPrice   float64 `json:"DiscountPrice"`
}

// DescribeBlueprintsRequest lists blueprints (images).
type DescribeBlueprintsRequest struct {
	BlueprintIds []string `json:"BlueprintIds,omitempty"`
	Offset       int64    `json:"Offset,omitempty"`
	Limit        int64    `json:"Limit,omitempty"`
	Filters      []Filter `json:"Filters,omitempty"`
}

// DescribeBlueprintsResponse is one page of blueprints.
type DescribeBlueprintsResponse struct {
	TotalCount   int64       `json:"TotalCount"`
	BlueprintSet []Blueprint `json:"BlueprintSet"`
	RequestId    string      `json:"RequestId"`
}

// Blueprint is an image an instance can be created from.
type Blueprint struct {
	BlueprintId            string   `json:"BlueprintId"`
	DisplayTitle           string   `json:"DisplayTitle"`
	DisplayVersion         string   `json:"DisplayVersion"`
	Description            *string  `json:"Description"`
	OsName                 string   `json:"OsName"`
	Platform               string   `json:"Platform"`
	PlatformType           string   `json:"PlatformType"` // LINUX_UNIX | WINDOWS
	BlueprintType          string   `json:"BlueprintType"`
	ImageUrl               string   `json:"ImageUrl"`
	RequiredSystemDiskSize int64    `json:"RequiredSystemDiskSize"`
	BlueprintState         string   `json:"BlueprintState"`
	CreatedTime            *string  `json:"CreatedTime"`
	BlueprintName          string   `json:"BlueprintName"`
	SupportAutomationTools bool     `json:"SupportAutomationTools"`
	RequiredMemorySize     int64    `json:"RequiredMemorySize"`
	ImageId                string   `json:"ImageId"`
	CommunityUrl           string   `json:"CommunityUrl"`
	GuideUrl               string   `json:"GuideUrl"`
	SceneIdSet             []string `json:"SceneIdSet"`
	DockerVersion          *string  `json:"DockerVersion"`
	BlueprintShared        bool     `json:"BlueprintShared"`
	Tags                   []Tag    `json:"Tags"`
}

// DescribeZonesRequest lists the zones of the request's region.
type DescribeZonesRequest struct {
	OrderField string `json:"OrderField,omitempty"` // ZONE | INSTANCE_DISPLAY_LABEL
	Order      string `json:"Order,omitempty"`      // ASC | DESC
}

// DescribeZonesResponse lists zones.
type DescribeZonesResponse struct {
	TotalCount  int64      `json:"TotalCount"`
	ZoneInfoSet []ZoneInfo `json:"ZoneInfoSet"`
	RequestId   string     `json:"RequestId"`
}

// ZoneInfo is one availability zone.
type ZoneInfo struct {
	Zone                 string `json:"Zone"`
	ZoneName             string `json:"ZoneName"`
	InstanceDisplayLabel string `json:"InstanceDisplayLabel"` // HIDDEN | NORMAL | SELECTED
}

// DescribeRegionsRequest takes no parameters.
type DescribeRegionsRequest struct{}

// DescribeRegionsResponse lists regions.
type DescribeRegionsResponse struct {
	TotalCount int64        `json:"TotalCount"`
	RegionSet  []RegionInfo `json:"RegionSet"`
	RequestId  string       `json:"RequestId"`
}

// RegionInfo is one region.
type RegionInfo struct {
	Region          string `json:"Region"`
	RegionName      string `json:"RegionName"`
	RegionState     string `json:"RegionState"`
	IsChinaMainland bool   `json:"IsChinaMainland"`
}

// DescribeGeneralResourceQuotasRequest asks for quotas by resource name,
// such as GENERAL_BUNDLE_INSTANCE.
type DescribeGeneralResourceQuotasRequest struct {
	ResourceNames []string `json:"ResourceNames"`
}

// DescribeGeneralResourceQuotasResponse lists quotas.
type DescribeGeneralResourceQuotasResponse struct {
	GeneralResourceQuotaSet []GeneralResourceQuota `json:"GeneralResourceQuotaSet"`
	RequestId               string                 `json:"RequestId"`
}

// GeneralResourceQuota is one quota.
type GeneralResourceQuota struct {
	ResourceName           string `json:"ResourceName"`
	ResourceQuotaAvailable int64  `json:"ResourceQuotaAvailable"`
	ResourceQuotaTotal     int64  `json:"ResourceQuotaTotal"`
}

// InquirePriceCreateInstancesRequest asks what a create would cost.
type InquirePriceCreateInstancesRequest struct {
	BundleId              string                 `json:"BundleId"`
	InstanceChargePrepaid *InstanceChargePrepaid `json:"InstanceChargePrepaid"`
	InstanceCount         int64                  `json:"InstanceCount,omitempty"`
	BlueprintId           string                 `json:"BlueprintId,omitempty"`
}

// InquirePriceCreateInstancesResponse is the price of a create.
type InquirePriceCreateInstancesResponse struct {
	Price     Price  `json:"Price"`
	RequestId string `json:"RequestId"`
}

// IsolateInstancesRequest returns prepaid instances (they go to SHUTDOWN).
type IsolateInstancesRequest struct {
	InstanceIds     []string `json:"InstanceIds"`
	IsolateDataDisk *bool    `json:"IsolateDataDisk,omitempty"` // default true
}

// IsolateInstancesResponse carries only the RequestId.
type IsolateInstancesResponse struct {
	RequestId string `json:"RequestId"`
}

// TerminateInstancesRequest destroys SHUTDOWN instances, irreversibly.
type TerminateInstancesRequest struct {
	InstanceIds []string `json:"InstanceIds"`
}

// TerminateInstancesResponse carries only the RequestId.
type TerminateInstancesResponse struct {
	RequestId string `json:"RequestId"`
}

// ErrorBody is the Error object of a failed call's envelope.
type ErrorBody struct {
	Code    string `json:"Code"`
	Message string `json:"Message"`
}
