package lighthouse

// This file holds the wire types of the day-two actions: changing an
// instance in place (ResetInstance, ModifyInstancesBundle and their
// Describe* lookups), what an instance may not do now
// (DescribeInstancesDeniedActions), and renewal (ModifyInstancesRenewFlag,
// RenewInstances, InquirePriceRenewInstances). Field names, types and limits
// are those of the official SDK's models.go
// (tencentcloud-sdk-go tencentcloud/lighthouse/v20200324, commit 144f6c8),
// which the international SDK (tencentcloud-sdk-go-intl-en) shares except
// where a comment says otherwise.

// Limits of the day-two actions: the most instance IDs one call takes.
const (
	// MaxModifyBundleIDs is the most InstanceIds of one
	// ModifyInstancesBundle. The SDK disagrees with itself: models.go
	// (ModifyInstancesBundleRequestParams.InstanceIds) and the
	// international product page intl:1103/55090 say 15; client.go's
	// comment on ModifyInstancesBundle and the international API page say
	// 30. The client keeps to the smaller, which the service accepts
	// whichever is true; the emulator serves either
	// (emulator.Config.ModifyBundleBatchLimit).
	MaxModifyBundleIDs = 15
	// MaxRenewIDs is the most InstanceIds of one RenewInstances
	// ("每次请求批量实例的上限为100", models.go and client.go).
	MaxRenewIDs = 100
	// MaxInquireRenewIDs is the most InstanceIds of one
	// InquirePriceRenewInstances ("每次请求批量实例的上限为50", models.go).
	MaxInquireRenewIDs = 50
	// MaxRenewFlagIDs is the most InstanceIds of one
	// ModifyInstancesRenewFlag (100, models.go and client.go).
	MaxRenewFlagIDs = 100
	// MaxDeniedActionsIDs is the most InstanceIds of one
	// DescribeInstancesDeniedActions (100, models.go).
	MaxDeniedActionsIDs = 100
)

// ValidRenewPeriod reports whether months is a period RenewInstances and
// InquirePriceRenewInstances take: 1-12, 24 or 36 (models.go,
// InstanceChargePrepaid.Period: "续费实例时，取值范围：1, 2, 3, 4, 5, 6, 7, 8,
// 9, 10, 11, 12, 24, 36"; a create also takes 48 and 60).
func ValidRenewPeriod(months int64) bool {
	return months >= 1 && months <= 12 || months == 24 || months == 36
}

// ResetInstanceRequest reinstalls one instance: its system disk is
// formatted and the blueprint (image) written anew. The instance keeps its
// InstanceId, addresses, bundle and expiry.
type ResetInstanceRequest struct {
	// InstanceId is required.
	InstanceId string `json:"InstanceId"`
	// BlueprintId is the image to reinstall; "" reinstalls the current one.
	BlueprintId string `json:"BlueprintId,omitempty"`
	// Containers are started on a DOCKER blueprint only.
	Containers []DockerContainerConfiguration `json:"Containers,omitempty"`
	// LoginConfiguration sets the login after the reset; absent means "set
	// a password or bind a key later". The China site only: the
	// international SDK's ResetInstanceRequestParams has no such field.
	LoginConfiguration *LoginConfiguration `json:"LoginConfiguration,omitempty"`
}

// ResetInstanceResponse carries only the RequestId, which DescribeInstances
// then shows as the instance's LatestOperationRequestId.
type ResetInstanceResponse struct {
	RequestId string `json:"RequestId"`
}

// ModifyInstancesBundleRequest changes the bundle (plan) of instances. The
// price difference is charged; the service sells upgrades only.
type ModifyInstancesBundleRequest struct {
	// InstanceIds: at most MaxModifyBundleIDs.
	InstanceIds []string `json:"InstanceIds"`
	// BundleId must differ from the instances' current one.
	BundleId string `json:"BundleId"`
	// AutoVoucher deducts vouchers automatically (default false).
	AutoVoucher bool `json:"AutoVoucher,omitempty"`
}

// ModifyInstancesBundleResponse carries only the RequestId.
type ModifyInstancesBundleResponse struct {
	RequestId string `json:"RequestId"`
}

// DescribeModifyInstanceBundlesRequest lists the bundles an instance may be
// changed to. Filters: bundle-id, support-platform-type, bundle-type,
// bundle-state; at most 10 filters of at most 5 values each.
type DescribeModifyInstanceBundlesRequest struct {
	InstanceId string   `json:"InstanceId"`
	Filters    []Filter `json:"Filters,omitempty"`
	Offset     int64    `json:"Offset,omitempty"`
	Limit      int64    `json:"Limit,omitempty"` // default 20, at most 100
}

