package prom

import (
	"bufio"
	"compress/gzip"
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

// Scrape collects every registered collector's series.
func (r *Registry) Scrape() *Scrape {
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
func (r *Registry) WriteTo(w io.Writer) (int64, error) { return r.Scrape().WriteTo(w) }

// ServeHTTP serves a scrape (gzip-compressed when the client accepts it, as
// Prometheus does).
func (r *Registry) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	s := r.Scrape()
	w.Header().Set("Content-Type", ContentType)
	var out io.Writer = w
	if acceptsGzip(req.Header.Get("Accept-Encoding")) {
		w.Header().Set("Content-Encoding", "gzip")
		w.Header().Add("Vary", "Accept-Encoding")
		zw, _ := gzip.NewWriterLevel(w, gzip.BestSpeed) // the level is valid
		defer zw.Close()
		out = zw
	}
	// A write fails only when the client went away: nothing to tell it.
	_, _ = s.WriteTo(out)
}

// ContentType is the content type of the text format.
const ContentType = "text/plain; version=0.0.4; charset=utf-8"

func acceptsGzip(h string) bool {
	for part := range strings.SplitSeq(h, ",") {
		enc, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(enc), "gzip") && strings.ReplaceAll(params, " ", "") != "q=0" {
			return true
		}
	}
	return false
}

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
	bw := bufio.NewWriterSize(cw, 32<<10)
	names := make([]string, 0, len(s.fams))
	for n, f := range s.fams {
		if len(f.series) > 0 {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	for _, n := range names {
		s.fams[n].write(bw)
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

// Family is one metric family of a scrape: its series, each rendered as the
// text format's lines.
type Family struct {
	name, help string
	typ        Type
	labels     []string
	order      []int // indexes of labels, sorted by name
	text       []byte
	series     []series
}

// series is one series of a family: its sort key (its label values in the
// order of order, NUL-separated) and its lines, text[start:end].
type series struct {
	key        string
	start, end int
}

// Add adds the series of the label values vs (one for each of the
// family's label names) with the value v.
func (f *Family) Add(v float64, vs ...string) {
	start := len(f.text)
	f.text = f.sample(f.text, "", vs, "", "", v)
	f.add(vs, start)
}

// AddHistogram adds a histogram's series: upper are the buckets' bounds
// (+Inf implied), cumulative the count of observations ≤ each.
func (f *Family) AddHistogram(upper []float64, cumulative []uint64, sum float64, count uint64, vs ...string) {
	start := len(f.text)
	for i, u := range upper {
		f.text = f.sample(f.text, "_bucket", vs, "le", formatFloat(u), float64(cumulative[i]))
	}
	f.text = f.sample(f.text, "_bucket", vs, "le", "+Inf", float64(count))
	f.text = f.sample(f.text, "_sum", vs, "", "", sum)
	f.text = f.sample(f.text, "_count", vs, "", "", float64(count))
	f.add(vs, start)
}

// AddSummary adds a summary's series: quantiles[i] is the value at the
// quantile q[i].
func (f *Family) AddSummary(q, quantiles []float64, sum float64, count uint64, vs ...string) {
	start := len(f.text)
	for i := range q {
		f.text = f.sample(f.text, "", vs, "quantile", formatFloat(q[i]), quantiles[i])
	}
	f.text = f.sample(f.text, "_sum", vs, "", "", sum)
	f.text = f.sample(f.text, "_count", vs, "", "", float64(count))
	f.add(vs, start)
}

func (f *Family) add(vs []string, start int) {
	var key strings.Builder
	for i, j := range f.order {
		if i > 0 {
			key.WriteByte(0)
		}
		key.WriteString(vs[j])
	}
	f.series = append(f.series, series{key: key.String(), start: start, end: len(f.text)})
}

// sample appends one line: the family's name and suffix, its labels (and
// the extra label, if named, last), the value.
func (f *Family) sample(b []byte, suffix string, vs []string, extra, extraValue string, v float64) []byte {
	if len(vs) != len(f.labels) {
		panic(fmt.Sprintf("prom: %s takes %d label values, got %d", f.name, len(f.labels), len(vs)))
	}
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
			b = appendLabel(b, extra, extraValue)
		}
		b = append(b, '}')
	}
	b = append(b, ' ')
	b = append(b, formatFloat(v)...)
	return append(b, '\n')
}

func appendLabel(b []byte, name, v string) []byte {
	b = append(b, name...)
	b = append(b, '=', '"')
	b = append(b, labelEscaper.Replace(v)...)
	return append(b, '"')
}

var (
	labelEscaper = strings.NewReplacer(`\`, `\\`, "\n", `\n`, `"`, `\"`)
	helpEscaper  = strings.NewReplacer(`\`, `\\`, "\n", `\n`)
)

func (f *Family) write(w *bufio.Writer) {
	fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s %s\n", f.name, helpEscaper.Replace(f.help), f.name, f.typ)
	slices.SortStableFunc(f.series, func(a, b series) int { return strings.Compare(a.key, b.key) })
	for _, s := range f.series {
		w.Write(f.text[s.start:s.end])
	}
}

// formatFloat formats v as the text format writes a value.
func formatFloat(v float64) string {
	switch {
	case v == 0:
		return "0" // and -0, as client_golang writes it
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	case math.IsNaN(v):
		return "NaN"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}
