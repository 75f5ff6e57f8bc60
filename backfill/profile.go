package backfill

import (
	"encoding/json"
	"fmt"
	"math"
	"math/bits"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"

	"github.com/fstore/fstore/compute"
	"github.com/fstore/fstore/featurestore/def"
)

// The baseline profile is written beside the training set as
// <out>.profile.json, for the skew checks to compare served values with.
// Format (ProfileFormat):
//
//	{
//	  "format": "fstore.profile/v1",
//	  "dataset": "train.parquet",          // base name of the training set
//	  "rows": 1000000,
//	  "features": [{
//	    "name": "driver_hourly__conv_rate", "type": "DOUBLE",
//	    "count": 998000, "nulls": 2000,     // non-null and null values
//	    // numbers and timestamps (timestamps in microseconds):
//	    "min": 0.01, "max": 0.99, "mean": 0.52, "stddev": 0.21,
//	    "nan": 0,                           // NaN values (DOUBLE), not in the statistics
//	    "quantiles": {"p01": …, "p05": …, "p25": …, "p50": …, "p75": …, "p95": …, "p99": …},
//	    // BOOL: "true": 51000
//	    // STRING: "distinct": 12 (exact up to 10000, then a lower bound with
//	    //          "distinct_capped": true), "top": [{"value": "card", "count": 600000}, …]
//	  }]
//	}
//
// Quantiles come from a uniform reservoir sample of 10000 values with a
// fixed seed, so the same training set always gives the same profile.
const ProfileFormat = "fstore.profile/v1"

const (
	reservoirSize = 10000
	distinctCap   = 10000
	topK          = 10
)

type colProfile struct {
	field    def.Field
	count    int64
	nulls    int64
	nan      int64
	min, max float64
	mean, m2 float64
	sample   []float64
	seen     int64
	trues    int64
	distinct map[string]int64
	capped   bool
	// Reservoir sampling by Li's Algorithm L: once the sample is full,
	// next is the index (among values seen) of the next value to take,
	// and w the algorithm's running weight.
	next int64
	w    float64
}

type profiler struct {
	cols []*colProfile
	rng  *rand.Rand
	xs   []float64 // scratch: one chunk's numbers, when some are NaN
}

func newProfiler(fields []def.Field) *profiler {
	p := &profiler{rng: rand.New(rand.NewPCG(0x5eed, 1))}
	for _, f := range fields {
		c := &colProfile{field: f, min: math.Inf(1), max: math.Inf(-1)}
		if f.Type == def.String {
			c.distinct = map[string]int64{}
		}
		p.cols = append(p.cols, c)
	}
	return p
}

// add profiles a chunk of n rows: prepare, then merge.
func (p *profiler) add(cols []*compute.Column, n int) {
	var pc chunkProfile
	var xs []float64
	p.prepare(&pc, cols, n, &xs)
	p.merge(&pc, cols, n)
}

// chunkProfile is what prepare computes of one chunk, on its own: per
// numeric column, the moments of the chunk's numbers (values neither null
// nor NaN); per column, its null and NaN counts. Computing it needs no
// profiler state, so workers prepare chunks in parallel, and merge takes
// them in order; the result is the same, bit for bit, as profiling the
// chunks in turn.
type chunkProfile struct {
	cols []colChunk
}

type colChunk struct {
	nulls, nan int64
	count      int64   // numbers
	sum        float64 // of the numbers
	lo, hi     float64 // +Inf, -Inf when there are none
	m2         float64 // sum of squared deviations from the chunk's mean
}

// prepare fills pc (its memory reused) from a chunk of n rows of cols,
// whose types are the profiler's fields'; xs is the caller's scratch. It
// reads p's fields only.
func (p *profiler) prepare(pc *chunkProfile, cols []*compute.Column, n int, xs *[]float64) {
	if cap(pc.cols) < len(cols) {
		pc.cols = make([]colChunk, len(cols))
	}
	pc.cols = pc.cols[:len(cols)]
	for k, c := range cols {
		cc := &pc.cols[k]
		*cc = colChunk{lo: math.Inf(1), hi: math.Inf(-1), nulls: int64(c.Valid.CountNulls(n))}
		if !numeric(c.Type) {
			continue
		}
		*xs, cc.nan = appendNumbers((*xs)[:0], c, n)
		cc.count = int64(len(*xs))
		if cc.count == 0 {
			continue
		}
		var sum float64
		lo, hi := cc.lo, cc.hi
		for _, x := range *xs {
			sum += x
			// Plain comparisons (math.Min is a call per value); a zero's
			// sign still counts, as math.Min's does.
			if x < lo || x == 0 && lo == 0 && math.Signbit(x) {
				lo = x
			}
			if x > hi || x == 0 && hi == 0 && !math.Signbit(x) {
				hi = x
			}
		}
		mb := sum / float64(cc.count)
		var m2b float64
		for _, x := range *xs {
			d := x - mb
			m2b += d * d
		}
		cc.sum, cc.lo, cc.hi, cc.m2 = sum, lo, hi, m2b
	}
}