// DescribeModifyInstanceBundlesResponse is one page of target bundles.
type DescribeModifyInstanceBundlesResponse struct {
	TotalCount      int64          `json:"TotalCount"`
	ModifyBundleSet []ModifyBundle `json:"ModifyBundleSet"`
	RequestId       string         `json:"RequestId"`
}

// States of ModifyBundle.ModifyBundleState (models.go, ModifyBundle).
const (
	ModifyBundleAvailable   = "AVAILABLE"   // the instance can be changed to the bundle
	ModifyBundleSoldOut     = "SOLD_OUT"    // sold out
	ModifyBundleUnavailable = "UNAVAILABLE" // not supported for this instance (see NotSupportModifyMessage)
)

// ModifyBundle is one bundle an instance could be changed to.
type ModifyBundle struct {
	// ModifyPrice is the price difference to pay for the change.
	ModifyPrice Price `json:"ModifyPrice"`
	// ModifyBundleState is ModifyBundleAvailable, ModifyBundleSoldOut or
	// ModifyBundleUnavailable.
	ModifyBundleState string `json:"ModifyBundleState"`
	Bundle            Bundle `json:"Bundle"`
	// NotSupportModifyMessage says why the change is not possible; "" when
	// ModifyBundleState is AVAILABLE.
	NotSupportModifyMessage string `json:"NotSupportModifyMessage"`
}

// DescribeResetInstanceBlueprintsRequest lists the blueprints a reset of
// the instance may target. Filters: blueprint-id, blueprint-type,
// platform-type, blueprint-name, blueprint-state; at most 10 filters of at
// most 5 values each.
type DescribeResetInstanceBlueprintsRequest struct {
	InstanceId string   `json:"InstanceId"`
	Offset     int64    `json:"Offset,omitempty"`
	Limit      int64    `json:"Limit,omitempty"` // default 20, at most 100
	Filters    []Filter `json:"Filters,omitempty"`
}

// DescribeResetInstanceBlueprintsResponse is one page of blueprints.
type DescribeResetInstanceBlueprintsResponse struct {
	TotalCount                int64                    `json:"TotalCount"`
	ResetInstanceBlueprintSet []ResetInstanceBlueprint `json:"ResetInstanceBlueprintSet"`
	RequestId                 string                   `json:"RequestId"`
}

// ResetInstanceBlueprint is a blueprint and whether the instance can be
// reset to it.
type ResetInstanceBlueprint struct {
	BlueprintInfo Blueprint `json:"BlueprintInfo"`
	IsResettable  bool      `json:"IsResettable"`
	// NonResettableMessage says why not; "" when IsResettable.
	NonResettableMessage string `json:"NonResettableMessage"`
}

// DescribeInstancesDeniedActionsRequest asks what the instances may not do
// now.
type DescribeInstancesDeniedActionsRequest struct {
	// InstanceIds: at most MaxDeniedActionsIDs.
	InstanceIds []string `json:"InstanceIds"`
}

// DescribeInstancesDeniedActionsResponse lists, per instance, the actions
// it may not do now.
type DescribeInstancesDeniedActionsResponse struct {
	InstanceDeniedActionSet []InstanceDeniedActions `json:"InstanceDeniedActionSet"`
	RequestId               string                  `json:"RequestId"`
}

// InstanceDeniedActions are the actions one instance may not do now.
type InstanceDeniedActions struct {
	InstanceId    string         `json:"InstanceId"`
	DeniedActions []DeniedAction `json:"DeniedActions"`
}

// DeniedAction is one action an instance may not do now, with the error
// code and message the action would answer.
type DeniedAction struct {
	Action  string `json:"Action"` // e.g. "ResetInstance"
	Code    string `json:"Code"`   // e.g. "UnsupportedOperation.InvalidInstanceState"
	Message string `json:"Message"`
}

// ModifyInstancesRenewFlagRequest sets the renew flag of instances.
type ModifyInstancesRenewFlagRequest struct {
	// InstanceIds: at most MaxRenewFlagIDs.
	InstanceIds []string `json:"InstanceIds"`
	// RenewFlag is RenewNotifyAuto, RenewNotifyManual or
	// RenewDisableNotifyManual. With RenewNotifyAuto the instance is renewed
	// a month at a time on expiry while the balance allows.
	RenewFlag string `json:"RenewFlag"`
}

