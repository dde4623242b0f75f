package daemon

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// DefaultMemoryLimit is the Go runtime's soft memory limit the daemon runs
// under when the configuration's memoryLimit is left out and GOMEMLIMIT is
// not set: 24 MiB. The daemon's live heap following 10,000 instances is
// about 7 MB between cycles and 13-14 MB at the end of one
// (docs/benchmarks.md, "Idle at scale, second round"); the limit makes the
// collector run before the heap doubles past that, as it would with GOGC
// alone, for about 0.1-0.4 s more CPU a cycle at 10,000 instances. A lower
// limit costs two to three times the CPU of a cycle for at most 1.7 MiB
// (20MiB, 16MiB). An account far larger needs a larger limit: past it the
// runtime spends at most about half a CPU on collection, then lets the
// heap grow rather than stall.
const DefaultMemoryLimit = 24 << 20

// ByteSize is a size in bytes, written as GOMEMLIMIT writes one: an
// integer with an optional unit B, KiB, MiB, GiB or TiB (32MiB), or off
// (NoMemoryLimit). The zero value means "not set".
type ByteSize int64

// NoMemoryLimit is the ByteSize of memoryLimit: off.
const NoMemoryLimit ByteSize = math.MaxInt64

// byteUnits are the suffixes GOMEMLIMIT takes, longest first.
var byteUnits = []struct {
	suffix string
	shift  uint
}{{"TiB", 40}, {"GiB", 30}, {"MiB", 20}, {"KiB", 10}, {"B", 0}}

// ParseByteSize reads s as GOMEMLIMIT does (32MiB, 1GiB, 1048576, off). A
// size past what an int64 holds is NoMemoryLimit.
func ParseByteSize(s string) (ByteSize, error) {
	if s == "off" {
		return NoMemoryLimit, nil
	}
	num, shift := s, uint(0)
	for _, u := range byteUnits {
		if n, ok := strings.CutSuffix(s, u.suffix); ok {
			num, shift = n, u.shift
			break
		}
	}
	n, err := strconv.ParseUint(num, 10, 64)
	switch {
	case err != nil && !errors.Is(err, strconv.ErrRange), n == 0, num[0] == '+':
		return 0, fmt.Errorf("must be a size such as 24MiB or 1GiB (B, KiB, MiB, GiB, TiB), or off")
	case err != nil, n > math.MaxInt64>>shift:
		return NoMemoryLimit, nil // more than can be addressed: no limit
	}
	return ByteSize(n << shift), nil
}

// UnmarshalYAML implements yaml.Unmarshaler.
func (b *ByteSize) UnmarshalYAML(n *yaml.Node) error {
	v, err := ParseByteSize(n.Value)
	if err != nil {
		return err
	}
	*b = v
	return nil
}

// String renders the size as ParseByteSize reads it, in the largest unit
// that divides it.
func (b ByteSize) String() string {
	if b == NoMemoryLimit {
		return "off"
	}
	for _, u := range byteUnits {
		if u.shift > 0 && b > 0 && b%(1<<u.shift) == 0 {
			return strconv.FormatInt(int64(b>>u.shift), 10) + u.suffix
		}
	}
	return strconv.FormatInt(int64(b), 10) + "B"
}

// MemoryLimit returns the soft memory limit the configuration asks for:
// memoryLimit, or DefaultMemoryLimit when it is left out; NoMemoryLimit
// for off.
func (c *Config) MemoryLimit() ByteSize {
	if c.Memory == 0 {
		return DefaultMemoryLimit
	}
	return c.Memory
}
