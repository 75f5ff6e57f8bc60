package drift

import (
	"errors"
	"math"
	"math/rand/v2"
	"sort"
	"testing"
)

func near(t *testing.T, name string, got, want, tol float64) {
	t.Helper()
	if math.Abs(got-want) > tol {
		t.Errorf("%s = %.6f, want %.6f (±%g)", name, got, want, tol)
	}
}

// The expected values below are computed by hand from the documented
// formulas.
func TestDistancesHandComputed(t *testing.T) {
	// PSI: (0.25−0.5)·ln(0.25/0.5) + (0.75−0.5)·ln(0.75/0.5)
	//    = 0.25·0.693147 + 0.25·0.405465 = 0.274653 before smoothing; add-ε
	//    moves the shares by < 1e-4.
	near(t, "PSI", PSI([]float64{0.5, 0.5}, []float64{0.25, 0.75}), 0.274653, 2e-4)
	near(t, "PSI(equal)", PSI([]float64{0.2, 0.8}, []float64{0.2, 0.8}), 0, 1e-12)
	// An empty served bin stays finite: p=0.5 vs ε.
	if v := PSI([]float64{0.5, 0.5}, []float64{0, 1}); math.IsInf(v, 0) || v < 3 {
		t.Errorf("PSI with an empty bin = %v, want finite and large", v)
	}
	// JS: m = (0.75, 0.25); ½[0.5·log2(0.5/0.75) + 0.5·log2(0.5/0.25)] +
	//     ½[1·log2(1/0.75)] = ½·0.207519 + ½·0.415037 = 0.311278.
	near(t, "JS", JS([]float64{0.5, 0.5}, []float64{1, 0}), 0.311278, 1e-6)
	near(t, "JS(disjoint)", JS([]float64{1, 0}, []float64{0, 1}), 1, 1e-12)
	near(t, "JS(equal)", JS([]float64{0.3, 0.7}, []float64{0.3, 0.7}), 0, 1e-12)
	// KS: cumulative (0.2, 0.5) vs (0.1, 0.4): D = 0.1.
	p, q := []float64{0.2, 0.3, 0.5}, []float64{0.1, 0.3, 0.6}
	near(t, "KS", KS(p, q), 0.1, 1e-12)
	near(t, "KS(crossing)", KS([]float64{0.5, 0, 0.5}, []float64{0.1, 0.8, 0.1}), 0.4, 1e-12)
	near(t, "LInf", LInf(p, q), 0.1, 1e-12)
	near(t, "LInf(other)", LInf([]float64{0.4, 0.4, 0.2}, []float64{0.4, 0.3, 0.3}), 0.1, 1e-12)
	// c(0.05) = sqrt(−ln(0.025)/2) = 1.358102; ·sqrt(200/10000) = 0.192065.
	near(t, "KSCritical", KSCritical(0.05, 100, 100), 0.192065, 1e-6)
	near(t, "KSCritical(one-sample)", KSCritical(0.05, 0, 100), 0.1358102, 1e-6)
	if !math.IsInf(KSCritical(0.05, 100, 0), 1) {
		t.Error("KSCritical without served samples is not +Inf")
	}
	// Goodness of fit: (60−50)²/50 + (40−50)²/50 = 4, df 1, p = 0.045500.
	stat, df, pv := ChiSquare([]float64{0.5, 0.5}, 0, []int64{60, 40})
	near(t, "X² (fit)", stat, 4, 1e-12)
	near(t, "p (fit)", pv, 0.0455003, 1e-6)
	if df != 1 {
		t.Errorf("df = %d, want 1", df)
	}
	// Homogeneity of [[50,50],[60,40]]: expected 55/45 per column:
	// 2·25/55 + 2·25/45 = 2.020202, p = 0.155218.
	stat, _, pv = ChiSquare([]float64{0.5, 0.5}, 100, []int64{60, 40})
	near(t, "X² (homogeneity)", stat, 2.020202, 1e-6)
	near(t, "p (homogeneity)", pv, 0.155218, 1e-5)
	// A served value where the baseline has none: p = 0.
	if _, _, pv := ChiSquare([]float64{1, 0}, 0, []int64{10, 1}); pv != 0 {
		t.Errorf("p with a served count in an empty baseline bin = %v, want 0", pv)
	}
	if _, _, pv := ChiSquare([]float64{0.5, 0.5}, 10, nil); pv != 1 {
		t.Errorf("p without samples = %v, want 1", pv)
	}
	// z = (0.6 − 0.5)/sqrt(0.25/100) = 2: p = 0.045500.
	near(t, "ProportionTest", ProportionTest(60, 100, 0.5, 0), 0.0455003, 1e-6)
	// Pooled: p̂ = 0.55, se = sqrt(0.2475·0.02) = 0.070356, z = 1.421338:
	// p = 0.155218 (the same test as the 2×2 chi-square above).
	near(t, "ProportionTest(pooled)", ProportionTest(60, 100, 0.5, 100), 0.155218, 1e-5)
	if ProportionTest(1, 100, 0, 0) != 0 || ProportionTest(0, 100, 0, 0) != 1 {
		t.Error("ProportionTest against an exact zero proportion")
	}
}

