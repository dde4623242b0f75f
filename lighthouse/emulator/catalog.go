package emulator

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"

	"go.yaml.in/yaml/v3"
)

// Catalog is what the emulated cloud sells: regions and zones, bundles
// (plans, with prices and platforms) and blueprints (images). It can be
// written as YAML or JSON with the field names given in the tags; see
// DefaultCatalog for the built-in one and testdata/catalog.yaml for a file.
type Catalog struct {
	Regions    []CatalogRegion    `json:"regions" yaml:"regions"`
	Bundles    []CatalogBundle    `json:"bundles" yaml:"bundles"`
	Blueprints []CatalogBlueprint `json:"blueprints" yaml:"blueprints"`
	// FirewallTemplates lists the firewall template IDs (lhft-xxxxxxxx) that
	// CreateInstances accepts; any other well-formed ID is not found.
	FirewallTemplates []string `json:"firewallTemplates,omitempty" yaml:"firewallTemplates,omitempty"`
}

// CatalogRegion is a region and its zones.
type CatalogRegion struct {
	Region        string        `json:"region" yaml:"region"`
	Name          string        `json:"name" yaml:"name"`
	ChinaMainland bool          `json:"chinaMainland" yaml:"chinaMainland"`
	Zones         []CatalogZone `json:"zones" yaml:"zones"`
	// KeyPairs lists the key pair IDs (lhkp-xxxxxxxx) of the account in
	// this region: a key pair belongs to one region (DescribeKeyPairs,
	// CreateKeyPair and ImportKeyPair all take the common Region
	// parameter). CreateInstances refuses any other well-formed ID in
	// LoginConfiguration.KeyIds with ResourceNotFound.KeyPairNotFound.
	KeyPairs []string `json:"keyPairs,omitempty" yaml:"keyPairs,omitempty"`
}

// CatalogZone is an availability zone.
type CatalogZone struct {
	Zone string `json:"zone" yaml:"zone"`
	Name string `json:"name" yaml:"name"`
}

// CatalogBundle is a plan. Prices are monthly, in CNY.
type CatalogBundle struct {
	BundleId       string   `json:"bundleId" yaml:"bundleId"`
	BundleType     string   `json:"bundleType" yaml:"bundleType"` // e.g. GENERAL_BUNDLE
	CPU            int64    `json:"cpu" yaml:"cpu"`
	Memory         int64    `json:"memory" yaml:"memory"` // GB
	SystemDiskType string   `json:"systemDiskType" yaml:"systemDiskType"`
	SystemDiskSize int64    `json:"systemDiskSize" yaml:"systemDiskSize"` // GB
	MonthlyTraffic int64    `json:"monthlyTraffic" yaml:"monthlyTraffic"` // GB
	Bandwidth      int64    `json:"bandwidth" yaml:"bandwidth"`           // Mbps
	Platforms      []string `json:"platforms" yaml:"platforms"`           // LINUX_UNIX, WINDOWS
	MonthlyPrice   float64  `json:"monthlyPrice" yaml:"monthlyPrice"`
	Discount       float64  `json:"discount,omitempty" yaml:"discount,omitempty"` // percent; 0 or 100 = none
	SoldOutZones   []string `json:"soldOutZones,omitempty" yaml:"soldOutZones,omitempty"`
	Offline        bool     `json:"offline,omitempty" yaml:"offline,omitempty"` // not sold through the API
}

// CatalogBlueprint is an image.
type CatalogBlueprint struct {
	BlueprintId            string `json:"blueprintId" yaml:"blueprintId"`
	DisplayTitle           string `json:"displayTitle" yaml:"displayTitle"`
	DisplayVersion         string `json:"displayVersion" yaml:"displayVersion"`
	OsName                 string `json:"osName" yaml:"osName"`
	Platform               string `json:"platform" yaml:"platform"`         // e.g. UBUNTU
	PlatformType           string `json:"platformType" yaml:"platformType"` // LINUX_UNIX | WINDOWS
	BlueprintType          string `json:"blueprintType" yaml:"blueprintType"`
	RequiredSystemDiskSize int64  `json:"requiredSystemDiskSize" yaml:"requiredSystemDiskSize"`
	RequiredMemorySize     int64  `json:"requiredMemorySize" yaml:"requiredMemorySize"`
	DockerVersion          string `json:"dockerVersion,omitempty" yaml:"dockerVersion,omitempty"`
}

const (
	platformLinux   = "LINUX_UNIX"
	platformWindows = "WINDOWS"
)

