package drift

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// The power study behind the default Thresholds (POWER.md): per trial, a
// baseline built as a profile would build it, from a 100,000-value draw,
// and one 10,000-value served window compared against it with the
// defaults. Print the rates with
//
//	go test ./skewcheck/drift -run 'TestPower' -v -count=1
const (
	powerTrials   = 200
	powerBaseline = 100_000
	powerWindow   = 10_000
)

// numericBaseline draws n standard normals and cuts them at their
// 5%, 10%, …, 95% quantiles, as the server bins a profile's numbers
// (skewcheck.FeatureSpec).
func numericBaseline(t testing.TB, r *rand.Rand, n int) Baseline {
	xs := make([]float64, n)
	for i := range xs {
		xs[i] = r.NormFloat64()
	}
	slices.Sort(xs)
	cuts := make([]float64, 19)
	for k := range cuts {
		// The quantile at level p: the smallest value with at least a
		// fraction p of the draw at or below it.
		cuts[k] = xs[(k+1)*n/20-1]
	}
	b, err := NewNumericBaseline(cuts, int64(n), 0)
	if err != nil {
		t.Fatal(err)
	}
	return Baseline{Numeric: &b}
}

// The categorical population: the profile keeps the five top categories,
// "f" and "g" fall into other.
var (
	catValues = []string{"a", "b", "c", "d", "e", "f", "g"}
	catShares = []float64{0.30, 0.25, 0.20, 0.10, 0.10, 0.03, 0.02}
)

// doubled is catShares with d's share doubled (0.1 → 0.2) and the others
// scaled down to keep the sum at one.
func doubled() []float64 {
	out := make([]float64, len(catShares))
	for i, s := range catShares {
		out[i] = s * 0.8 / 0.9
	}
	out[3] = 0.2
	return out
}

func drawCategory(r *rand.Rand, shares []float64) string {
	u := r.Float64()
	for i, s := range shares {
		if u < s {
			return catValues[i]
		}
		u -= s
	}
	return catValues[len(catValues)-1]
}

func categoricalBaseline(r *rand.Rand, n int) Baseline {
	counts := make([]int, len(catValues))
	for range n {
		v := drawCategory(r, catShares)
		counts[slices.Index(catValues, v)]++
	}
	b := CategoricalBaseline{Values: catValues[:5], Count: int64(n)}
	for i := range 5 {
		b.Shares = append(b.Shares, float64(counts[i])/float64(n))
	}
	b.Other = float64(counts[5]+counts[6]) / float64(n)
	return Baseline{Categorical: &b}
}

type powerCase struct {
	name    string
	wantMax float64 // the most alerting trials may do (false positives)
	wantMin float64 // the fewest (power)
	base    func(*rand.Rand) Baseline
	serve   func(*rand.Rand, *Sketch)
}

func TestPower(t *testing.T) {
	numBase := func(r *rand.Rand) Baseline { return numericBaseline(t, r, powerBaseline) }
	catBase := func(r *rand.Rand) Baseline { return categoricalBaseline(r, powerBaseline) }
	normal := func(shift float64) func(*rand.Rand, *Sketch) {
		return func(r *rand.Rand, s *Sketch) {
			for range powerWindow {
				s.ObserveFloat(r.NormFloat64() + shift)
			}
		}
	}
	cats := func(shares []float64) func(*rand.Rand, *Sketch) {
		return func(r *rand.Rand, s *Sketch) {
			for range powerWindow {
				s.ObserveString(drawCategory(r, shares))
			}
		}
	}
	cases := []powerCase{
		{"numeric/null", 0.01, 0, numBase, normal(0)},
		{"numeric/shift=0.25sd", 1, 0.95, numBase, normal(0.25)},
		{"categorical/null", 0.01, 0, catBase, cats(catShares)},
		{"categorical/share=0.1->0.2", 1, 0.95, catBase, cats(doubled())},
	}
	trials := powerTrials
	if testing.Short() || raceEnabled {
		trials = powerTrials / 4
	}
	for ci, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			var alerts, warns int
			var maxKS, maxLInf, maxPSI float64
			minKS, minLInf := 1.0, 1.0
			for trial := range trials {
				r := rand.New(rand.NewPCG(uint64(ci), uint64(trial)))
				s, err := NewSketch(c.base(r))
				if err != nil {
					t.Fatal(err)
				}
				c.serve(r, s)
				w := s.Compare(Thresholds{})
				switch w.State {
				case Alert:
					alerts++
				case Warn:
					warns++
				case InsufficientData:
					t.Fatalf("trial %d: insufficient data with %d samples", trial, w.Samples)
				}
				maxPSI = max(maxPSI, w.Distances.PSI)
				if w.Distances.KS != nil {
					maxKS = max(maxKS, *w.Distances.KS)
					minKS = min(minKS, *w.Distances.KS)
				}
				if w.Distances.LInf != nil {
					maxLInf = max(maxLInf, *w.Distances.LInf)
					minLInf = min(minLInf, *w.Distances.LInf)
				}
			}
			rate := float64(alerts) / float64(trials)
			stat, lo, hi := "ks", minKS, maxKS
			if maxLInf > 0 {
				stat, lo, hi = "linf", minLInf, maxLInf
			}
			t.Logf("%s: alert in %d/%d trials (%.1f%%), warn in %d; %s from %.4f to %.4f, largest psi %.4f",
				c.name, alerts, trials, 100*rate, warns, stat, lo, hi, maxPSI)
			if rate > c.wantMax {
				t.Errorf("alert rate %.3f above %.3f", rate, c.wantMax)
			}
			if rate < c.wantMin {
				t.Errorf("alert rate (power) %.3f below %.3f", rate, c.wantMin)
			}
		})
	}
}