// appendNumbers appends the values of rows [0, n) of a numeric column
// that are neither null nor NaN to xs, in order, as float64, a word of the
// validity bitmap at a time; it returns xs and the number of NaN.
func appendNumbers(xs []float64, c *compute.Column, n int) ([]float64, int64) {
	var nan int64
	xs = slices.Grow(xs, n)
	for lo := 0; lo < n; lo += 64 {
		hi := min(lo+64, n)
		all := uint64(1)<<uint(hi-lo) - 1 // hi-lo bits set (all 64: wraps to ^0)
		valid := all
		if c.Valid != nil {
			valid = c.Valid[lo>>6] & all
		}
		switch {
		case c.Type == def.Double && valid == all:
			for _, x := range c.F64[lo:hi] {
				if x != x {
					nan++
					continue
				}
				xs = append(xs, x)
			}
		case c.Type == def.Double:
			vs := c.F64[lo:hi]
			for b := valid; b != 0; b &= b - 1 {
				if x := vs[bits.TrailingZeros64(b)]; x == x {
					xs = append(xs, x)
				} else {
					nan++
				}
			}
		case valid == all:
			for _, x := range c.I64[lo:hi] {
				xs = append(xs, float64(x))
			}
		default:
			vs := c.I64[lo:hi]
			for b := valid; b != 0; b &= b - 1 {
				xs = append(xs, float64(vs[bits.TrailingZeros64(b)]))
			}
		}
	}
	return xs, nan
}

func numeric(t def.ValueType) bool {
	return t == def.Int64 || t == def.Timestamp || t == def.Double
}

// numWalk steps through the non-null values of rows [0, n) of a numeric
// column, as float64, in order.
type numWalk struct {
	c   *compute.Column
	n   int
	row int // the next row to look at
}

// next returns the next value; false at the end.
func (w *numWalk) next() (float64, bool) {
	c := w.c
	for w.row < w.n {
		i := w.row
		w.row++
		if c.Null(i) {
			continue
		}
		if c.Type == def.Double {
			return c.F64[i], true
		}
		return float64(c.I64[i]), true
	}
	return 0, false
}

// skipTo steps over values so that next returns the k-th one (from 0,
// counted from the walk's start), seen being how many the walk has passed
// so far; it counts whole words of the validity bitmap at a time where it
// can. It returns how many the walk has passed then.
func (w *numWalk) skipTo(seen, k int64) int64 {
	c := w.c
	if c.Valid == nil {
		w.row += int(k - seen)
		return k
	}
	for seen < k && w.row < w.n {
		if w.row&63 == 0 && w.row+64 <= w.n {
			if m := int64(bits.OnesCount64(c.Valid[w.row>>6])); seen+m <= k {
				seen += m
				w.row += 64
				continue
			}
		}
		if !c.Null(w.row) {
			seen++
		}
		w.row++
	}
	return seen
}

// merge adds a prepared chunk to the profile; chunks must come in order.
// Bool and string columns are profiled here, and the reservoir takes its
// numbers, from cols.
func (p *profiler) merge(pc *chunkProfile, cols []*compute.Column, n int) {
	for k, c := range cols {
		cp, cc := p.cols[k], &pc.cols[k]
		cp.nulls += cc.nulls
		switch {
		case numeric(c.Type):
			cp.nan += cc.nan
			cp.count += cc.nan
			cp.numbers(p, cc, c, n)
		case c.Type == def.Bool:
			for i := 0; i < n; i++ {
				if !c.Null(i) {
					cp.count++
					if c.B[i] {
						cp.trues++
					}
				}
			}
		case c.Type == def.String:
			for i := 0; i < n; i++ {
				if c.Null(i) {
					continue
				}
				cp.count++
				s := c.S[i]
				if _, ok := cp.distinct[s]; ok || len(cp.distinct) < distinctCap {
					cp.distinct[s]++
				} else {
					cp.capped = true
				}
			}
		}
	}
}