var bundleTypes = []string{
	"GENERAL_BUNDLE", "STORAGE_BUNDLE", "ENTERPRISE_BUNDLE", "EXCLUSIVE_BUNDLE", "BEFAST_BUNDLE",
	"STARTER_BUNDLE", "CAREFREE_BUNDLE", "RAZOR_SPEED_BUNDLE",
}

var (
	reBlueprintID = regexp.MustCompile(`^lhbp-[a-z0-9]{8}$`)
	reInstanceID  = regexp.MustCompile(`^lhins-[a-z0-9]{8}$`)
	reKeyPairID   = regexp.MustCompile(`^lhkp-[a-z0-9]{8}$`)
	reFirewallID  = regexp.MustCompile(`^lhft-[a-z0-9]{8}$`)
)

// DefaultCatalog returns a fresh copy of the built-in catalog: the regions,
// bundles, blueprints and key pairs the example fleets (examples/fleets)
// and the client tests use. Every region holds the key pair lhkp-ops00001;
// ap-guangzhou also lhkp-web00001, ap-shanghai also lhkp-api00001.
func DefaultCatalog() *Catalog {
	both := []string{platformLinux, platformWindows}
	linux := []string{platformLinux}
	return &Catalog{
		Regions: []CatalogRegion{
			{Region: "ap-guangzhou", Name: "South China(Guangzhou)", ChinaMainland: true, Zones: []CatalogZone{
				{"ap-guangzhou-3", "Guangzhou Zone 3"}, {"ap-guangzhou-4", "Guangzhou Zone 4"}, {"ap-guangzhou-6", "Guangzhou Zone 6"}},
				KeyPairs: []string{"lhkp-ops00001", "lhkp-web00001"}},
			{Region: "ap-shanghai", Name: "East China(Shanghai)", ChinaMainland: true, Zones: []CatalogZone{
				{"ap-shanghai-2", "Shanghai Zone 2"}, {"ap-shanghai-3", "Shanghai Zone 3"}, {"ap-shanghai-5", "Shanghai Zone 5"}},
				KeyPairs: []string{"lhkp-ops00001", "lhkp-api00001"}},
			{Region: "ap-beijing", Name: "North China(Beijing)", ChinaMainland: true, Zones: []CatalogZone{
				{"ap-beijing-3", "Beijing Zone 3"}, {"ap-beijing-5", "Beijing Zone 5"}, {"ap-beijing-7", "Beijing Zone 7"}},
				KeyPairs: []string{"lhkp-ops00001"}},
			{Region: "ap-hongkong", Name: "Hong Kong, Macau and Taiwan (China)(Hong Kong, China)", Zones: []CatalogZone{
				{"ap-hongkong-2", "Hong Kong Zone 2"}, {"ap-hongkong-3", "Hong Kong Zone 3"}},
				KeyPairs: []string{"lhkp-ops00001"}},
			{Region: "ap-singapore", Name: "Southeast Asia(Singapore)", Zones: []CatalogZone{
				{"ap-singapore-1", "Singapore Zone 1"}, {"ap-singapore-3", "Singapore Zone 3"}},
				KeyPairs: []string{"lhkp-ops00001"}},
		},
		Bundles: []CatalogBundle{
			{BundleId: "bundle_gen_01", BundleType: "GENERAL_BUNDLE", CPU: 2, Memory: 2, SystemDiskType: "CLOUD_SSD", SystemDiskSize: 50, MonthlyTraffic: 512, Bandwidth: 30, Platforms: both, MonthlyPrice: 60},
			{BundleId: "bundle_gen_02", BundleType: "GENERAL_BUNDLE", CPU: 2, Memory: 4, SystemDiskType: "CLOUD_SSD", SystemDiskSize: 60, MonthlyTraffic: 600, Bandwidth: 30, Platforms: both, MonthlyPrice: 80},
			{BundleId: "bundle_gen_03", BundleType: "GENERAL_BUNDLE", CPU: 2, Memory: 8, SystemDiskType: "CLOUD_SSD", SystemDiskSize: 80, MonthlyTraffic: 1000, Bandwidth: 40, Platforms: both, MonthlyPrice: 150},
			{BundleId: "bundle_gen_04", BundleType: "GENERAL_BUNDLE", CPU: 4, Memory: 16, SystemDiskType: "CLOUD_SSD", SystemDiskSize: 120, MonthlyTraffic: 2000, Bandwidth: 50, Platforms: both, MonthlyPrice: 300},
			{BundleId: "bundle_starter_01", BundleType: "STARTER_BUNDLE", CPU: 1, Memory: 1, SystemDiskType: "CLOUD_PREMIUM", SystemDiskSize: 40, MonthlyTraffic: 300, Bandwidth: 20, Platforms: linux, MonthlyPrice: 35},
			{BundleId: "bundle_storage_01", BundleType: "STORAGE_BUNDLE", CPU: 2, Memory: 4, SystemDiskType: "CLOUD_PREMIUM", SystemDiskSize: 40, MonthlyTraffic: 1000, Bandwidth: 30, Platforms: linux, MonthlyPrice: 120},
		},
		Blueprints: []CatalogBlueprint{
			{BlueprintId: "lhbp-g0tn7djh", DisplayTitle: "Ubuntu Server", DisplayVersion: "22.04 LTS 64bit", OsName: "Ubuntu Server 22.04 LTS 64bit", Platform: "UBUNTU", PlatformType: platformLinux, BlueprintType: "PURE_OS", RequiredSystemDiskSize: 20, RequiredMemorySize: 1},
			{BlueprintId: "lhbp-a7oxy2bx", DisplayTitle: "CentOS", DisplayVersion: "7.9 64bit", OsName: "CentOS 7.9 64bit", Platform: "CENTOS", PlatformType: platformLinux, BlueprintType: "PURE_OS", RequiredSystemDiskSize: 20, RequiredMemorySize: 1},
			{BlueprintId: "lhbp-d8pgvqz2", DisplayTitle: "Debian", DisplayVersion: "12 64bit", OsName: "Debian 12 64bit", Platform: "DEBIAN", PlatformType: platformLinux, BlueprintType: "PURE_OS", RequiredSystemDiskSize: 20, RequiredMemorySize: 1},
			{BlueprintId: "lhbp-dk3r8c2a", DisplayTitle: "Docker CE", DisplayVersion: "Ubuntu 22.04", OsName: "Ubuntu Server 22.04 LTS 64bit", Platform: "UBUNTU", PlatformType: platformLinux, BlueprintType: "DOCKER", RequiredSystemDiskSize: 30, RequiredMemorySize: 2, DockerVersion: "26.1.3"},
			{BlueprintId: "lhbp-w1n2022a", DisplayTitle: "Windows Server", DisplayVersion: "2022 DataCenter 64bit", OsName: "Windows Server 2022 DataCenter 64bit", Platform: "WINDOWS", PlatformType: platformWindows, BlueprintType: "PURE_OS", RequiredSystemDiskSize: 50, RequiredMemorySize: 2},
		},
	}
}

