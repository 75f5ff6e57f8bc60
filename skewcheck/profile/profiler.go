package profile

import (
	"fmt"
	"math"
	"math/bits"
	"math/rand/v2"
	"slices"

	"github.com/DataDog/sketches-go/ddsketch"
	"github.com/DataDog/sketches-go/ddsketch/mapping"
	"github.com/DataDog/sketches-go/ddsketch/store"

	"github.com/fstore/fstore/compute"
	"github.com/fstore/fstore/featurestore/def"
)

const (
	// Format is the format written: a superset of FormatV1.
	Format = "fstore.profile/v2"
	// FormatV1 is the earlier format, still read.
	FormatV1 = "fstore.profile/v1"

	// ReservoirSize is the size of the uniform sample the "quantiles"
	// (p01..p99) of a numeric column are taken from.
	ReservoirSize = 10000
	// RelativeAccuracy is the DDSketch's relative accuracy: a quantile it
	// gives is within 1% of a value of the data at that rank.
	RelativeAccuracy = 0.01
	// SketchBins bounds the bins of each of a sketch's stores (positive
	// and negative values); the bins nearest zero collapse beyond it.
	SketchBins = 2048
	// TopK is the number of most frequent values recorded per INT64 and
	// STRING column.
	TopK = 20
	// ExactDistinct is the number of distinct values up to which an INT64
	// or STRING column's frequencies and distinct count are exact.
	ExactDistinct = 10000
	// HeavyHitters is the number of Misra–Gries counters kept beyond
	// ExactDistinct distinct values.
	HeavyHitters = 1024
)

// Profiler profiles columns of fixed names and types. Prepare may be
// called concurrently; Add, Merge, SetExpectations and Encode may not
// (one goroutine at a time, and not while Prepare runs for Add).
type Profiler struct {
	fields       []def.Field
	cols         []*colState
	rng          *rand.Rand
	xs           []float64 // scratch: one chunk's numbers, when some are NaN
	mapping      *mapping.CubicallyInterpolatedMapping
	minIndexable float64
	maxIndexable float64
	multiplier   float64 // the mapping's, 1/log2(gamma)
	indexOffset  float64
	chunk        Chunk // Add's
	expectations []ExpectationResult
}

type colState struct {
	count, nulls, nan int64
	min, max          float64
	mean, m2          float64
	seen              int64 // numbers
	sample            []float64
	// Reservoir sampling by Li's Algorithm L: once the sample is full,
	// next is the index (among numbers seen) of the next one to take,
	// and w the algorithm's running weight.
	next          int64
	w             float64
	sketch        *ddsketch.DDSketch
	outside       int64 // numbers not in the sketch (infinities)
	trues, falses int64
	strs          *counts[string]
	ints          *counts[int64]
	hll           *hll
}

// New returns a profiler of columns with the names and types of fields.
func New(fields []def.Field) *Profiler {
	m, err := mapping.NewCubicallyInterpolatedMapping(RelativeAccuracy)
	if err != nil {
		panic(err) // RelativeAccuracy is a valid constant
	}
	p := &Profiler{
		fields:       slices.Clone(fields),
		rng:          rand.New(rand.NewPCG(0x5eed, 1)),
		mapping:      m,
		minIndexable: m.MinIndexableValue(),
		maxIndexable: m.MaxIndexableValue(),
		multiplier:   1 / math.Log2(m.ToProto().Gamma),
		indexOffset:  m.ToProto().IndexOffset,
	}
	for _, f := range fields {
		c := &colState{min: math.Inf(1), max: math.Inf(-1)}
		if numeric(f.Type) {
			c.sketch = ddsketch.NewDDSketch(m, store.NewCollapsingLowestDenseStore(SketchBins), store.NewCollapsingLowestDenseStore(SketchBins))
		}
		switch f.Type {
		case def.String:
			c.strs, c.hll = &counts[string]{m: map[string]int64{}}, new(hll)
		case def.Int64:
			c.ints, c.hll = &counts[int64]{m: map[int64]int64{}}, new(hll)
		}
		p.cols = append(p.cols, c)
	}
	return p
}

