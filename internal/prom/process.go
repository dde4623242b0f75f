package prom

// This file is the process's series, read from Linux's /proc: the names and
// types that client_golang's collectors.NewProcessCollector writes on Linux
// (v1.25), so that dashboards built on them keep working.

import (
	"bytes"
	"io"
	"os"
	"runtime"
	"sync"
)

// procUserHZ is the unit of the times of /proc/self/stat, in ticks per second.
// It is assumed to be 100, as client_golang (through prometheus/procfs)
// assumes: Linux reports these times in USER_HZ, which is 100 on every
// architecture Go runs on (sysconf(_SC_CLK_TCK)), whatever the kernel's HZ.
const procUserHZ = 100

// procUnlimited is the value of a limit of /proc/self/limits that is
// "unlimited": the largest uint64, as client_golang writes it.
const procUnlimited = float64(^uint64(0))

// The families of processCollector.
const (
	procCPU        = "process_cpu_seconds_total"
	procOpenFDs    = "process_open_fds"
	procMaxFDs     = "process_max_fds"
	procVirtual    = "process_virtual_memory_bytes"
	procVirtualMax = "process_virtual_memory_max_bytes"
	procResident   = "process_resident_memory_bytes"
	procStart      = "process_start_time_seconds"
	procNetIn      = "process_network_receive_bytes_total"
	procNetOut     = "process_network_transmit_bytes_total"
)

// processCollector writes the process's series. It keeps one buffer for
// the files it reads, and the start time once it has it.
type processCollector struct {
	mu        sync.Mutex
	buf       []byte
	start     float64
	haveStart bool
}

// NewProcessCollector returns a collector of the process's series, read
// from /proc/self on Linux: CPU time, file descriptors and their limit,
// virtual and resident memory, start time and network traffic, under the
// names client_golang's process collector gives them. A series whose file
// cannot be read or parsed is left out of the scrape; on other systems,
// all are.
func NewProcessCollector() Collector {
	return &processCollector{buf: make([]byte, 0, 4096)}
}

// Names implements Collector.
func (c *processCollector) Names() []string {
	return []string{procCPU, procOpenFDs, procMaxFDs, procVirtual, procVirtualMax, procResident, procStart, procNetIn, procNetOut}
}

// Collect implements Collector.
func (c *processCollector) Collect(s *Scrape) {
	if runtime.GOOS != "linux" {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()

	if b, ok := c.read("/proc/self/stat"); ok {
		if st, ok := parseProcStat(b); ok {
			s.Family(procCPU, "CPU time the process has spent in user and system mode, in seconds.", TypeCounter).
				Add(float64(st.utime+st.stime) / procUserHZ)
			s.Family(procVirtual, "Size of the process's virtual memory, in bytes.", TypeGauge).Add(float64(st.vsize))
			s.Family(procResident, "Size of the process's resident memory, in bytes.", TypeGauge).
				Add(float64(st.rss) * float64(os.Getpagesize()))
			// The start time never changes: /proc/stat, which can be long,
			// is read until it is known.
			if !c.haveStart {
				if b, ok := c.read("/proc/stat"); ok {
					if btime, ok := parseProcBootTime(b); ok {
						c.start = float64(btime) + float64(st.starttime)/procUserHZ
						c.haveStart = true
					}
				}
			}
			if c.haveStart {
				s.Family(procStart, "When the process started, in seconds since the Unix epoch.", TypeGauge).Add(c.start)
			}
		}
	}

	if n, ok := procCountFDs(); ok {
		s.Family(procOpenFDs, "File descriptors the process has open.", TypeGauge).Add(float64(n))
	}

	if b, ok := c.read("/proc/self/limits"); ok {
		l := parseProcLimits(b)
		if l.hasOpenFiles {
			s.Family(procMaxFDs, "Soft limit of the file descriptors the process may open.", TypeGauge).Add(l.openFiles)
		}
		if l.hasAddressSpace {
			s.Family(procVirtualMax, "Soft limit of the process's virtual memory, in bytes.", TypeGauge).Add(l.addressSpace)
		}
	}

	// The counters are of the process's network namespace; they are 0 when
	// the file lacks them, as client_golang's are.
	if b, ok := c.read("/proc/self/net/netstat"); ok {
		in, out := parseProcNetstat(b)
		s.Family(procNetIn, "Bytes received over the network (by the process's network namespace).", TypeCounter).Add(in)
		s.Family(procNetOut, "Bytes sent over the network (by the process's network namespace).", TypeCounter).Add(out)
	}
}

// read reads the file path into c.buf, which it grows as needed, and
// returns its contents, valid until the next read.
func (c *processCollector) read(path string) ([]byte, bool) {
	f, err := os.Open(path)
	if err != nil {
		return nil, false
	}
	defer f.Close()
	b := c.buf[:0]
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := f.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, false
		}
	}
	c.buf = b
	return b, true
}