func TestNumericBaseline(t *testing.T) {
	b, err := NewNumericBaseline([]float64{1, 2, 2, 3}, 1000, 0.1)
	if err != nil {
		t.Fatal(err)
	}
	// Levels 0.2, 0.4, 0.6, 0.8: the duplicate 2 carries 0.6.
	wantEdges, wantProbs := []float64{1, 2, 3}, []float64{0.2, 0.4, 0.2, 0.2}
	for i := range wantProbs {
		near(t, "prob", b.Probs[i], wantProbs[i], 1e-12)
	}
	if len(b.Edges) != 3 || b.Edges[0] != wantEdges[0] || b.Edges[2] != wantEdges[2] {
		t.Errorf("edges %v, want %v", b.Edges, wantEdges)
	}
	// A constant feature: one edge.
	c, err := NewNumericBaseline([]float64{5, 5, 5}, 10, 0)
	if err != nil || len(c.Edges) != 1 || c.Probs[0] != 0.75 || c.Probs[1] != 0.25 {
		t.Errorf("constant: %+v, %v", c, err)
	}
	c, err = NewNumericBaselineLevels([]float64{0.5, 1}, []float64{5, 5}, 10, 0)
	if err != nil || len(c.Edges) != 1 || c.Probs[0] != 1 || c.Probs[1] != 0 {
		t.Errorf("constant with its maximum: %+v, %v", c, err)
	}
	bad := []struct {
		name         string
		levels, cuts []float64
		count        int64
		null         float64
		want         string
	}{
		{"nan", []float64{0.5}, []float64{math.NaN()}, 1, 0, "cut point[0] is NaN"},
		{"inf", []float64{0.5}, []float64{math.Inf(1)}, 1, 0, "cut point[0] is +Inf"},
		{"unsorted", []float64{0.3, 0.6}, []float64{2, 1}, 1, 0, "cut point[1] = 1 is below cut point[0] = 2"},
		{"mismatch", []float64{0.3}, []float64{1, 2}, 1, 0, "1 levels for 2 cut points"},
		{"levels", []float64{0.6, 0.3}, []float64{1, 2}, 1, 0, "level[1] = 0.3 is not above"},
		{"negative", []float64{0.5}, []float64{1}, -1, 0, "count -1 is negative"},
		{"null", []float64{0.5}, []float64{1}, 1, 1.5, "null fraction 1.5"},
		{"empty", nil, nil, 1, 0, "no cut points"},
	}
	for _, c := range bad {
		_, err := NewNumericBaselineLevels(c.levels, c.cuts, c.count, c.null)
		if !errors.Is(err, ErrInvalidBaseline) || !contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one saying %q", c.name, err, c.want)
		}
	}
	nb := NumericBaseline{Edges: []float64{1, 1}, Probs: []float64{0.3, 0.3, 0.4}}
	if err := nb.Validate(); err == nil || !contains(err.Error(), "edge[1] = 1 is not above edge[0] = 1") {
		t.Errorf("duplicate edges: %v", err)
	}
	nb = NumericBaseline{Edges: []float64{1}, Probs: []float64{0.3, 0.3}}
	if err := nb.Validate(); err == nil || !contains(err.Error(), "sum to 0.6") {
		t.Errorf("probs not summing to one: %v", err)
	}
	cb := CategoricalBaseline{Values: []string{"a", "a"}, Shares: []float64{0.5, 0.5}}
	if err := cb.Validate(); err == nil || !contains(err.Error(), `value[1] "a" repeats value[0]`) {
		t.Errorf("repeated category: %v", err)
	}
	cb = CategoricalBaseline{Values: []string{"a"}, Shares: []float64{0.5}, Other: 0.4}
	if err := cb.Validate(); err == nil || !contains(err.Error(), "sum to 0.9") {
		t.Errorf("shares not summing to one: %v", err)
	}
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}

