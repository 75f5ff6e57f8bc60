package profile

import (
	"cmp"
	"math"
	"math/bits"
	"slices"

	"github.com/cespare/xxhash/v2"
)

// counts are value frequencies: exact while approx is false; otherwise a
// Misra–Gries summary whose counts are lower bounds, each at most err
// below the true count.
type counts[K cmp.Ordered] struct {
	m      map[K]int64
	total  int64 // values counted, whatever was dropped
	approx bool
	err    int64
}

// reduce keeps at most k counters: the (k+1)-th largest count is taken
// from every counter and those left at zero or below are dropped
// (Misra–Gries; the result does not depend on the map's order).
func (c *counts[K]) reduce(k int) {
	c.approx = true
	if len(c.m) <= k {
		return
	}
	vs := make([]int64, 0, len(c.m))
	for _, n := range c.m {
		vs = append(vs, n)
	}
	slices.Sort(vs)
	t := vs[len(vs)-k-1]
	for key, n := range c.m {
		if n <= t {
			delete(c.m, key)
		} else {
			c.m[key] = n - t
		}
	}
	c.err += t
}

// merge adds a chunk's counts (in order); beyond ExactDistinct values, or
// once either side is a summary, the result is reduced to HeavyHitters
// counters.
func (c *counts[K]) merge(o *counts[K]) {
	c.total += o.total
	for k, n := range o.m {
		c.m[k] += n
	}
	if o.approx {
		c.approx = true
		c.err += o.err
	}
	if c.approx || len(c.m) > ExactDistinct {
		c.reduce(HeavyHitters)
	}
}

type valueCount[K cmp.Ordered] struct {
	v K
	n int64
}

// top returns the k most frequent values, by count then value.
func (c *counts[K]) top(k int) []valueCount[K] {
	out := make([]valueCount[K], 0, len(c.m))
	for v, n := range c.m {
		out = append(out, valueCount[K]{v, n})
	}
	slices.SortFunc(out, func(a, b valueCount[K]) int {
		if a.n != b.n {
			return cmp.Compare(b.n, a.n)
		}
		return cmp.Compare(a.v, b.v)
	})
	return out[:min(k, len(out))]
}

// hllP is the HyperLogLog's precision: 2^hllP one-byte registers,
// standard error 1.04/sqrt(2^hllP) ≈ 0.81%.
const hllP = 14

// hll is a HyperLogLog (Flajolet et al. 2007) with linear counting for
// small cardinalities; registers merge by maximum.
type hll [1 << hllP]uint8

func (h *hll) reset() { clear(h[:]) }

func (h *hll) add(x uint64) {
	i := x >> (64 - hllP)
	w := x<<hllP | 1<<(hllP-1) // the rank is at most 64-hllP+1
	if r := uint8(bits.LeadingZeros64(w)) + 1; r > h[i] {
		h[i] = r
	}
}

func (h *hll) merge(o *hll) {
	for i, r := range o {
		if r > h[i] {
			h[i] = r
		}
	}
}

func (h *hll) estimate() float64 {
	const m = float64(1 << hllP)
	var sum float64
	zeros := 0
	for _, r := range h {
		sum += math.Ldexp(1, -int(r))
		if r == 0 {
			zeros++
		}
	}
	e := 0.7213 / (1 + 1.079/m) * m * m / sum
	if e <= 2.5*m && zeros > 0 {
		e = m * math.Log(m/float64(zeros))
	}
	return e
}

func hashString(s string) uint64 { return xxhash.Sum64String(s) }

// hashInt is splitmix64's finaliser: a bijection that spreads every bit.
func hashInt(x int64) uint64 {
	z := uint64(x) + 0x9e3779b97f4a7c15
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return z ^ z>>31
}