// procCountFDs counts the entries of /proc/self/fd: since Linux 6.2, the
// size its stat gives (as client_golang does); before, by reading it, less
// the descriptor open to read it.
func procCountFDs() (int, bool) {
	const dir = "/proc/self/fd"
	if fi, err := os.Stat(dir); err == nil && fi.Size() > 0 {
		return int(fi.Size()), true
	}
	f, err := os.Open(dir)
	if err != nil {
		return 0, false
	}
	defer f.Close()
	n := 0
	for {
		names, err := f.Readdirnames(256)
		n += len(names)
		if err == io.EOF {
			return max(n-1, 0), true
		}
		if err != nil {
			return 0, false
		}
	}
}

// procStat is what the collector uses of /proc/self/stat.
type procStat struct {
	utime, stime uint64 // clock ticks
	starttime    uint64 // clock ticks after boot
	vsize        uint64 // bytes
	rss          uint64 // pages
}

// parseProcStat parses /proc/[pid]/stat (proc_pid_stat(5)). The command name,
// the second field, is in parentheses and may hold anything, spaces and
// parentheses included: the fields that follow are those after the last
// ')'.
func parseProcStat(b []byte) (procStat, bool) {
	r := bytes.LastIndexByte(b, ')')
	if r < 0 {
		return procStat{}, false
	}
	var st procStat
	found := 0
	// Field 3 (the state) is the first after the command name; i counts
	// from it.
	for i, rest := 0, b[r+1:]; ; i++ {
		var f []byte
		f, rest = procField(rest)
		if f == nil {
			return procStat{}, false
		}
		var dst *uint64
		switch i {
		case 14 - 3:
			dst = &st.utime
		case 15 - 3:
			dst = &st.stime
		case 22 - 3:
			dst = &st.starttime
		case 23 - 3:
			dst = &st.vsize
		case 24 - 3:
			dst = &st.rss
		default:
			continue
		}
		v, ok := procUint(f)
		if !ok {
			return procStat{}, false
		}
		*dst = v
		if found++; found == 5 {
			return st, true
		}
	}
}

// procLimits is what the collector uses of /proc/self/limits: the soft
// limits of open files and of the address space.
type procLimits struct {
	openFiles, addressSpace       float64
	hasOpenFiles, hasAddressSpace bool
}

// parseProcLimits parses /proc/[pid]/limits: a header, then a line a limit, its
// name, its soft limit, its hard limit and maybe its unit, in columns.
func parseProcLimits(b []byte) procLimits {
	var l procLimits
	for len(b) > 0 {
		var line []byte
		line, b, _ = bytes.Cut(b, []byte{'\n'})
		if rest, ok := bytes.CutPrefix(line, []byte("Max open files ")); ok {
			l.openFiles, l.hasOpenFiles = parseProcLimit(rest)
		} else if rest, ok := bytes.CutPrefix(line, []byte("Max address space ")); ok {
			l.addressSpace, l.hasAddressSpace = parseProcLimit(rest)
		}
	}
	return l
}

// parseProcLimit parses the soft limit, the first field of the columns that
// follow a limit's name.
func parseProcLimit(b []byte) (float64, bool) {
	f, _ := procField(b)
	if string(f) == "unlimited" {
		return procUnlimited, true
	}
	v, ok := procUint(f)
	return float64(v), ok
}

// parseProcBootTime parses the boot time, in seconds since the Unix epoch, of
// /proc/stat: its line "btime".
func parseProcBootTime(b []byte) (uint64, bool) {
	for len(b) > 0 {
		var line []byte
		line, b, _ = bytes.Cut(b, []byte{'\n'})
		if rest, ok := bytes.CutPrefix(line, []byte("btime ")); ok {
			f, _ := procField(rest)
			return procUint(f)
		}
	}
	return 0, false
}

// parseProcNetstat parses the counters InOctets and OutOctets of the IpExt
// lines of /proc/[pid]/net/netstat: a line of their names, then a line of
// their values, each line beginning "IpExt:". A counter missing is 0.
func parseProcNetstat(b []byte) (in, out float64) {
	var names []byte
	for len(b) > 0 {
		var line []byte
		line, b, _ = bytes.Cut(b, []byte{'\n'})
		rest, ok := bytes.CutPrefix(line, []byte("IpExt:"))
		if !ok {
			continue
		}
		if names == nil {
			names = rest
			continue
		}
		for {
			var name, value []byte
			name, names = procField(names)
			value, rest = procField(rest)
			if name == nil || value == nil {
				return in, out
			}
			switch string(name) {
			case "InOctets":
				v, _ := procUint(value)
				in = float64(v)
			case "OutOctets":
				v, _ := procUint(value)
				out = float64(v)
			}
		}
	}
	return in, out
}

// procField returns the first field of b, separated by spaces or tabs, and
// what follows it; the field is nil if there is none.
func procField(b []byte) (field, rest []byte) {
	i := 0
	for i < len(b) && procSpace(b[i]) {
		i++
	}
	if i == len(b) {
		return nil, nil
	}
	j := i
	for j < len(b) && !procSpace(b[j]) {
		j++
	}
	return b[i:j], b[j:]
}

func procSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// procUint parses a decimal number without allocating, and fails on
// anything else, on nothing, and on an overflow of uint64.
func procUint(b []byte) (uint64, bool) {
	if len(b) == 0 {
		return 0, false
	}
	var v uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		d := uint64(c - '0')
		if v > (^uint64(0)-d)/10 {
			return 0, false
		}
		v = v*10 + d
	}
	return v, true
}