func TestBinning(t *testing.T) {
	nb := NumericBaseline{Edges: []float64{1, 2, 3}, Probs: []float64{0.25, 0.25, 0.25, 0.25}}
	s, err := NewSketch(Baseline{Numeric: &nb})
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []float64{1, 1.5, 2, 3, 3.1, math.Inf(-1), math.Inf(1), math.NaN(), -7} {
		s.ObserveFloat(v)
	}
	s.ObserveInt(2)             // bin 1
	s.ObserveString("2.5")      // bin 2
	s.ObserveBytes([]byte("x")) // NaN: not a number
	s.ObserveBool(true)         // 1: bin 0
	s.ObserveStatus(StatusNull)
	s.ObserveStatus(StatusNotFound)
	s.ObserveStatus(StatusNotFound)
	s.ObserveStatus(StatusOutsideMaxAge)
	c := s.Counts()
	want := Counts{Bins: []int64{4, 3, 2, 2}, Nulls: 1, NaN: 2, NotFound: 2, OutsideMaxAge: 1}
	if !equalCounts(c, want) {
		t.Errorf("numeric counts %+v, want %+v", c, want)
	}

	cb := CategoricalBaseline{Values: []string{"x", "42", "true", "-3"}, Shares: []float64{0.2, 0.2, 0.2, 0.2}, Other: 0.2}
	s, err = NewSketch(Baseline{Categorical: &cb})
	if err != nil {
		t.Fatal(err)
	}
	s.ObserveString("x")
	s.ObserveBytes([]byte("x"))
	s.ObserveInt(42)
	s.ObserveFloat(42)
	s.ObserveString("42")
	s.ObserveBool(true)
	s.ObserveBool(false) // other: "false" is not listed
	s.ObserveInt(-3)
	s.ObserveInt(7)      // other
	s.ObserveFloat(0.5)  // other
	s.ObserveString("y") // other
	s.ObserveFloat(math.NaN())
	c = s.Counts()
	want = Counts{Bins: []int64{2, 3, 1, 1, 4}, NaN: 1}
	if !equalCounts(c, want) {
		t.Errorf("categorical counts %+v, want %+v", c, want)
	}
	s.Reset()
	if c := s.Counts(); c.Total() != 0 {
		t.Errorf("after Reset: %+v", c)
	}
}

func equalCounts(a, b Counts) bool {
	if len(a.Bins) != len(b.Bins) || a.Nulls != b.Nulls || a.NaN != b.NaN || a.NotFound != b.NotFound || a.OutsideMaxAge != b.OutsideMaxAge {
		return false
	}
	for i := range a.Bins {
		if a.Bins[i] != b.Bins[i] {
			return false
		}
	}
	return true
}