// LoadCatalog reads a catalog from YAML or JSON (JSON is valid YAML).
// Unknown fields are errors; the result is validated.
func LoadCatalog(r io.Reader) (*Catalog, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("read catalog: %w", err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var c Catalog
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("parse catalog: %w", err)
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return &c, nil
}

// LoadCatalogFile reads a catalog from a YAML or JSON file.
func LoadCatalogFile(path string) (*Catalog, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open catalog: %w", err)
	}
	defer f.Close()
	c, err := LoadCatalog(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// Validate checks that IDs are unique and well formed and that every
// reference (sold-out zones) exists.
func (c *Catalog) Validate() error {
	var errs []error
	if len(c.Regions) == 0 {
		errs = append(errs, errors.New("catalog: regions: at least one region is required"))
	}
	zones := map[string]bool{}
	regions := map[string]bool{}
	for i, r := range c.Regions {
		if r.Region == "" || regions[r.Region] {
			errs = append(errs, fmt.Errorf("catalog: regions[%d]: region %q is empty or duplicated", i, r.Region))
		}
		regions[r.Region] = true
		if len(r.Zones) == 0 {
			errs = append(errs, fmt.Errorf("catalog: regions[%d] (%s): at least one zone is required", i, r.Region))
		}
		for j, z := range r.Zones {
			if z.Zone == "" || zones[z.Zone] {
				errs = append(errs, fmt.Errorf("catalog: regions[%d].zones[%d]: zone %q is empty or duplicated", i, j, z.Zone))
			}
			zones[z.Zone] = true
		}
		keys := map[string]bool{}
		for j, k := range r.KeyPairs {
			if !reKeyPairID.MatchString(k) || keys[k] {
				errs = append(errs, fmt.Errorf("catalog: regions[%d].keyPairs[%d]: %q is malformed (lhkp- and 8 lowercase letters or digits) or duplicated", i, j, k))
			}
			keys[k] = true
		}
	}
	seen := map[string]bool{}
	for i, b := range c.Bundles {
		if b.BundleId == "" || seen[b.BundleId] {
			errs = append(errs, fmt.Errorf("catalog: bundles[%d]: bundleId %q is empty or duplicated", i, b.BundleId))
		}
		seen[b.BundleId] = true
		if !slices.Contains(bundleTypes, b.BundleType) {
			errs = append(errs, fmt.Errorf("catalog: bundles[%d] (%s): bundleType %q is not one of %v", i, b.BundleId, b.BundleType, bundleTypes))
		}
		if b.CPU <= 0 || b.Memory <= 0 || b.SystemDiskSize <= 0 || b.MonthlyPrice < 0 {
			errs = append(errs, fmt.Errorf("catalog: bundles[%d] (%s): cpu, memory and systemDiskSize must be > 0 and monthlyPrice >= 0", i, b.BundleId))
		}
		if b.Discount < 0 || b.Discount > 100 {
			errs = append(errs, fmt.Errorf("catalog: bundles[%d] (%s): discount must be a percentage in 0..100", i, b.BundleId))
		}
		if len(b.Platforms) == 0 {
			errs = append(errs, fmt.Errorf("catalog: bundles[%d] (%s): platforms: at least one of LINUX_UNIX, WINDOWS is required", i, b.BundleId))
		}
		for _, p := range b.Platforms {
			if p != platformLinux && p != platformWindows {
				errs = append(errs, fmt.Errorf("catalog: bundles[%d] (%s): platform %q is not LINUX_UNIX or WINDOWS", i, b.BundleId, p))
			}
		}
		for _, z := range b.SoldOutZones {
			if !zones[z] {
				errs = append(errs, fmt.Errorf("catalog: bundles[%d] (%s): soldOutZones: unknown zone %q", i, b.BundleId, z))
			}
		}
	}
	seen = map[string]bool{}
	for i, bp := range c.Blueprints {
		if !reBlueprintID.MatchString(bp.BlueprintId) || seen[bp.BlueprintId] {
			errs = append(errs, fmt.Errorf("catalog: blueprints[%d]: blueprintId %q is malformed (lhbp- and 8 lowercase letters or digits) or duplicated", i, bp.BlueprintId))
		}
		seen[bp.BlueprintId] = true
		if bp.PlatformType != platformLinux && bp.PlatformType != platformWindows {
			errs = append(errs, fmt.Errorf("catalog: blueprints[%d] (%s): platformType %q is not LINUX_UNIX or WINDOWS", i, bp.BlueprintId, bp.PlatformType))
		}
	}
	for i, ft := range c.FirewallTemplates {
		if !reFirewallID.MatchString(ft) {
			errs = append(errs, fmt.Errorf("catalog: firewallTemplates[%d]: %q is malformed (lhft- and 8 lowercase letters or digits)", i, ft))
		}
	}
	return errors.Join(errs...)
}

// catalogIndex is a validated catalog with lookups.
type catalogIndex struct {
	*Catalog
	regions    map[string]*CatalogRegion
	zoneRegion map[string]string
	bundles    map[string]*CatalogBundle
	blueprints map[string]*CatalogBlueprint
	firewalls  map[string]bool
	keyPairs   map[string]bool // region + "/" + key pair ID
}

func indexCatalog(c *Catalog) *catalogIndex {
	x := &catalogIndex{
		Catalog:    c,
		regions:    map[string]*CatalogRegion{},
		zoneRegion: map[string]string{},
		bundles:    map[string]*CatalogBundle{},
		blueprints: map[string]*CatalogBlueprint{},
		firewalls:  map[string]bool{},
		keyPairs:   map[string]bool{},
	}
	for i := range c.Regions {
		r := &c.Regions[i]
		x.regions[r.Region] = r
		for _, z := range r.Zones {
			x.zoneRegion[z.Zone] = r.Region
		}
		for _, k := range r.KeyPairs {
			x.keyPairs[r.Region+"/"+k] = true
		}
	}
	for i := range c.Bundles {
		x.bundles[c.Bundles[i].BundleId] = &c.Bundles[i]
	}
	for i := range c.Blueprints {
		x.blueprints[c.Blueprints[i].BlueprintId] = &c.Blueprints[i]
	}
	for _, f := range c.FirewallTemplates {
		x.firewalls[f] = true
	}
	return x
}

func (b *CatalogBundle) supports(platformType string) bool {
	return slices.Contains(b.Platforms, platformType)
}

func (b *CatalogBundle) soldOutIn(zone string) bool {
	return slices.Contains(b.SoldOutZones, zone)
}

// quotaName is the DescribeGeneralResourceQuotas name of the bundle's type.
func (b *CatalogBundle) quotaName() string { return b.BundleType + "_INSTANCE" }
