package profile

import (
	"math"
	"sort"
	"strconv"

	"github.com/DataDog/sketches-go/ddsketch"
)

// Profile is a decoded baseline profile (either format).
type Profile struct {
	// Format is Format or FormatV1.
	Format string `json:"format"`
	// Dataset is the base name of the profiled data set.
	Dataset string `json:"dataset"`
	// Rows is the number of rows profiled.
	Rows     int64     `json:"rows"`
	Features []Feature `json:"features"`
	// Expectations are the data-quality gate results recorded when the
	// data set was built (v2; none when absent).
	Expectations []ExpectationResult `json:"expectations,omitempty"`
}

// ExpectationResult is one data-quality expectation checked over the
// profiled data set.
type ExpectationResult struct {
	// Feature is the column checked; Rule the expectation ("not_null",
	// "min", "max", "in_set", …), Limit its bound as written and Observed
	// what the data gave, both as text.
	Feature  string `json:"feature"`
	Rule     string `json:"rule"`
	Limit    string `json:"limit"`
	Observed string `json:"observed"`
	// Violations counts the rows that broke it; FirstRows are the first
	// of them (row numbers from 0).
	Violations int64   `json:"violations"`
	FirstRows  []int64 `json:"first_rows,omitempty"`
}

// Feature is one column's profile. Pointer fields are absent when they do
// not apply or are undefined (no numbers, an infinite bound).
type Feature struct {
	Name string `json:"name"`
	// Type is the value type's name: INT64, DOUBLE, BOOL, STRING or
	// TIMESTAMP.
	Type string `json:"type"`
	// Count is the number of non-null values (NaN included) and Nulls of
	// null ones.
	Count int64 `json:"count"`
	Nulls int64 `json:"nulls"`
	// Numbers (timestamps in microseconds), over values neither null nor
	// NaN: Stddev is the population standard deviation.
	Min    *float64 `json:"min,omitempty"`
	Max    *float64 `json:"max,omitempty"`
	Mean   *float64 `json:"mean,omitempty"`
	Stddev *float64 `json:"stddev,omitempty"`
	NaN    int64    `json:"nan,omitempty"`
	// Quantiles p01, p05, p25, p50, p75, p95, p99 from the reservoir
	// sample (finite ones only).
	Quantiles map[string]float64 `json:"quantiles,omitempty"`
	// True and False count a BOOL column's values (False is v2's; v1
	// files have Count-True).
	True  *int64 `json:"true,omitempty"`
	False *int64 `json:"false,omitempty"`
	// Distinct counts distinct values (STRING, and INT64 on v2): exact,
	// unless DistinctApprox (a HyperLogLog estimate, v2) or DistinctCapped
	// (a lower bound, v1).
	Distinct       *int64 `json:"distinct,omitempty"`
	DistinctCapped bool   `json:"distinct_capped,omitempty"`
	DistinctApprox bool   `json:"distinct_approx,omitempty"`
	// Top are the most frequent values with their counts, by count then
	// value; INT64 values in decimal. Counts are exact when TopError is 0,
	// else each at most TopError below the true count.
	Top      []TopValue `json:"top,omitempty"`
	TopError int64      `json:"top_error,omitempty"`
	// Sketch is the numbers' DDSketch (v2).
	Sketch *Sketch `json:"sketch,omitempty"`

	sketch *ddsketch.DDSketch // Sketch, decoded
}

// TopValue is a value and its count.
type TopValue struct {
	Value string `json:"value"`
	Count int64  `json:"count"`
}

// Sketch is a DDSketch as written: its relative accuracy, its bound on
// bins per store, and its protobuf encoding (sketchpb.DDSketch; base64 in
// JSON). Outside counts numbers not in it (infinities).
type Sketch struct {
	RelativeAccuracy float64 `json:"relative_accuracy"`
	MaxBins          int     `json:"max_bins"`
	Outside          int64   `json:"outside,omitempty"`
	DDSketch         []byte  `json:"ddsketch"`
}

// Feature returns the profile of the named feature, nil if there is none.
func (p *Profile) Feature(name string) *Feature {
	for i := range p.Features {
		if p.Features[i].Name == name {
			return &p.Features[i]
		}
	}
	return nil
}

