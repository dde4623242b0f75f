package prom

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// Type is a metric family's type, as its # TYPE line names it.
type Type string

// The types of metric families.
const (
	TypeCounter   Type = "counter"
	TypeGauge     Type = "gauge"
	TypeHistogram Type = "histogram"
	TypeSummary   Type = "summary"
)

// Registry is the collectors a scrape writes. The zero value is not ready:
// use NewRegistry.
type Registry struct {
	mu    sync.Mutex
	cs    []Collector
	names map[string]bool
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{names: map[string]bool{}} }

// Register adds c, unless a collector registered already writes one of its
// families.
func (r *Registry) Register(c Collector) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	names := c.Names()
	for _, n := range names {
		if r.names[n] {
			return fmt.Errorf("prom: %s is registered already", n)
		}
	}
	for _, n := range names {
		r.names[n] = true
	}
	r.cs = append(r.cs, c)
	return nil
}

// MustRegister registers each of cs, and panics if one is refused.
func (r *Registry) MustRegister(cs ...Collector) {
	for _, c := range cs {
		if err := r.Register(c); err != nil {
			panic(err)
		}
	}
}

// scrape collects every registered collector's series.
func (r *Registry) scrape() *Scrape {
	r.mu.Lock()
	cs := slices.Clone(r.cs)
	r.mu.Unlock()
	s := &Scrape{fams: map[string]*Family{}}
	for _, c := range cs {
		c.Collect(s)
	}
	return s
}

// WriteTo writes a scrape in the text format: the families by name, each
// family's series by their label values (in the order of the label names),
// as Prometheus's client_golang orders them.
func (r *Registry) WriteTo(w io.Writer) (int64, error) { return r.scrape().WriteTo(w) }

// Handler serves a scrape to at most maxInFlight requests at once (at
// least 1) and answers any more with 503 Service Unavailable and
// Retry-After, as client_golang's HandlerOpts.MaxRequestsInFlight does: a
// scrape holds its series until its last line is written, and a slow
// reader holds it for as long as the server's write timeout lets it, so
// without a bound many slow readers hold many scrapes.
//
// A scrape is not compressed, whatever the client accepts: a gzip writer
// allocates about 1.2 MB whatever it writes, more than the scrape of a
// daemon following 1,000 fleets (about 0.7 MB of text) holds, and the
// daemon's memory is what it keeps small (docs/benchmarks.md, "Sixth round:
// the metrics without client_golang").
func (r *Registry) Handler(maxInFlight int) http.Handler {
	slots := make(chan struct{}, max(1, maxInFlight))
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		select {
		case slots <- struct{}{}:
			defer func() { <-slots }()
		default:
			w.Header().Set("Retry-After", "1")
			http.Error(w, fmt.Sprintf("too many scrapes in flight (at most %d at once): try again later", cap(slots)), http.StatusServiceUnavailable)
			return
		}
		s := r.scrape()
		w.Header().Set("Content-Type", ContentType)
		// A write fails only when the client went away: nothing to tell it.
		_, _ = s.WriteTo(w)
	})
}

// ContentType is the content type of the text format.
const ContentType = "text/plain; version=0.0.4; charset=utf-8"

// Scrape is the series of one scrape, by family.
type Scrape struct {
	fams map[string]*Family
}

// Family returns the family name of s, made with help, typ and the label
// names labels if new.
func (s *Scrape) Family(name, help string, typ Type, labels ...string) *Family {
	if f := s.fams[name]; f != nil {
		return f
	}
	f := &Family{name: name, help: help, typ: typ, labels: labels, order: make([]int, len(labels))}
	for i := range f.order {
		f.order[i] = i
	}
	// The series name their labels sorted by name, as client_golang's do.
	slices.SortStableFunc(f.order, func(a, b int) int { return strings.Compare(labels[a], labels[b]) })
	s.fams[name] = f
	return f
}

