package drift

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"strconv"
	"sync/atomic"
)

// Baseline is a feature's training distribution: exactly one of Numeric
// and Categorical is set.
type Baseline struct {
	Numeric     *NumericBaseline     `json:"numeric,omitempty"`
	Categorical *CategoricalBaseline `json:"categorical,omitempty"`
}

// Validate reports a baseline that is not exactly one valid distribution.
func (b Baseline) Validate() error {
	switch {
	case b.Numeric != nil && b.Categorical != nil:
		return fmt.Errorf("%w: both numeric and categorical", ErrInvalidBaseline)
	case b.Numeric != nil:
		return b.Numeric.Validate()
	case b.Categorical != nil:
		return b.Categorical.Validate()
	}
	return fmt.Errorf("%w: neither numeric nor categorical", ErrInvalidBaseline)
}

// probs returns the baseline's bin masses (categorical: shares, then other).
func (b Baseline) probs() []float64 {
	if b.Numeric != nil {
		return b.Numeric.Probs
	}
	return b.Categorical.probs()
}

func (b Baseline) count() int64 {
	if b.Numeric != nil {
		return b.Numeric.Count
	}
	return b.Categorical.Count
}

func (b Baseline) nullFraction() float64 {
	if b.Numeric != nil {
		return b.Numeric.NullFraction
	}
	return b.Categorical.NullFraction
}

// Counts are what a sketch has seen: Bins[i] values in the baseline's bin
// i (categorical: Values[i], and the last bin "other"), and the
// observations that are not values.
type Counts struct {
	Bins          []int64 `json:"bins"`
	Nulls         int64   `json:"nulls"`
	NaN           int64   `json:"nan"`
	NotFound      int64   `json:"not_found"`
	OutsideMaxAge int64   `json:"outside_max_age"`
}

// Samples is the number of values counted in the bins.
func (c *Counts) Samples() int64 {
	var n int64
	for _, b := range c.Bins {
		n += b
	}
	return n
}

// Total is the number of observations: values, NaN and the three
// non-value statuses.
func (c *Counts) Total() int64 {
	return c.Samples() + c.Nulls + c.NaN + c.NotFound + c.OutsideMaxAge
}

// add adds o's counts to c (same bins).
func (c *Counts) add(o *Counts) {
	for i := range c.Bins {
		c.Bins[i] += o.Bins[i]
	}
	c.Nulls += o.Nulls
	c.NaN += o.NaN
	c.NotFound += o.NotFound
	c.OutsideMaxAge += o.OutsideMaxAge
}

// Slots after the bins in a stripe.
const (
	slotNull = iota
	slotNaN
	slotNotFound
	slotOutsideMaxAge
	nSlots
)

// binding maps a served value to its slot, given a baseline. It is
// immutable after newBinding.
type binding struct {
	edges   []float64        // numeric: the baseline's edges
	strIdx  map[string]int32 // categorical: value → bin
	intIdx  map[int64]int32  // categorical: canonical integer values → bin
	boolIdx [2]int32         // categorical: false, true → bin
	nbins   int
	stride  int // int64s per stripe: bins + slots, rounded up to a cache line
}

func newBinding(b Baseline) (*binding, error) {
	if err := b.Validate(); err != nil {
		return nil, err
	}
	bd := &binding{}
	if b.Numeric != nil {
		bd.edges = b.Numeric.Edges
		bd.nbins = len(b.Numeric.Edges) + 1
	} else {
		c := b.Categorical
		bd.nbins = len(c.Values) + 1
		other := int32(len(c.Values))
		bd.strIdx = make(map[string]int32, len(c.Values))
		bd.intIdx = make(map[int64]int32)
		bd.boolIdx = [2]int32{other, other}
		for i, v := range c.Values {
			bd.strIdx[v] = int32(i)
			if n, ok := isCanonicalInt(v); ok {
				bd.intIdx[n] = int32(i)
			}
			switch v {
			case "false":
				bd.boolIdx[0] = int32(i)
			case "true":
				bd.boolIdx[1] = int32(i)
			}
		}
	}
	bd.stride = (bd.nbins + nSlots + 7) &^ 7
	return bd, nil
}

func (bd *binding) numeric() bool { return bd.strIdx == nil }