func TestCompareStates(t *testing.T) {
	nb := NumericBaseline{Edges: []float64{0}, Probs: []float64{0.5, 0.5}, Count: 100000, NullFraction: 0.1}
	base := Baseline{Numeric: &nb}
	// Too few samples: insufficient, never ok, even when identical.
	c := Counts{Bins: []int64{450, 450}, Nulls: 100}
	if r := Compare(base, &c, Thresholds{}); r.State != InsufficientData {
		t.Errorf("900 samples: state %v, want insufficient_data", r.State)
	}
	c = Counts{Bins: []int64{4500, 4500}, Nulls: 1000}
	if r := Compare(base, &c, Thresholds{}); r.State != OK {
		t.Errorf("identical: state %v (%v), want ok", r.State, r.Reasons)
	}
	// KS 0.1 with 10,000 samples: alert.
	c = Counts{Bins: []int64{5400, 3600}, Nulls: 1000}
	r := Compare(base, &c, Thresholds{})
	if r.State != Alert || *r.Distances.KS < 0.099 {
		t.Errorf("ks 0.1: state %v, ks %v, reasons %v", r.State, *r.Distances.KS, r.Reasons)
	}
	// The same shift over 30 samples with MinSamples 10 is not
	// significant: ok.
	c = Counts{Bins: []int64{18, 12}, Nulls: 3}
	if r := Compare(base, &c, Thresholds{MinSamples: 10}); r.State != OK {
		t.Errorf("insignificant ks: state %v (%v), want ok", r.State, r.Reasons)
	}
	// Nulls up from 0.1 to 0.3: alert by the null rate alone.
	c = Counts{Bins: []int64{3500, 3500}, NotFound: 2000, OutsideMaxAge: 500, Nulls: 500}
	r = Compare(base, &c, Thresholds{})
	if r.State != Alert || math.Abs(r.NullRateDelta-0.2) > 1e-12 || r.NotFoundRate != 0.2 {
		t.Errorf("null rate: state %v, delta %v, reasons %v", r.State, r.NullRateDelta, r.Reasons)
	}
	// A negative level turns the metric off.
	if r := Compare(base, &c, Thresholds{NullWarn: -1, NullAlert: -1}); r.State != OK {
		t.Errorf("null rate off: state %v (%v)", r.State, r.Reasons)
	}
	// All null: the distribution is insufficient, the null rate alerts.
	c = Counts{Nulls: 5000}
	if r := Compare(base, &c, Thresholds{}); r.State != Alert || r.Distances != nil {
		t.Errorf("all null: state %v, distances %v", r.State, r.Distances)
	}
}

func TestThresholds(t *testing.T) {
	th := Thresholds{KSAlert: 0.2}.EnsureDefaults()
	if th.KSAlert != 0.2 || th.KSWarn != 0.05 || th.MinSamples != 1000 || th.Alpha != 0.001 {
		t.Errorf("EnsureDefaults: %+v", th)
	}
	if err := (Thresholds{KSWarn: 0.3, KSAlert: 0.2}).EnsureDefaults().Validate(); !errors.Is(err, ErrInvalidThresholds) {
		t.Errorf("warn above alert: %v", err)
	}
	if err := (Thresholds{Alpha: 2}).EnsureDefaults().Validate(); !errors.Is(err, ErrInvalidThresholds) {
		t.Errorf("alpha 2: %v", err)
	}
	for s, want := range map[State]float64{OK: 0, Warn: 1, Alert: 2, InsufficientData: -1} {
		if s.MetricValue() != want {
			t.Errorf("%v.MetricValue() = %v", s, s.MetricValue())
		}
	}
	if Worst(InsufficientData, OK) != InsufficientData || Worst(InsufficientData, Warn) != Warn {
		t.Error("state order")
	}
}

// The branch-free bin search agrees with sort.SearchFloat64s on random
// edges and values, ties on the edges included.
func TestBinSearchDifferential(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	for trial := range 200 {
		n := 1 + r.IntN(120)
		edges := make([]float64, 0, n)
		x := r.NormFloat64()
		for range n {
			x += 0.01 + r.Float64()
			edges = append(edges, x)
		}
		probs := make([]float64, n+1)
		for i := range probs {
			probs[i] = 1 / float64(n+1)
		}
		bd, err := newBinding(Baseline{Numeric: &NumericBaseline{Edges: edges, Probs: probs}})
		if err != nil {
			t.Fatal(err)
		}
		for range 200 {
			v := edges[0] - 1 + r.Float64()*(edges[n-1]-edges[0]+2)
			if r.IntN(4) == 0 {
				v = edges[r.IntN(n)]
			}
			if got, want := bd.slotFloat(v), sort.SearchFloat64s(edges, v); got != want {
				t.Fatalf("trial %d: %v in %v: bin %d, want %d", trial, v, edges, got, want)
			}
		}
	}
}