// NullFraction is the share of null values among all rows (0 when there
// are none).
func (f *Feature) NullFraction() float64 {
	if all := f.Count + f.Nulls; all > 0 {
		return float64(f.Nulls) / float64(all)
	}
	return 0
}

// DDSketch returns the decoded sketch of a numeric feature, nil when the
// profile has none (v1, no numbers). The caller must not modify it.
func (f *Feature) DDSketch() *ddsketch.DDSketch { return f.sketch }

var quantileKeys = []struct {
	key string
	q   float64
}{{"p01", 0.01}, {"p05", 0.05}, {"p25", 0.25}, {"p50", 0.5}, {"p75", 0.75}, {"p95", 0.95}, {"p99", 0.99}}

// CutPoints returns the n-1 quantiles at 1/n, 2/n, …, (n-1)/n of a
// numeric feature's numbers (CutPoints(100): the percentiles 1%..99%),
// non-decreasing: from the sketch on v2 (each within RelativeAccuracy of
// a value at that rank), interpolated linearly between min, the p01..p99
// quantiles and max on v1. It returns nil when there are none (not
// numeric, no numbers, n < 2).
func (f *Feature) CutPoints(n int) []float64 {
	if n < 2 {
		return nil
	}
	out := make([]float64, 0, n-1)
	if f.sketch != nil && !f.sketch.IsEmpty() {
		for i := 1; i < n; i++ {
			v, err := f.sketch.GetValueAtQuantile(float64(i) / float64(n))
			if err != nil {
				return nil
			}
			out = append(out, v)
		}
		return clampSorted(out, f.Min, f.Max)
	}
	// v1: knots (q, value) from min, the quantiles and max.
	type knot struct{ q, v float64 }
	var ks []knot
	if f.Min != nil {
		ks = append(ks, knot{0, *f.Min})
	}
	for _, k := range quantileKeys {
		if v, ok := f.Quantiles[k.key]; ok {
			ks = append(ks, knot{k.q, v})
		}
	}
	if f.Max != nil {
		ks = append(ks, knot{1, *f.Max})
	}
	if len(ks) == 0 {
		return nil
	}
	for i := 1; i < n; i++ {
		q := float64(i) / float64(n)
		j := sort.Search(len(ks), func(j int) bool { return ks[j].q >= q })
		switch {
		case j == 0:
			out = append(out, ks[0].v)
		case j == len(ks):
			out = append(out, ks[len(ks)-1].v)
		default:
			a, b := ks[j-1], ks[j]
			out = append(out, a.v+(b.v-a.v)*(q-a.q)/(b.q-a.q))
		}
	}
	return clampSorted(out, f.Min, f.Max)
}

// clampSorted makes xs non-decreasing and inside [lo, hi] where known.
func clampSorted(xs []float64, lo, hi *float64) []float64 {
	for i := range xs {
		if lo != nil {
			xs[i] = math.Max(xs[i], *lo)
		}
		if hi != nil {
			xs[i] = math.Min(xs[i], *hi)
		}
		if i > 0 && xs[i] < xs[i-1] {
			xs[i] = xs[i-1]
		}
	}
	return xs
}

// Share is a value's share of a categorical feature's non-null values.
type Share struct {
	Value string
	Share float64
}

// Shares returns a categorical feature's top values with their shares of
// the non-null values, and the share of every other value ("other"),
// which with them sums to 1: STRING and INT64 from Top (INT64 values in
// decimal), BOOL as "true" and "false". With approximate counts
// (TopError > 0) the top shares are lower bounds and other an upper
// bound. ok is false when the feature has no such counts or no values.
func (f *Feature) Shares() (top []Share, other float64, ok bool) {
	if f.Count <= 0 {
		return nil, 0, false
	}
	total := float64(f.Count)
	if f.True != nil {
		t := *f.True
		fl := f.Count - t
		if f.False != nil {
			fl = *f.False
		}
		top = []Share{{"true", float64(t) / total}, {"false", float64(fl) / total}}
		return top, math.Max(0, 1-top[0].Share-top[1].Share), true
	}
	if len(f.Top) == 0 {
		return nil, 0, false
	}
	other = 1
	for _, tv := range f.Top {
		s := float64(tv.Count) / total
		top = append(top, Share{tv.Value, s})
		other -= s
	}
	return top, math.Max(0, other), true
}

func formatInt(x int64) string { return strconv.FormatInt(x, 10) }