// Fields returns the profiled fields, in column order.
func (p *Profiler) Fields() []def.Field { return p.fields }

// SetExpectations sets the data-quality gate results Encode records
// (nil: none).
func (p *Profiler) SetExpectations(rs []ExpectationResult) { p.expectations = rs }

// Check reports columns that do not match the profiled fields: Prepare,
// Merge and Add trust their callers, and callers with outside input
// check it first.
func (p *Profiler) Check(cols []*compute.Column, n int) error {
	if len(cols) != len(p.fields) {
		return fmt.Errorf("%w: %d columns for %d fields", ErrColumns, len(cols), len(p.fields))
	}
	for k, c := range cols {
		f := p.fields[k]
		if c.Type != f.Type {
			return fmt.Errorf("%w: column %q is %s, want %s", ErrColumns, f.Name, c.Type, f.Type)
		}
		if c.Valid != nil && len(c.Valid)*64 < n {
			return fmt.Errorf("%w: column %q has a validity bitmap of %d rows for %d", ErrColumns, f.Name, len(c.Valid)*64, n)
		}
		var have int
		switch f.Type {
		case def.Int64, def.Timestamp:
			have = len(c.I64)
		case def.Double:
			have = len(c.F64)
		case def.Bool:
			have = len(c.B)
		case def.String:
			have = len(c.S)
		}
		if have < n {
			return fmt.Errorf("%w: column %q holds %d values for %d rows", ErrColumns, f.Name, have, n)
		}
	}
	return nil
}

// Add profiles a chunk of n rows: Prepare, then Merge. cols have the
// profiled fields' types, in order (see Check).
func (p *Profiler) Add(cols []*compute.Column, n int) {
	p.Prepare(&p.chunk, cols, n)
	p.Merge(&p.chunk, cols, n)
}

// Chunk is what Prepare computes of one chunk, on its own. Its memory is
// reused by the next Prepare; the zero value is ready to use.
type Chunk struct {
	cols []colChunk
	xs   []float64
	pidx []int32 // sketch indexes of the positive numbers
	nidx []int32 // and of the negative ones (of their magnitudes)
}

type colChunk struct {
	nulls, nan    int64
	count         int64   // numbers
	sum           float64 // of the numbers
	lo, hi        float64 // +Inf, -Inf when there are none
	m2            float64 // sum of squared deviations from the chunk's mean
	pos, neg      bins    // the sketch's
	zero          float64
	outside       int64
	trues, falses int64
	strs          counts[string]
	ints          counts[int64]
	hll           *hll
}

// Nulls returns the number of null values of column k in the chunk.
func (c *Chunk) Nulls(k int) int64 { return c.cols[k].nulls }

// Prepare fills c (its memory reused) from a chunk of n rows of cols,
// whose types are the profiled fields'. It reads only p's fields and may
// run concurrently with other Prepares and with Merge.
func (p *Profiler) Prepare(c *Chunk, cols []*compute.Column, n int) {
	if cap(c.cols) < len(cols) {
		c.cols = append(c.cols[:cap(c.cols)], make([]colChunk, len(cols)-cap(c.cols))...)
	}
	c.cols = c.cols[:len(cols)]
	for k, col := range cols {
		cc := &c.cols[k]
		cc.reset(col.Valid.CountNulls(n))
		switch col.Type {
		case def.Int64, def.Double, def.Timestamp:
			p.prepareNumbers(c, cc, col, n)
			if col.Type == def.Int64 {
				prepareInts(cc, col, n)
			}
		case def.Bool:
			prepareBools(cc, col, n)
		case def.String:
			prepareStrings(cc, col, n)
		}
	}
}

func (cc *colChunk) reset(nulls int) {
	strs, ints, h := cc.strs, cc.ints, cc.hll
	pos, neg := cc.pos, cc.neg
	*cc = colChunk{lo: math.Inf(1), hi: math.Inf(-1), nulls: int64(nulls), strs: strs, ints: ints, hll: h,
		pos: bins{c: pos.c[:0]}, neg: bins{c: neg.c[:0]}}
}

