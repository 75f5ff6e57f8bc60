package drift

import (
	"fmt"
	"math"
	"strconv"
)

// probTolerance is how far from one a baseline's probabilities may sum:
// profiles write shares as float64 divisions, which round.
const probTolerance = 1e-6

// NumericBaseline is the training distribution of a numeric feature, binned.
//
// Edges are strictly increasing finite cut points; Probs holds the baseline
// mass of the len(Edges)+1 bins, where bin 0 is (-inf, Edges[0]], bin i is
// (Edges[i-1], Edges[i]] and the last bin is (Edges[len-1], +inf). Count is
// the number of baseline rows the bins were computed from (0: unknown, the
// tests then treat the baseline as exact), and NullFraction the share of
// those rows that were null.
type NumericBaseline struct {
	Edges        []float64 `json:"edges"`
	Probs        []float64 `json:"probs"`
	Count        int64     `json:"count"`
	NullFraction float64   `json:"null_fraction"`
}

// NewNumericBaseline builds a baseline from quantile cut points taken at
// equally spaced levels: cuts[k] is the quantile at level (k+1)/(len(cuts)+1),
// as the 1%..99% percentiles are for 99 cut points. See
// NewNumericBaselineLevels for how duplicates merge.
func NewNumericBaseline(cuts []float64, count int64, nullFraction float64) (NumericBaseline, error) {
	levels := make([]float64, len(cuts))
	for k := range cuts {
		levels[k] = float64(k+1) / float64(len(cuts)+1)
	}
	return NewNumericBaselineLevels(levels, cuts, count, nullFraction)
}

// NewNumericBaselineLevels builds a baseline from quantile cut points
// cuts[k] at levels[k] (strictly increasing, in [0, 1]; cuts
// non-decreasing). The quantile at level p is a point at or below which at
// least a fraction p of the baseline lies, so the mass of the bin ending at
// edge e is the highest level among the cuts equal to e minus the highest
// level of the previous edge; duplicate cuts merge into one edge holding
// the mass of all their levels. A constant feature thus has one edge v and
// probabilities [p_max, 1-p_max]: pass the 100% quantile (level 1) to
// state that nothing lies above v.
func NewNumericBaselineLevels(levels, cuts []float64, count int64, nullFraction float64) (NumericBaseline, error) {
	if len(levels) != len(cuts) {
		return NumericBaseline{}, fmt.Errorf("%w: %d levels for %d cut points", ErrInvalidBaseline, len(levels), len(cuts))
	}
	if len(cuts) == 0 {
		return NumericBaseline{}, fmt.Errorf("%w: no cut points", ErrInvalidBaseline)
	}
	for k, p := range levels {
		if math.IsNaN(p) || p < 0 || p > 1 {
			return NumericBaseline{}, fmt.Errorf("%w: level[%d] = %v is outside [0, 1]", ErrInvalidBaseline, k, p)
		}
		if k > 0 && p <= levels[k-1] {
			return NumericBaseline{}, fmt.Errorf("%w: level[%d] = %v is not above level[%d] = %v", ErrInvalidBaseline, k, p, k-1, levels[k-1])
		}
	}
	for k, c := range cuts {
		if math.IsNaN(c) || math.IsInf(c, 0) {
			return NumericBaseline{}, fmt.Errorf("%w: cut point[%d] is %v, want a finite number", ErrInvalidBaseline, k, c)
		}
		if k > 0 && c < cuts[k-1] {
			return NumericBaseline{}, fmt.Errorf("%w: cut point[%d] = %v is below cut point[%d] = %v (not sorted)", ErrInvalidBaseline, k, c, k-1, cuts[k-1])
		}
	}
	b := NumericBaseline{Count: count, NullFraction: nullFraction}
	prev := 0.0
	for k, c := range cuts {
		if k+1 < len(cuts) && cuts[k+1] == c {
			continue // a later duplicate carries the higher level
		}
		b.Edges = append(b.Edges, c)
		b.Probs = append(b.Probs, levels[k]-prev)
		prev = levels[k]
	}
	b.Probs = append(b.Probs, 1-prev)
	return b, b.Validate()
}