// WriteTo writes s in the text format (Registry.WriteTo).
func (s *Scrape) WriteTo(w io.Writer) (int64, error) {
	cw := &countingWriter{w: w}
	bw := bufio.NewWriterSize(cw, 8<<10)
	names := make([]string, 0, len(s.fams))
	for n, f := range s.fams {
		if f.n > 0 {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	var line []byte
	for _, n := range names {
		line = s.fams[n].write(bw, line)
	}
	err := bw.Flush()
	return cw.n, err
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// Family is one metric family of a scrape: its series, kept compact (the
// label values and the value of each) until they are written, sorted.
type Family struct {
	name, help string
	typ        Type
	labels     []string
	order      []int // indexes of labels, sorted by name
	n          int   // series
	// values holds len(labels) label values a series; nums the value of
	// each series of a counter or gauge, hists and sums those of a
	// histogram or a summary.
	values []string
	nums   []float64
	hists  []histogram
	sums   []summary
}

type histogram struct {
	upper      []float64
	cumulative []uint64
	sum        float64
	count      uint64
}

type summary struct {
	q, quantiles []float64
	sum          float64
	count        uint64
}

// Grow makes room for n more series, so that a collector that knows how
// many it adds has them kept without the slices growing twice their size.
func (f *Family) Grow(n int) {
	f.values = slices.Grow(f.values, n*len(f.labels))
	if f.typ == TypeCounter || f.typ == TypeGauge {
		f.nums = slices.Grow(f.nums, n)
	}
}

// Add adds the series of the label values vs (one for each of the
// family's label names) with the value v.
func (f *Family) Add(v float64, vs ...string) {
	f.addValues(vs)
	f.nums = append(f.nums, v)
}

// AddHistogram adds a histogram's series: upper are the buckets' bounds
// (+Inf implied), cumulative the count of observations ≤ each. The family
// keeps the slices.
func (f *Family) AddHistogram(upper []float64, cumulative []uint64, sum float64, count uint64, vs ...string) {
	f.addValues(vs)
	f.hists = append(f.hists, histogram{upper, cumulative, sum, count})
}

// AddSummary adds a summary's series: quantiles[i] is the value at the
// quantile q[i]. The family keeps the slices.
func (f *Family) AddSummary(q, quantiles []float64, sum float64, count uint64, vs ...string) {
	f.addValues(vs)
	f.sums = append(f.sums, summary{q, quantiles, sum, count})
}

func (f *Family) addValues(vs []string) {
	if len(vs) != len(f.labels) {
		panic(fmt.Sprintf("prom: %s takes %d label values, got %d", f.name, len(f.labels), len(vs)))
	}
	f.values = append(f.values, vs...)
	f.n++
}

// write writes the family, its series sorted by their label values in the
// order of the label names, as client_golang sorts them; line is scratch
// space, returned for the next family.
func (f *Family) write(w *bufio.Writer, line []byte) []byte {
	fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s %s\n", f.name, helpEscaper.Replace(f.help), f.name, f.typ)
	k := len(f.labels)
	idx := make([]int32, f.n)
	for i := range idx {
		idx[i] = int32(i)
	}
	slices.SortStableFunc(idx, func(a, b int32) int {
		for _, j := range f.order {
			if c := strings.Compare(f.values[int(a)*k+j], f.values[int(b)*k+j]); c != 0 {
				return c
			}
		}
		return 0
	})
	for _, i := range idx {
		vs := f.values[int(i)*k : int(i+1)*k]
		switch f.typ {
		case TypeHistogram:
			h := &f.hists[i]
			for b, u := range h.upper {
				line = f.sample(w, line[:0], "_bucket", vs, "le", u, float64(h.cumulative[b]))
			}
			line = f.sample(w, line[:0], "_bucket", vs, "le", math.Inf(1), float64(h.count))
			line = f.sample(w, line[:0], "_sum", vs, "", 0, h.sum)
			line = f.sample(w, line[:0], "_count", vs, "", 0, float64(h.count))
		case TypeSummary:
			s := &f.sums[i]
			for q := range s.q {
				line = f.sample(w, line[:0], "", vs, "quantile", s.q[q], s.quantiles[q])
			}
			line = f.sample(w, line[:0], "_sum", vs, "", 0, s.sum)
			line = f.sample(w, line[:0], "_count", vs, "", 0, float64(s.count))
		default:
			line = f.sample(w, line[:0], "", vs, "", 0, f.nums[i])
		}
	}
	return line
}

// sample writes one line through b: the family's name and suffix, its
// labels (and the extra label, if named, last, with the value extraValue),
// the value.
func (f *Family) sample(w *bufio.Writer, b []byte, suffix string, vs []string, extra string, extraValue, v float64) []byte {
	b = append(b, f.name...)
	b = append(b, suffix...)
	if len(vs) > 0 || extra != "" {
		b = append(b, '{')
		for i, j := range f.order {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendLabel(b, f.labels[j], vs[j])
		}
		if extra != "" {
			if len(vs) > 0 {
				b = append(b, ',')
			}
			b = append(b, extra...)
			b = append(b, '=', '"')
			b = appendFloat(b, extraValue)
			b = append(b, '"')
		}
		b = append(b, '}')
	}
	b = append(b, ' ')
	b = appendFloat(b, v)
	b = append(b, '\n')
	w.Write(b)
	return b
}

func appendLabel(b []byte, name, v string) []byte {
	b = append(b, name...)
	b = append(b, '=', '"')
	for i := 0; i < len(v); i++ {
		switch c := v[i]; c {
		case '\\':
			b = append(b, '\\', '\\')
		case '\n':
			b = append(b, '\\', 'n')
		case '"':
			b = append(b, '\\', '"')
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}

var helpEscaper = strings.NewReplacer(`\`, `\\`, "\n", `\n`)

// appendFloat appends v as the text format writes a value.
func appendFloat(b []byte, v float64) []byte {
	switch {
	case v == 0:
		return append(b, '0') // and -0, as client_golang writes it
	case math.IsInf(v, 1):
		return append(b, "+Inf"...)
	case math.IsInf(v, -1):
		return append(b, "-Inf"...)
	case math.IsNaN(v):
		return append(b, "NaN"...)
	}
	return strconv.AppendFloat(b, v, 'g', -1, 64)
}