func (p *Profiler) prepareNumbers(c *Chunk, cc *colChunk, col *compute.Column, n int) {
	c.xs, cc.nan = appendNumbers(c.xs[:0], col, n)
	xs := c.xs
	cc.count = int64(len(xs))
	if cc.count == 0 {
		return
	}
	var sum float64
	lo, hi := cc.lo, cc.hi
	for _, x := range xs {
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
	for _, x := range xs {
		d := x - mb
		m2b += d * d
	}
	cc.sum, cc.lo, cc.hi, cc.m2 = sum, lo, hi, m2b
	p.sketchNumbers(c, cc, xs)
}

// sketchNumbers computes the sketch's bins of a chunk's numbers, as
// DDSketch.Add would place them (the same mapping, the same bounds), in
// one pass with the mapping's index computation written out here, where
// it inlines (the library's costs a call and its Add three interface
// calls per value); TestProfileChunksMatchRowByRow checks the bins are
// the library's.
func (p *Profiler) sketchNumbers(c *Chunk, cc *colChunk, xs []float64) {
	minI, maxI := p.minIndexable, p.maxIndexable
	mul, off := p.multiplier, p.indexOffset
	// Every index is written to both lists and kept by the one of its
	// sign: no branch on the sign, which random data mispredicts.
	pidx, nidx := slices.Grow(c.pidx[:0], len(xs))[:len(xs)], slices.Grow(c.nidx[:0], len(xs))[:len(xs)]
	np, nn := 0, 0
	for _, x := range xs {
		b := math.Float64bits(x)
		neg := int(b >> 63)
		b &^= 1 << 63
		a := math.Float64frombits(b)
		if !(a > minI && a <= maxI) {
			if a <= minI {
				cc.zero++
			} else {
				cc.outside++ // an infinity (or beyond the mapping)
			}
			continue
		}
		// CubicallyInterpolatedMapping.Index: log2 from the exponent and
		// a cubic in the significand.
		e := float64(int((b&0x7FF0000000000000)>>52) - 1023)
		s := math.Float64frombits(b&0x000fffffffffffff|0x3ff0000000000000) - 1
		index := (((6.0/35.0)*s+(-3.0/5.0))*s+(10.0/7.0))*s + e
		index = index*mul + off
		i := int(index)
		if index < 0 {
			i--
		}
		pidx[np], nidx[nn] = int32(i), int32(i)
		np += 1 - neg
		nn += neg
	}
	pidx, nidx = pidx[:np], nidx[:nn]
	c.pidx, c.nidx = pidx, nidx
	cc.pos.count(pidx)
	cc.neg.count(nidx)
}

// count sets b to the counts of indexes idx.
func (b *bins) count(idx []int32) {
	b.c = b.c[:0]
	if len(idx) == 0 {
		return
	}
	lo, hi := idx[0], idx[0]
	for _, i := range idx {
		lo, hi = min(lo, i), max(hi, i)
	}
	b.lo = int(lo)
	b.c = slices.Grow(b.c, int(hi-lo)+1)[:int(hi-lo)+1]
	clear(b.c)
	for _, i := range idx {
		b.c[i-lo]++
	}
}

// bins are a chunk's sketch bins: c[i] values at index lo+i (integer
// counts: a float's increment waits on the last one).
type bins struct {
	lo int
	c  []uint32
}

func (b *bins) mergeInto(s store.Store) {
	for i, n := range b.c {
		if n != 0 {
			s.AddWithCount(b.lo+i, float64(n))
		}
	}
}

func prepareBools(cc *colChunk, col *compute.Column, n int) {
	for i := 0; i < n; i++ {
		if !col.Null(i) {
			if col.B[i] {
				cc.trues++
			} else {
				cc.falses++
			}
		}
	}
}

func prepareStrings(cc *colChunk, col *compute.Column, n int) {
	if cc.strs.m == nil {
		cc.strs.m = map[string]int64{}
		cc.hll = new(hll)
	}
	clear(cc.strs.m)
	m := cc.strs.m
	forValid(col, n, func(i int) { m[col.S[i]]++ })
	cc.hll.reset()
	for s := range m {
		cc.hll.add(hashString(s))
	}
	cc.strs.approx, cc.strs.err, cc.strs.total = false, 0, int64(len(col.S[:n]))-cc.nulls
	if len(m) > ExactDistinct {
		cc.strs.reduce(HeavyHitters)
	}
}

func prepareInts(cc *colChunk, col *compute.Column, n int) {
	if cc.ints.m == nil {
		cc.ints.m = map[int64]int64{}
		cc.hll = new(hll)
	}
	clear(cc.ints.m)
	m := cc.ints.m
	forValid(col, n, func(i int) { m[col.I64[i]]++ })
	cc.hll.reset()
	for x := range m {
		cc.hll.add(hashInt(x))
	}
	cc.ints.approx, cc.ints.err, cc.ints.total = false, 0, int64(n)-cc.nulls
	if len(m) > ExactDistinct {
		cc.ints.reduce(HeavyHitters)
	}
}

// forValid calls f with every non-null row of [0, n), in order, a word of
// the validity bitmap at a time.
func forValid(c *compute.Column, n int, f func(i int)) {
	if c.Valid == nil {
		for i := 0; i < n; i++ {
			f(i)
		}
		return
	}
	for lo := 0; lo < n; lo += 64 {
		hi := min(lo+64, n)
		valid := c.Valid[lo>>6] & (uint64(1)<<uint(hi-lo) - 1)
		for b := valid; b != 0; b &= b - 1 {
			f(lo + bits.TrailingZeros64(b))
		}
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

// Merge adds a prepared chunk to the profile; chunks must come in order,
// with the columns they were prepared from (the reservoir reads its
// numbers from them).
func (p *Profiler) Merge(c *Chunk, cols []*compute.Column, n int) {
	for k, col := range cols {
		cs, cc := p.cols[k], &c.cols[k]
		cs.nulls += cc.nulls
		switch col.Type {
		case def.Int64, def.Double, def.Timestamp:
			cs.nan += cc.nan
			cs.count += cc.nan
			cs.numbers(p, cc, col, n)
			if col.Type == def.Int64 {
				cs.ints.merge(&cc.ints)
				cs.hll.merge(cc.hll)
			}
		case def.Bool:
			cs.count += cc.trues + cc.falses
			cs.trues += cc.trues
			cs.falses += cc.falses
		case def.String:
			cs.count += cc.strs.total
			cs.strs.merge(&cc.strs)
			cs.hll.merge(cc.hll)
		}
	}
}

// numbers adds a chunk's numbers (rows [0, n) of col, cc their moments
// and bins): the moments are merged (Chan et al.), the bins added to the
// sketch, and the reservoir skips ahead to the values it keeps instead of
// drawing a number for each one.
func (c *colState) numbers(p *Profiler, cc *colChunk, col *compute.Column, n int) {
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
	cc.pos.mergeInto(c.sketch.GetPositiveValueStore())
	cc.neg.mergeInto(c.sketch.GetNegativeValueStore())
	if cc.zero > 0 {
		// The zero count has no setter: a value at zero adds it.
		_ = c.sketch.AddWithCount(0, cc.zero)
	}
	c.outside += cc.outside
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
	for ; len(c.sample) < ReservoirSize && i < cc.count; i++ {
		c.sample = append(c.sample, at(i))
		if len(c.sample) == ReservoirSize {
			c.w = math.Exp(math.Log(1-rng.Float64()) / ReservoirSize)
			c.skip(rng, first+i)
		}
	}
	for c.next < c.seen && len(c.sample) == ReservoirSize {
		c.sample[rng.IntN(ReservoirSize)] = at(c.next - first)
		c.w *= math.Exp(math.Log(1-rng.Float64()) / ReservoirSize)
		c.skip(rng, c.next)
	}
}

// skip sets next past index at, by Algorithm L's geometric jump.
func (c *colState) skip(rng *rand.Rand, at int64) {
	jump := math.Floor(math.Log(1-rng.Float64()) / math.Log(1-c.w))
	if !(jump < math.MaxInt64/2) {
		jump = math.MaxInt64 / 2 // never again, in practice
	}
	c.next = at + int64(jump) + 1
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
