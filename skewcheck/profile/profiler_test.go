package profile

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"google.golang.org/protobuf/proto"

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
	p := New([]def.Field{{Name: "x", Type: def.Double}})
	for lo := 0; lo < n; {
		hi := min(n, lo+1+r.IntN(50_000))
		c := &compute.Column{}
		c.ResetBitmap(def.Double, hi-lo, false)
		copy(c.F64, xs[lo:hi])
		p.Add([]*compute.Column{c}, hi-lo)
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
	if len(cp.sample) != ReservoirSize {
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

// TestProfileChunksMatchRowByRow checks prepare and merge, which read the
// numbers through the validity bitmap and split the work between workers
// and the merge, against a direct profile of the same chunks that
// lists each chunk's numbers and takes them one by one: every moment,
// count and reservoir value must be the same, bit for bit, with nulls,
// NaN, signed zeros and infinities about.
func TestProfileChunksMatchRowByRow(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for it := 0; it < 30; it++ {
		fields := []def.Field{{Name: "d", Type: def.Double}, {Name: "i", Type: def.Int64}}
		got, want := New(fields), New(fields)
		nullRate, nanRate := []float64{0, 0.02, 0.5, 1}[it%4], []float64{0, 0.001}[it/4%2]
		for chunk := 0; chunk < 1+r.IntN(12); chunk++ {
			n := r.IntN(40_000)
			if r.IntN(5) == 0 {
				n = r.IntN(100)
			}
			d, i := &compute.Column{}, &compute.Column{}
			d.ResetBitmap(def.Double, n, false)
			i.ResetBitmap(def.Int64, n, false)
			if nullRate == 0 && r.IntN(2) == 0 {
				d.Valid, i.Valid = nil, nil
			}
			specials := []float64{0, math.Copysign(0, -1), math.Inf(1), math.Inf(-1)}
			for row := 0; row < n; row++ {
				d.F64[row] = r.NormFloat64() * 1e3
				if r.IntN(50) == 0 {
					d.F64[row] = specials[r.IntN(len(specials))]
				}
				if r.Float64() < nanRate {
					d.F64[row] = math.NaN()
				}
				i.I64[row] = r.Int64N(1e12) - 5e11
				if d.Valid != nil && r.Float64() < nullRate {
					d.Valid.Clear(row)
				}
				if i.Valid != nil && r.Float64() < nullRate {
					i.Valid.Clear(row)
				}
			}
			cols := []*compute.Column{d, i}
			got.Add(cols, n)
			rowByRow(want, cols, n)
		}
		for k := range fields {
			g, w := got.cols[k], want.cols[k]
			same := func(a, b float64) bool { return math.Float64bits(a) == math.Float64bits(b) }
			if g.count != w.count || g.nulls != w.nulls || g.nan != w.nan || g.seen != w.seen ||
				!same(g.min, w.min) || !same(g.max, w.max) || !same(g.mean, w.mean) || !same(g.m2, w.m2) ||
				len(g.sample) != len(w.sample) {
				t.Fatalf("iteration %d, %s: got %+v, want %+v", it, fields[k].Name, g, w)
			}
			if !proto.Equal(g.sketch.ToProto(), w.sketch.ToProto()) || g.outside != w.outside {
				t.Fatalf("iteration %d, %s: sketches differ", it, fields[k].Name)
			}
			for s := range g.sample {
				if !same(g.sample[s], w.sample[s]) {
					t.Fatalf("iteration %d, %s: sample %d is %v, want %v", it, fields[k].Name, s, g.sample[s], w.sample[s])
				}
			}
		}
	}
}

// rowByRow profiles a chunk of numeric columns the plain way: each
// column's numbers listed, then their moments and the reservoir.
func rowByRow(p *Profiler, cols []*compute.Column, n int) {
	for k, c := range cols {
		cp := p.cols[k]
		var xs []float64
		for i := 0; i < n; i++ {
			switch {
			case c.Null(i):
				cp.nulls++
			case c.Type == def.Double && math.IsNaN(c.F64[i]):
				cp.nan++
				cp.count++
			case c.Type == def.Double:
				xs = append(xs, c.F64[i])
			default:
				xs = append(xs, float64(c.I64[i]))
			}
		}
		if len(xs) == 0 {
			continue
		}
		var sum float64
		lo, hi := cp.min, cp.max
		for _, x := range xs {
			sum += x
			if x < lo || x == 0 && lo == 0 && math.Signbit(x) {
				lo = x
			}
			if x > hi || x == 0 && hi == 0 && !math.Signbit(x) {
				hi = x
			}
		}
		nb := float64(len(xs))
		mb := sum / nb
		var m2b float64
		for _, x := range xs {
			m2b += (x - mb) * (x - mb)
		}
		na := float64(cp.seen)
		delta := mb - cp.mean
		cp.mean += delta * nb / (na + nb)
		cp.m2 += m2b + delta*delta*na*nb/(na+nb)
		cp.min, cp.max = lo, hi
		cp.count += int64(len(xs))
		for _, x := range xs {
			if cp.sketch.Add(x) != nil {
				cp.outside++
			}
		}
		first := cp.seen
		cp.seen += int64(len(xs))
		for i := 0; len(cp.sample) < ReservoirSize && i < len(xs); i++ {
			cp.sample = append(cp.sample, xs[i])
			if len(cp.sample) == ReservoirSize {
				cp.w = math.Exp(math.Log(1-p.rng.Float64()) / ReservoirSize)
				cp.skip(p.rng, first+int64(i))
			}
		}
		for cp.next < cp.seen && len(cp.sample) == ReservoirSize {
			cp.sample[p.rng.IntN(ReservoirSize)] = xs[cp.next-first]
			cp.w *= math.Exp(math.Log(1-p.rng.Float64()) / ReservoirSize)
			cp.skip(p.rng, cp.next)
		}
	}
}