// Validate reports a baseline that cannot be compared against, naming the
// offending element.
func (b *NumericBaseline) Validate() error {
	if len(b.Edges) == 0 {
		return fmt.Errorf("%w: no edges", ErrInvalidBaseline)
	}
	if len(b.Probs) != len(b.Edges)+1 {
		return fmt.Errorf("%w: %d probs for %d edges, want %d (one per bin)", ErrInvalidBaseline, len(b.Probs), len(b.Edges), len(b.Edges)+1)
	}
	for i, e := range b.Edges {
		if math.IsNaN(e) || math.IsInf(e, 0) {
			return fmt.Errorf("%w: edge[%d] is %v, want a finite number", ErrInvalidBaseline, i, e)
		}
		if i > 0 && e <= b.Edges[i-1] {
			return fmt.Errorf("%w: edge[%d] = %v is not above edge[%d] = %v (want strictly increasing)", ErrInvalidBaseline, i, e, i-1, b.Edges[i-1])
		}
	}
	if err := checkProbs("prob", b.Probs, 0); err != nil {
		return err
	}
	return checkCounts(b.Count, b.NullFraction)
}

// CategoricalBaseline is the training distribution of a categorical
// feature: STRING values, BOOL values ("true", "false") or INT64 values
// keyed by their decimal string ("-3", "42"). Shares[i] is the baseline
// share of Values[i] and Other the share of every value not listed (a
// profile keeps its top categories), so that Shares and Other sum to one.
type CategoricalBaseline struct {
	Values       []string  `json:"values"`
	Shares       []float64 `json:"shares"`
	Other        float64   `json:"other"`
	Count        int64     `json:"count"`
	NullFraction float64   `json:"null_fraction"`
}

// Validate reports a baseline that cannot be compared against, naming the
// offending element.
func (b *CategoricalBaseline) Validate() error {
	if len(b.Values) == 0 {
		return fmt.Errorf("%w: no categories", ErrInvalidBaseline)
	}
	if len(b.Shares) != len(b.Values) {
		return fmt.Errorf("%w: %d shares for %d values", ErrInvalidBaseline, len(b.Shares), len(b.Values))
	}
	seen := make(map[string]int, len(b.Values))
	for i, v := range b.Values {
		if j, ok := seen[v]; ok {
			return fmt.Errorf("%w: value[%d] %q repeats value[%d]", ErrInvalidBaseline, i, v, j)
		}
		seen[v] = i
	}
	if err := checkProbs("share", b.Shares, b.Other); err != nil {
		return err
	}
	return checkCounts(b.Count, b.NullFraction)
}

// probs returns the shares followed by Other: the categorical bins.
func (b *CategoricalBaseline) probs() []float64 {
	p := make([]float64, 0, len(b.Shares)+1)
	return append(append(p, b.Shares...), b.Other)
}

// checkProbs checks that ps (plus extra) are probabilities summing to one.
func checkProbs(what string, ps []float64, extra float64) error {
	if math.IsNaN(extra) || extra < 0 || extra > 1 {
		return fmt.Errorf("%w: other share %v is outside [0, 1]", ErrInvalidBaseline, extra)
	}
	sum := extra
	for i, p := range ps {
		if math.IsNaN(p) || p < 0 || p > 1 {
			return fmt.Errorf("%w: %s[%d] = %v is outside [0, 1]", ErrInvalidBaseline, what, i, p)
		}
		sum += p
	}
	if math.Abs(sum-1) > probTolerance {
		return fmt.Errorf("%w: %ss sum to %v, want 1", ErrInvalidBaseline, what, sum)
	}
	return nil
}

func checkCounts(count int64, nullFraction float64) error {
	if count < 0 {
		return fmt.Errorf("%w: count %d is negative", ErrInvalidBaseline, count)
	}
	if math.IsNaN(nullFraction) || nullFraction < 0 || nullFraction > 1 {
		return fmt.Errorf("%w: null fraction %v is outside [0, 1]", ErrInvalidBaseline, nullFraction)
	}
	return nil
}

// isCanonicalInt reports whether s is the decimal form FormatInt writes.
func isCanonicalInt(s string) (int64, bool) {
	v, err := strconv.ParseInt(s, 10, 64)
	return v, err == nil && strconv.FormatInt(v, 10) == s
}
