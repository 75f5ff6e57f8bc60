package backfill

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/fstore/fstore/compute"
	"github.com/fstore/fstore/featurestore/def"
)

// TestProfileMomentsAndReservoir feeds a profile chunks of a shuffled
// 0..n-1 and checks the merged moments against a direct computation and
// that the reservoir sample is uniform: its quantiles are close to the
// true ones.
func TestProfileMomentsAndReservoir(t *testing.T) {
	const n = 300_000
	r := rand.New(rand.NewPCG(1, 2))
	xs := make([]float64, n)
	for i := range xs {
		xs[i] = float64(i)
	}
	r.Shuffle(n, func(i, j int) { xs[i], xs[j] = xs[j], xs[i] })
	p := newProfiler([]def.Field{{Name: "x", Type: def.Double}})
	for lo := 0; lo < n; {
		hi := min(n, lo+1+r.IntN(50_000))
		c := &compute.Column{}
		c.ResetBitmap(def.Double, hi-lo, false)
		copy(c.F64, xs[lo:hi])
		p.add([]*compute.Column{c}, hi-lo)
		lo = hi
	}
	cp := p.cols[0]
	mean := float64(n-1) / 2
	variance := (float64(n)*float64(n) - 1) / 12
	if math.Abs(cp.mean-mean) > 1e-6*mean || math.Abs(cp.m2/n-variance) > 1e-6*variance {
		t.Fatalf("mean %v, variance %v; want %v, %v", cp.mean, cp.m2/n, mean, variance)
	}
	if cp.min != 0 || cp.max != n-1 || cp.count != n {
		t.Fatalf("min %v max %v count %d", cp.min, cp.max, cp.count)
	}
	if len(cp.sample) != reservoirSize {
		t.Fatalf("sample of %d", len(cp.sample))
	}
	s := slices.Clone(cp.sample)
	slices.Sort(s)
	for _, q := range []float64{0.05, 0.25, 0.5, 0.75, 0.95} {
		got := s[int(q*float64(len(s)))] / n
		if math.Abs(got-q) > 0.02 {
			t.Fatalf("sample quantile %v is %v of the range", q, got)
		}
	}
}