// numbers adds a chunk's numbers (rows [0, n) of col, cc their moments):
// the moments are merged (Chan et al.), and the reservoir skips ahead to
// the values it keeps instead of drawing a number for each one.
func (c *colProfile) numbers(p *profiler, cc *colChunk, col *compute.Column, n int) {
	if cc.count == 0 {
		return
	}
	lo, hi := c.min, c.max
	if x := cc.lo; x < lo || x == 0 && lo == 0 && math.Signbit(x) {
		lo = x
	}
	if x := cc.hi; x > hi || x == 0 && hi == 0 && !math.Signbit(x) {
		hi = x
	}
	nb := float64(cc.count)
	mb := cc.sum / nb
	na := float64(c.seen)
	delta := mb - c.mean
	c.mean += delta * nb / (na + nb)
	c.m2 += cc.m2 + delta*delta*na*nb/(na+nb)
	c.min, c.max = lo, hi
	c.count += cc.count
	first := c.seen
	c.seen += cc.count
	// The reservoir reads the chunk's numbers at increasing indexes: with
	// no NaN among them, walking the column finds them (skipping whole
	// bitmap words); otherwise they are listed first.
	listed := cc.nan > 0
	var xs []float64
	if listed {
		xs, _ = appendNumbers(p.xs[:0], col, n)
		p.xs = xs[:0]
	}
	w := numWalk{c: col, n: n}
	var seen int64 // numbers the walk has passed
	at := func(i int64) float64 {
		if listed {
			return xs[i]
		}
		seen = w.skipTo(seen, i)
		x, _ := w.next()
		seen++
		return x
	}
	i := int64(0)
	rng := p.rng
	for ; len(c.sample) < reservoirSize && i < cc.count; i++ {
		c.sample = append(c.sample, at(i))
		if len(c.sample) == reservoirSize {
			c.w = math.Exp(math.Log(1-rng.Float64()) / reservoirSize)
			c.skip(rng, first+i)
		}
	}
	for c.next < c.seen && len(c.sample) == reservoirSize {
		c.sample[rng.IntN(reservoirSize)] = at(c.next - first)
		c.w *= math.Exp(math.Log(1-rng.Float64()) / reservoirSize)
		c.skip(rng, c.next)
	}
}

// skip sets next past index at, by Algorithm L's geometric jump.
func (c *colProfile) skip(rng *rand.Rand, at int64) {
	jump := math.Floor(math.Log(1-rng.Float64()) / math.Log(1-c.w))
	if !(jump < math.MaxInt64/2) {
		jump = math.MaxInt64 / 2 // never again, in practice
	}
	c.next = at + int64(jump) + 1
}

// encode returns the profile as JSON (see ProfileFormat); dataset is the
// training set's path, of which the base name is recorded.
func (p *profiler) encode(dataset string, rows int64) ([]byte, error) {
	type top struct {
		Value string `json:"value"`
		Count int64  `json:"count"`
	}
	type feature struct {
		Name      string             `json:"name"`
		Type      string             `json:"type"`
		Count     int64              `json:"count"`
		Nulls     int64              `json:"nulls"`
		Min       *float64           `json:"min,omitempty"`
		Max       *float64           `json:"max,omitempty"`
		Mean      *float64           `json:"mean,omitempty"`
		Stddev    *float64           `json:"stddev,omitempty"`
		NaN       int64              `json:"nan,omitempty"`
		Quantiles map[string]float64 `json:"quantiles,omitempty"`
		True      *int64             `json:"true,omitempty"`
		Distinct  *int               `json:"distinct,omitempty"`
		Capped    bool               `json:"distinct_capped,omitempty"`
		Top       []top              `json:"top,omitempty"`
	}
	out := struct {
		Format   string    `json:"format"`
		Dataset  string    `json:"dataset"`
		Rows     int64     `json:"rows"`
		Features []feature `json:"features"`
	}{Format: ProfileFormat, Dataset: filepath.Base(dataset), Rows: rows}
	finite := func(x float64) *float64 {
		if math.IsInf(x, 0) || math.IsNaN(x) {
			return nil // JSON has no infinities; absent means unbounded or undefined
		}
		return &x
	}
	for _, c := range p.cols {
		f := feature{Name: c.field.Name, Type: c.field.Type.String(), Count: c.count, Nulls: c.nulls, NaN: c.nan}
		switch c.field.Type {
		case def.Int64, def.Double, def.Timestamp:
			if c.seen > 0 {
				f.Min, f.Max, f.Mean = finite(c.min), finite(c.max), finite(c.mean)
				f.Stddev = finite(math.Sqrt(c.m2 / float64(c.seen)))
				s := append([]float64(nil), c.sample...)
				sort.Float64s(s)
				f.Quantiles = map[string]float64{}
				for _, q := range []int{1, 5, 25, 50, 75, 95, 99} {
					v := s[min(len(s)-1, int(float64(q)/100*float64(len(s))))]
					if !math.IsInf(v, 0) {
						f.Quantiles[fmt.Sprintf("p%02d", q)] = v
					}
				}
			}
		case def.Bool:
			t := c.trues
			f.True = &t
		case def.String:
			d := len(c.distinct)
			f.Distinct, f.Capped = &d, c.capped
			for v, n := range c.distinct {
				f.Top = append(f.Top, top{v, n})
			}
			sort.Slice(f.Top, func(i, j int) bool {
				if f.Top[i].Count != f.Top[j].Count {
					return f.Top[i].Count > f.Top[j].Count
				}
				return f.Top[i].Value < f.Top[j].Value
			})
			if len(f.Top) > topK {
				f.Top = f.Top[:topK]
			}
		}
		out.Features = append(out.Features, f)
	}
	b, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("backfill: cannot encode profile: %w", err)
	}
	return append(b, '\n'), nil
}

// writeProfile writes an encoded profile to path, through a temporary
// file renamed into place.
func writeProfile(path string, b []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return fmt.Errorf("backfill: cannot write profile: %w", err)
	}
	return os.Rename(tmp, path)
}