// slotFloat returns the slot of a float value: O(log bins), no allocation.
func (bd *binding) slotFloat(v float64) int {
	if v != v {
		return bd.nbins + slotNaN
	}
	if !bd.numeric() {
		if v == math.Trunc(v) && v >= -(1<<63) && v < 1<<63 {
			return bd.slotInt(int64(v))
		}
		var buf [32]byte
		return bd.slotBytes(strconv.AppendFloat(buf[:0], v, 'g', -1, 64))
	}
	// The first edge at or above v closes v's bin (Edges[i-1], Edges[i]].
	// A branch-free lower bound: served values land anywhere, and a
	// mispredicted branch per halving cost more than the rest together.
	e := bd.edges
	base, n := 0, len(e)
	for n > 1 {
		half := n >> 1
		if e[base+half] < v {
			base += half
		}
		n -= half
	}
	if e[base] < v {
		base++
	}
	return base
}

func (bd *binding) slotInt(v int64) int {
	if bd.numeric() {
		return bd.slotFloat(float64(v))
	}
	if i, ok := bd.intIdx[v]; ok {
		return int(i)
	}
	return bd.nbins - 1
}

func (bd *binding) slotBytes(b []byte) int {
	if bd.numeric() {
		return slotTextOf(bd, b)
	}
	if i, ok := bd.strIdx[string(b)]; ok {
		return int(i)
	}
	return bd.nbins - 1
}

func (bd *binding) slotString(s string) int {
	if bd.numeric() {
		return bd.slotText(s)
	}
	if i, ok := bd.strIdx[s]; ok {
		return int(i)
	}
	return bd.nbins - 1
}

// slotText bins a number sent as text on a numeric feature; text that is
// no decimal number counts as NaN (a value that is not one). The syntax is
// checked first because ParseFloat allocates its error.
func slotTextOf[T string | []byte](bd *binding, t T) int {
	if !isDecimal(t) {
		return bd.nbins + slotNaN
	}
	v, err := strconv.ParseFloat(string(t), 64)
	if err != nil && v == 0 {
		return bd.nbins + slotNaN
	}
	return bd.slotFloat(v) // out of range: ±Inf, the outer bins
}

func (bd *binding) slotText(s string) int { return slotTextOf(bd, s) }

// isDecimal reports whether t is [+-]digits[.digits][(e|E)[+-]digits] with
// at least one digit before the exponent, or [+-]inf, infinity or nan in
// any case.
func isDecimal[T string | []byte](t T) bool {
	i := 0
	if i < len(t) && (t[i] == '+' || t[i] == '-') {
		i++
	}
	if w := len(t) - i; w == 3 || w == 8 {
		var low [8]byte
		for k := 0; k < w; k++ {
			low[k] = t[i+k] | 0x20
		}
		switch string(low[:w]) {
		case "inf", "nan", "infinity":
			return true
		}
	}
	digits := 0
	for i < len(t) && t[i] >= '0' && t[i] <= '9' {
		i++
		digits++
	}
	if i < len(t) && t[i] == '.' {
		i++
		for i < len(t) && t[i] >= '0' && t[i] <= '9' {
			i++
			digits++
		}
	}
	if digits == 0 {
		return false
	}
	if i < len(t) && (t[i] == 'e' || t[i] == 'E') {
		i++
		if i < len(t) && (t[i] == '+' || t[i] == '-') {
			i++
		}
		exp := 0
		for i < len(t) && t[i] >= '0' && t[i] <= '9' {
			i++
			exp++
		}
		if exp == 0 {
			return false
		}
	}
	return i == len(t)
}

func (bd *binding) slotBool(v bool) int {
	if bd.numeric() {
		if v {
			return bd.slotFloat(1)
		}
		return bd.slotFloat(0)
	}
	if v {
		return int(bd.boolIdx[1])
	}
	return int(bd.boolIdx[0])
}

// Status is an observation that is not a value.
type Status uint8

const (
	// StatusNull: the feature was found and its value is null
	// (NULL_VALUE).
	StatusNull Status = iota + 1
	// StatusNotFound: no value for the entity (NOT_FOUND).
	StatusNotFound
	// StatusOutsideMaxAge: the value is older than the view's TTL
	// (OUTSIDE_MAX_AGE).
	StatusOutsideMaxAge
)

func (bd *binding) slotStatus(s Status) int {
	switch s {
	case StatusNotFound:
		return bd.nbins + slotNotFound
	case StatusOutsideMaxAge:
		return bd.nbins + slotOutsideMaxAge
	}
	return bd.nbins + slotNull
}

