// Package promtest reads what a prom.Registry writes back into
// Prometheus's own data model, with Prometheus's own text parser, so that
// tests check the exposition a scraper would see. Tests only: it links
// Prometheus's own libraries, which the daemon's binary does not.
package promtest

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/lightkeeper/lightkeeper/internal/prom"
)

// Text is r's exposition.
func Text(t testing.TB, r *prom.Registry) string {
	t.Helper()
	var b bytes.Buffer
	if _, err := r.WriteTo(&b); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// Gather parses r's exposition into metric families by name; it fails the
// test if Prometheus's parser refuses it.
func Gather(t testing.TB, r *prom.Registry) map[string]*dto.MetricFamily {
	t.Helper()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader([]byte(Text(t, r))))
	if err != nil {
		t.Fatalf("the exposition does not parse: %v", err)
	}
	return fams
}

// Value is the value of the series of family name whose labels include the
// name/value pairs labels (the first such series; a histogram's or a
// summary's is its count), and whether there is one.
func Value(t testing.TB, r *prom.Registry, name string, labels ...string) (float64, bool) {
	t.Helper()
	mf := Gather(t, r)[name]
next:
	for _, m := range mf.GetMetric() {
		got := map[string]string{}
		for _, lp := range m.GetLabel() {
			got[lp.GetName()] = lp.GetValue()
		}
		for i := 0; i+1 < len(labels); i += 2 {
			if got[labels[i]] != labels[i+1] {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount()), true
		case m.Summary != nil:
			return float64(m.Summary.GetSampleCount()), true
		case m.Untyped != nil:
			return m.Untyped.GetValue(), true
		}
	}
	return 0, false
}

// Count is the number of series of family name.
func Count(t testing.TB, r *prom.Registry, name string) int {
	t.Helper()
	return len(Gather(t, r)[name].GetMetric())
}

// Compare checks that the families names of r's exposition are those of
// want (text format, in any order), as a scraper would read them: both are
// parsed and written again, families and series in order.
func Compare(t testing.TB, r *prom.Registry, want string, names ...string) error {
	t.Helper()
	p := expfmt.NewTextParser(model.UTF8Validation)
	wantFams, err := p.TextToMetricFamilies(strings.NewReader(want))
	if err != nil {
		return fmt.Errorf("the expected exposition does not parse: %w", err)
	}
	got, exp := normalized(Gather(t, r), names), normalized(wantFams, names)
	if got != exp {
		return fmt.Errorf("the exposition differs\ngot:\n%s\nwant:\n%s", got, exp)
	}
	return nil
}

func normalized(fams map[string]*dto.MetricFamily, names []string) string {
	var b strings.Builder
	for _, n := range slices.Sorted(slices.Values(names)) {
		if mf := fams[n]; mf != nil {
			if _, err := expfmt.MetricFamilyToText(&b, mf); err != nil {
				fmt.Fprintf(&b, "(%s: %v)\n", n, err)
			}
		}
	}
	return b.String()
}

// Lint is what Prometheus's metric linter says of r's exposition (naming
// conventions: units, _total, help), one line a problem.
func Lint(t testing.TB, r *prom.Registry) []string {
	t.Helper()
	problems, err := promlint.New(strings.NewReader(Text(t, r))).Lint()
	if err != nil {
		t.Fatalf("lint: %v", err)
	}
	var out []string
	for _, p := range problems {
		out = append(out, p.Metric+": "+p.Text)
	}
	return out
}

// ClientGolangText is reg's exposition as client_golang writes it: the
// oracle that prom's exposition is compared with.
func ClientGolangText(t testing.TB, reg *prometheus.Registry) string {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	for _, mf := range mfs {
		if _, err := expfmt.MetricFamilyToText(&b, mf); err != nil {
			t.Fatal(err)
		}
	}
	return b.String()
}