// ModifyInstancesRenewFlagResponse carries only the RequestId.
type ModifyInstancesRenewFlagResponse struct {
	RequestId string `json:"RequestId"`
}

// RenewInstancesRequest buys more time for instances.
type RenewInstancesRequest struct {
	// InstanceIds: at most MaxRenewIDs.
	InstanceIds []string `json:"InstanceIds"`
	// InstanceChargePrepaid is required: Period (see ValidRenewPeriod)
	// and, optionally, the RenewFlag to set.
	InstanceChargePrepaid *InstanceChargePrepaid `json:"InstanceChargePrepaid"`
	// RenewDataDisk renews the attached data disks too (default true).
	RenewDataDisk *bool `json:"RenewDataDisk,omitempty"`
	// AutoVoucher deducts vouchers automatically (default false).
	AutoVoucher bool `json:"AutoVoucher,omitempty"`
}

// RenewInstancesResponse carries only the RequestId.
type RenewInstancesResponse struct {
	RequestId string `json:"RequestId"`
}

// InquirePriceRenewInstancesRequest asks what a renewal would cost.
type InquirePriceRenewInstancesRequest struct {
	// InstanceIds: at most MaxInquireRenewIDs.
	InstanceIds []string `json:"InstanceIds"`
	// InstanceChargePrepaid is required (Period, see ValidRenewPeriod).
	InstanceChargePrepaid *InstanceChargePrepaid `json:"InstanceChargePrepaid"`
	// RenewDataDisk prices the data disks too (default false).
	RenewDataDisk bool `json:"RenewDataDisk,omitempty"`
	// AlignInstanceExpiredTime aligns the data disks' expiry with the
	// instance's (default false).
	AlignInstanceExpiredTime bool `json:"AlignInstanceExpiredTime,omitempty"`
}

// InquirePriceRenewInstancesResponse is the price of a renewal.
type InquirePriceRenewInstancesResponse struct {
	// Price is the first instance's price (models.go: "默认为列表中第一个实例的
	// 价格信息"); use InstancePriceDetailSet or TotalPrice for all.
	Price                  Price                 `json:"Price"`
	DataDiskPriceSet       []DataDiskPrice       `json:"DataDiskPriceSet"`
	InstancePriceDetailSet []InstancePriceDetail `json:"InstancePriceDetailSet"`
	TotalPrice             TotalPrice            `json:"TotalPrice"`
	RequestId              string                `json:"RequestId"`
}

// DataDiskPrice is the renewal price of one data disk.
type DataDiskPrice struct {
	DiskId            string  `json:"DiskId"`
	OriginalDiskPrice float64 `json:"OriginalDiskPrice"`
	OriginalPrice     float64 `json:"OriginalPrice"`
	Discount          float64 `json:"Discount"`
	DiscountPrice     float64 `json:"DiscountPrice"`
	InstanceId        string  `json:"InstanceId"`
}

// InstancePriceDetail is the renewal price of one instance.
type InstancePriceDetail struct {
	InstanceId     string           `json:"InstanceId"`
	InstancePrice  InstancePrice    `json:"InstancePrice"`
	DiscountDetail []DiscountDetail `json:"DiscountDetail"`
}

// DiscountDetail is the price of one renewal length.
type DiscountDetail struct {
	TimeSpan      int64        `json:"TimeSpan"`
	TimeUnit      string       `json:"TimeUnit"` // m (months) | d (days)
	TotalCost     float64      `json:"TotalCost"`
	RealTotalCost float64      `json:"RealTotalCost"`
	Discount      float64      `json:"Discount"`
	PolicyDetail  PolicyDetail `json:"PolicyDetail"`
}

// PolicyDetail breaks a discount down.
type PolicyDetail struct {
	UserDiscount     float64  `json:"UserDiscount"`
	CommonDiscount   float64  `json:"CommonDiscount"`
	FinalDiscount    float64  `json:"FinalDiscount"`
	ActivityDiscount *float64 `json:"ActivityDiscount"` // nullable
	DiscountType     *string  `json:"DiscountType"`     // user | common | activity; nullable
}

// TotalPrice is the sum over every instance of a price inquiry.
type TotalPrice struct {
	OriginalPrice float64 `json:"OriginalPrice"`
	DiscountPrice float64 `json:"DiscountPrice"`
}