// counters are striped atomic counters: stripes copies of a binding's
// slots, each stripe starting on its own cache line, an increment going to
// a random stripe so that goroutines on different Ps rarely share a line.
type counters struct {
	c      []atomic.Int64
	stride int
	mask   uint32
	idx    int64 // the window index counted (monitor windows only)
}

// defaultStripes is GOMAXPROCS rounded up to a power of two, at most 16.
func defaultStripes() int {
	n := 1
	for n < runtime.GOMAXPROCS(0) && n < 16 {
		n <<= 1
	}
	return n
}

func newCounters(bd *binding, stripes int) *counters {
	// One spare cache line in front keeps stripe 0 off whatever precedes
	// the slice.
	return &counters{c: make([]atomic.Int64, stripes*bd.stride+8)[8:], stride: bd.stride, mask: uint32(stripes - 1)}
}

func (c *counters) add(slot int) {
	s := 0
	if c.mask != 0 {
		s = int(rand.Uint32() & c.mask)
	}
	c.c[s*c.stride+slot].Add(1)
}

// read sums the stripes into dst (whose Bins must have the binding's
// length) and returns it.
func (c *counters) read(dst *Counts) {
	nb := len(dst.Bins)
	var extra [nSlots]int64
	for s := 0; s*c.stride < len(c.c); s++ {
		row := c.c[s*c.stride : (s+1)*c.stride]
		for i := 0; i < nb; i++ {
			dst.Bins[i] += row[i].Load()
		}
		for i := range extra {
			extra[i] += row[nb+i].Load()
		}
	}
	dst.Nulls += extra[slotNull]
	dst.NaN += extra[slotNaN]
	dst.NotFound += extra[slotNotFound]
	dst.OutsideMaxAge += extra[slotOutsideMaxAge]
}

func (c *counters) reset() {
	for i := range c.c {
		c.c[i].Store(0)
	}
}

// Sketch counts served values of one feature into its baseline's bins. It
// is safe for concurrent use; an observation is O(log bins) for a number,
// one map lookup for a category, and allocates nothing. A Monitor keeps
// windows of them; a Sketch on its own is one accumulation.
type Sketch struct {
	base Baseline
	bd   *binding
	c    *counters
}

// NewSketch returns an empty sketch bound to baseline b.
func NewSketch(b Baseline) (*Sketch, error) {
	bd, err := newBinding(b)
	if err != nil {
		return nil, err
	}
	return &Sketch{base: b, bd: bd, c: newCounters(bd, defaultStripes())}, nil
}

// ObserveFloat counts a number (NaN separately). On a categorical
// feature an integral number counts as that integer's category.
func (s *Sketch) ObserveFloat(v float64) { s.c.add(s.bd.slotFloat(v)) }

// ObserveInt counts an integer: a number on a numeric feature, the
// category keyed by its decimal string on a categorical one.
func (s *Sketch) ObserveInt(v int64) { s.c.add(s.bd.slotInt(v)) }

// ObserveString counts a category (a numeric feature parses it; text
// that is no number counts as NaN).
func (s *Sketch) ObserveString(v string) { s.c.add(s.bd.slotString(v)) }

// ObserveBytes is ObserveString without a conversion; b is not retained.
func (s *Sketch) ObserveBytes(b []byte) { s.c.add(s.bd.slotBytes(b)) }

// ObserveBool counts the category "true" or "false" (1 or 0 on a
// numeric feature).
func (s *Sketch) ObserveBool(v bool) { s.c.add(s.bd.slotBool(v)) }

// ObserveStatus counts a null, NOT_FOUND or OUTSIDE_MAX_AGE.
func (s *Sketch) ObserveStatus(st Status) { s.c.add(s.bd.slotStatus(st)) }

// Counts returns what the sketch has counted so far.
func (s *Sketch) Counts() Counts {
	c := Counts{Bins: make([]int64, s.bd.nbins)}
	s.c.read(&c)
	return c
}

// Reset zeroes the sketch.
func (s *Sketch) Reset() { s.c.reset() }

// Compare evaluates the sketch's counts against its baseline.
func (s *Sketch) Compare(th Thresholds) WindowReport {
	c := s.Counts()
	return Compare(s.base, &c, th)
}
