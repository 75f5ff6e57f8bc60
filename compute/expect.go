package compute

import (
	"fmt"
	"math"
	"math/bits"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/fstore/fstore/featurestore/def"
)

// Data-quality gates (def.Expectation) compiled against a view's output
// types. This file is the one implementation of the rules; materialise,
// push, serve and backfill all check through it.
//
// Row rules (min, max, allowed_values, not_nan) hold for every non-null
// value and are checked value by value with no allocation. Batch rules
// (max_null_fraction, max_distinct) hold over a batch, whose extent each
// gate defines:
//
//   - materialise: the values one run would write for the view (every
//     source event in (From, Through] that passes the filter, for plain
//     features);
//   - push: row rules only, event by event (one push may be one event);
//   - backfill: one output chunk of the training set (a row group's worth
//     of spine rows);
//   - serve: row rules only (a request's handful of values is no batch).
//
// Nulls never violate a row rule; they count toward max_null_fraction only.

// Rule names one rule of an expectation.
type Rule uint8

// The rules, in the order they are checked and reported.
const (
	RuleMin Rule = iota + 1
	RuleMax
	RuleAllowedValues
	RuleNotNaN
	RuleMaxNullFraction
	RuleMaxDistinct
	// RuleFreshness is the view's max_freshness_lag, checked by the
	// gates that know the view's newest event (materialise, serve).
	RuleFreshness
)

// NumRules bounds Rule values, for arrays indexed by rule.
const NumRules = int(RuleFreshness) + 1

var ruleNames = [...]string{"", "min", "max", "allowed_values", "not_nan", "max_null_fraction", "max_distinct", "max_freshness_lag"}

// String returns the rule's definition-file name ("max_null_fraction").
func (r Rule) String() string {
	if int(r) < len(ruleNames) && r != 0 {
		return ruleNames[r]
	}
	return "Rule(" + strconv.Itoa(int(r)) + ")"
}

// Row reports whether r holds per value (as opposed to per batch).
func (r Rule) Row() bool { return r >= RuleMin && r <= RuleNotNaN }

// MaxFirstRows is how many offending row indexes a Violation keeps.
const MaxFirstRows = 5

// Violation is one rule of one output broken by a batch.
type Violation struct {
	View, Feature string
	Rule          Rule
	// Limit is the rule's bound as written in the definition ("200",
	// "0.1", "[card cash]").
	Limit string
	// Observed is the worst value seen (row rules: the greatest value above
	// max, the least below min, the first value not allowed, "NaN"), the
	// null fraction, or the distinct count.
	Observed string
	// Count is the number of offending rows (max_null_fraction: null rows;
	// max_distinct: rows of the batch).
	Count int64
	// Rows is the number of rows checked.
	Rows int64
	// FirstRows are the first offending rows (batch row indexes, ascending
	// within a chunk), at most MaxFirstRows; empty for max_distinct.
	FirstRows []int64
}

// Describe says what was broken without the row positions:
// "fare_max_24h: 250 is above max 200".
func (v *Violation) Describe() string {
	if v.Rule == RuleFreshness {
		return v.Problem()
	}
	return v.Feature + ": " + v.Problem()
}

// Problem is Describe without the feature: "250 is above max 200".
func (v *Violation) Problem() string {
	switch v.Rule {
	case RuleMin:
		return fmt.Sprintf("%s is below min %s", v.Observed, v.Limit)
	case RuleMax:
		return fmt.Sprintf("%s is above max %s", v.Observed, v.Limit)
	case RuleAllowedValues:
		return fmt.Sprintf("%s is not in allowed_values %s", v.Observed, v.Limit)
	case RuleNotNaN:
		return "NaN where not_nan is set"
	case RuleMaxNullFraction:
		return fmt.Sprintf("null fraction %s (%d of %d rows) is above max_null_fraction %s", v.Observed, v.Count, v.Rows, v.Limit)
	case RuleMaxDistinct:
		return fmt.Sprintf("%s distinct values is above max_distinct %s", v.Observed, v.Limit)
	case RuleFreshness:
		return fmt.Sprintf("newest event lags by %s, more than max_freshness_lag %s", v.Observed, v.Limit)
	}
	return fmt.Sprintf("%s %s: observed %s", v.Rule, v.Limit, v.Observed)
}

// String names the view and adds how many rows broke the rule and the
// first of them.
func (v *Violation) String() string {
	s := fmt.Sprintf("view %q: %s", v.View, v.Describe())
	if v.Rule.Row() {
		s += fmt.Sprintf(" (%d of %d rows", v.Count, v.Rows)
		if len(v.FirstRows) > 0 {
			s += "; first rows " + joinInts(v.FirstRows)
		}
		s += ")"
	}
	return s
}

func joinInts(xs []int64) string {
	var b strings.Builder
	for i, x := range xs {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(strconv.FormatInt(x, 10))
	}
	return b.String()
}

// Gate is one output's compiled expectation.
type Gate struct {
	View, Feature string
	// Output is the index of the feature in the view's Outputs.
	Output int
	Type   def.ValueType
	Expect def.Expectation

	hasMin, hasMax bool
	minF, maxF     float64
	// minI and maxI are the bounds for INT64 and TIMESTAMP values: the
	// least and greatest integers within [Min, Max].
	minI, maxI  int64
	allowedS    map[string]struct{}
	allowedL    []string // allowedS as a list, when short enough to scan
	allowedI    []int64  // sorted; BOOL as 0/1
	hasAllowed  bool
	notNaN      bool
	hasNullFrac bool
	maxNullFrac float64
	maxDistinct int64
	rowRules    bool
}

// RowRules reports whether the gate has any row rule.
func (g *Gate) RowRules() bool { return g.rowRules }

// BatchRules reports whether the gate has any batch rule.
func (g *Gate) BatchRules() bool { return g.hasNullFrac || g.maxDistinct > 0 }

// Expectations holds the compiled gates of one view's outputs. It is immutable
// and safe for concurrent use; tally batches with a Tally of its own.
type Expectations struct {
	View string
	// Gates are the outputs with an expectation, in output order.
	Gates []*Gate
	// ByOutput maps an output index to its gate, nil where none.
	ByOutput []*Gate
	// MaxFreshnessLag is the view's freshness bound in microseconds; 0
	// means none.
	MaxFreshnessLag int64
}

// Empty reports whether the checker has no gate at all (nil included).
func (c *Expectations) Empty() bool { return c == nil || len(c.Gates) == 0 && c.MaxFreshnessLag == 0 }

// NewExpectations compiles the expectations exps (one per output, nil where
// none, as def.FeatureView.Expectations lists them) against the outputs'
// types. A rule that does not fit its output's type is an error naming
// field (the caller's definition path of each output, e.g.
// "aggregations[0]") and the rule.
func NewExpectations(view string, outputs []def.Field, exps []*def.Expectation, field func(i int) string) (*Expectations, error) {
	c := &Expectations{View: view, ByOutput: make([]*Gate, len(outputs))}
	for i, e := range exps {
		if e.IsZero() || i >= len(outputs) {
			continue
		}
		g, err := newGate(view, i, outputs[i], e)
		if err != nil {
			return nil, &PlanError{Object: view, Field: field(i) + ".expect." + err.field, Err: fmt.Errorf("%w: %s", ErrPlan, err.msg)}
		}
		c.Gates = append(c.Gates, g)
		c.ByOutput[i] = g
	}
	return c, nil
}

type fitError struct{ field, msg string }

func newGate(view string, i int, out def.Field, e *def.Expectation) (*Gate, *fitError) {
	t := out.Type
	g := &Gate{View: view, Feature: out.Name, Output: i, Type: t, Expect: *e, notNaN: e.NotNaN, maxDistinct: e.MaxDistinct}
	numeric := t == def.Int64 || t == def.Double || t == def.Timestamp
	if (e.Min != nil || e.Max != nil) && !numeric {
		return nil, &fitError{"min", fmt.Sprintf("min and max apply to INT64, DOUBLE and TIMESTAMP values, output %q is %s", out.Name, t)}
	}
	if e.NotNaN && t != def.Double {
		return nil, &fitError{"not_nan", fmt.Sprintf("not_nan applies to DOUBLE values, output %q is %s", out.Name, t)}
	}
	g.minF, g.maxF = math.Inf(-1), math.Inf(1)
	g.minI, g.maxI = math.MinInt64, math.MaxInt64
	if e.Min != nil {
		g.hasMin, g.minF = true, *e.Min
		g.minI = floatToIntBound(math.Ceil(*e.Min))
	}
	if e.Max != nil {
		g.hasMax, g.maxF = true, *e.Max
		g.maxI = floatToIntBound(math.Floor(*e.Max))
	}
	if len(e.AllowedValues) > 0 {
		g.hasAllowed = true
		switch t {
		case def.String:
			g.allowedS = make(map[string]struct{}, len(e.AllowedValues))
			for _, s := range e.AllowedValues {
				g.allowedS[s] = struct{}{}
			}
			if len(e.AllowedValues) <= 8 {
				g.allowedL = e.AllowedValues
			}
		case def.Int64, def.Bool:
			for j, s := range e.AllowedValues {
				v, err := def.ParseText(t, s)
				if err != nil {
					return nil, &fitError{fmt.Sprintf("allowed_values[%d]", j), fmt.Sprintf("%q is not a valid %s value (output %q): %v", s, t, out.Name, err)}
				}
				g.allowedI = append(g.allowedI, v)
			}
			sort.Slice(g.allowedI, func(a, b int) bool { return g.allowedI[a] < g.allowedI[b] })
		default:
			return nil, &fitError{"allowed_values", fmt.Sprintf("allowed_values apply to STRING, INT64 and BOOL values, output %q is %s", out.Name, t)}
		}
	}
	if e.MaxNullFraction != nil {
		g.hasNullFrac, g.maxNullFrac = true, *e.MaxNullFraction
	}
	g.rowRules = g.hasMin || g.hasMax || g.hasAllowed || g.notNaN
	return g, nil
}

// floatToIntBound converts an integral float bound to int64, saturating.
func floatToIntBound(f float64) int64 {
	switch {
	case f <= math.MinInt64:
		return math.MinInt64
	case f >= math.MaxInt64:
		return math.MaxInt64
	}
	return int64(f)
}

// CheckInt64 returns the first row rule an INT64 or TIMESTAMP value
// breaks, or 0.
func (g *Gate) CheckInt64(v int64) Rule {
	if v < g.minI {
		return RuleMin
	}
	if v > g.maxI {
		return RuleMax
	}
	if g.allowedI != nil && !g.allowedInt(v) {
		return RuleAllowedValues
	}
	return 0
}

func (g *Gate) allowedInt(v int64) bool {
	a := g.allowedI
	if len(a) <= 8 {
		for _, x := range a {
			if x == v {
				return true
			}
		}
		return false
	}
	lo, hi := 0, len(a)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if a[m] < v {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo < len(a) && a[lo] == v
}

// CheckDouble returns the first row rule a DOUBLE value breaks, or 0. NaN
// breaks only not_nan (it is neither below min nor above max).
func (g *Gate) CheckDouble(v float64) Rule {
	if v < g.minF {
		return RuleMin
	}
	if v > g.maxF {
		return RuleMax
	}
	if g.notNaN && v != v {
		return RuleNotNaN
	}
	return 0
}

// CheckString returns RuleAllowedValues for a STRING value not allowed,
// or 0.
func (g *Gate) CheckString(v string) Rule {
	if g.allowedL != nil {
		for _, a := range g.allowedL {
			if a == v {
				return 0
			}
		}
		return RuleAllowedValues
	}
	if g.allowedS != nil {
		if _, ok := g.allowedS[v]; !ok {
			return RuleAllowedValues
		}
	}
	return 0
}

// CheckBool returns RuleAllowedValues for a BOOL value not allowed, or 0.
func (g *Gate) CheckBool(v bool) Rule {
	if g.allowedI != nil {
		var i int64
		if v {
			i = 1
		}
		if !g.allowedInt(i) {
			return RuleAllowedValues
		}
	}
	return 0
}

// CheckRow returns the first row rule row of c (of the gate's type)
// breaks, or 0; a null breaks none.
func (g *Gate) CheckRow(c *Column, row int) Rule {
	if !g.rowRules || c.Null(row) {
		return 0
	}
	return g.checkValid(c, row)
}

// Limit returns rule r's bound as text.
func (g *Gate) Limit(r Rule) string {
	e := &g.Expect
	switch r {
	case RuleMin:
		return fmtFloat(*e.Min)
	case RuleMax:
		return fmtFloat(*e.Max)
	case RuleAllowedValues:
		return "[" + strings.Join(e.AllowedValues, " ") + "]"
	case RuleNotNaN:
		return "true"
	case RuleMaxNullFraction:
		return fmtFloat(*e.MaxNullFraction)
	case RuleMaxDistinct:
		return strconv.FormatInt(e.MaxDistinct, 10)
	}
	return ""
}

// FormatValue renders row of c for messages: numbers as Go would print
// them, timestamps in RFC 3339, strings quoted.
func FormatValue(c *Column, row int) string {
	if c.Null(row) {
		return "null"
	}
	switch c.Type {
	case def.Int64:
		return strconv.FormatInt(c.I64[row], 10)
	case def.Timestamp:
		return time.UnixMicro(c.I64[row]).UTC().Format(time.RFC3339Nano)
	case def.Double:
		return fmtFloat(c.F64[row])
	case def.String:
		return strconv.Quote(c.S[row])
	case def.Bool:
		return strconv.FormatBool(c.B[row])
	}
	return "?"
}

func fmtFloat(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }

// RowViolation describes value row of c breaking rule r of g, as a
// one-row Violation (Count 1, FirstRows {row}).
func (g *Gate) RowViolation(r Rule, c *Column, row int) Violation {
	return Violation{View: g.View, Feature: g.Feature, Rule: r, Limit: g.Limit(r), Observed: FormatValue(c, row), Count: 1, Rows: 1, FirstRows: []int64{int64(row)}}
}

// Tally accumulates one batch's checks against a Expectations: row rule
// offenders, nulls and distinct values, chunk after chunk. One per
// goroutine; Reset starts the next batch reusing memory.
type Tally struct {
	c     *Expectations
	gates []gateTally
}

type gateTally struct {
	rows, nulls int64
	// per row rule: offending count, the worst offending row's value and
	// the first rows.
	count [NumRules]int64
	worst [NumRules]worst
	first [NumRules][]int64
	// distinct values, tracked until there are more than max_distinct.
	distI    map[int64]struct{}
	distF    map[uint64]struct{}
	distS    map[string]struct{}
	distOver bool
}

type worst struct {
	set bool
	i   int64
	f   float64
	s   string
	b   bool
}

// NewTally returns an empty tally for c.
func (c *Expectations) NewTally() *Tally {
	t := &Tally{c: c, gates: make([]gateTally, len(c.Gates))}
	return t
}

// Reset empties the tally for the next batch.
func (t *Tally) Reset() {
	for i := range t.gates {
		gt := &t.gates[i]
		first := gt.first
		for r := range first {
			first[r] = first[r][:0]
		}
		distI, distF, distS := gt.distI, gt.distF, gt.distS
		clear(distI)
		clear(distF)
		clear(distS)
		*gt = gateTally{first: first, distI: distI, distF: distF, distS: distS}
	}
}

// Add checks the rows of col, the values of gate gi (an index into
// Expectations.Gates) in one chunk of the batch; base is the batch row index of
// the chunk's first row, recorded in FirstRows.
func (t *Tally) Add(gi int, col *Column, base int64) {
	g := t.c.Gates[gi]
	gt := &t.gates[gi]
	n := col.Len
	gt.rows += int64(n)
	gt.nulls += int64(col.Valid.CountNulls(n))
	if g.rowRules {
		t.rowRules(g, gt, col, base)
	}
	if g.maxDistinct > 0 && !gt.distOver {
		t.distinct(g, gt, col)
	}
}

// rowRules visits the valid rows of col a bitmap word at a time: full
// words run without per-row validity tests, empty words are skipped.
func (t *Tally) rowRules(g *Gate, gt *gateTally, col *Column, base int64) {
	n := col.Len
	for w := 0; w*64 < n; w++ {
		lo, hi := w*64, min(w*64+64, n)
		word := ^uint64(0)
		if col.Valid != nil {
			word = col.Valid[w]
		}
		if hi-lo < 64 {
			word &= 1<<uint(hi-lo) - 1
		}
		if word == 0 {
			continue
		}
		if word == ^uint64(0) {
			for row := lo; row < hi; row++ {
				if r := g.checkValid(col, row); r != 0 {
					gt.offend(g, r, col, row, base)
				}
			}
			continue
		}
		for word != 0 {
			row := lo + bits.TrailingZeros64(word)
			word &= word - 1
			if r := g.checkValid(col, row); r != 0 {
				gt.offend(g, r, col, row, base)
			}
		}
	}
}

// checkValid is CheckRow for a row known to be valid.
func (g *Gate) checkValid(c *Column, row int) Rule {
	switch c.Type {
	case def.Int64, def.Timestamp:
		return g.CheckInt64(c.I64[row])
	case def.Double:
		return g.CheckDouble(c.F64[row])
	case def.String:
		return g.CheckString(c.S[row])
	case def.Bool:
		return g.CheckBool(c.B[row])
	}
	return 0
}

func (gt *gateTally) offend(g *Gate, r Rule, c *Column, row int, base int64) {
	gt.count[r]++
	if len(gt.first[r]) < MaxFirstRows {
		gt.first[r] = append(gt.first[r], base+int64(row))
	}
	w := &gt.worst[r]
	switch c.Type {
	case def.Int64, def.Timestamp:
		v := c.I64[row]
		if !w.set || r == RuleMin && v < w.i || r == RuleMax && v > w.i {
			*w = worst{set: true, i: v}
		}
	case def.Double:
		v := c.F64[row]
		if !w.set || r == RuleMin && v < w.f || r == RuleMax && v > w.f {
			*w = worst{set: true, f: v}
		}
	case def.String:
		if !w.set {
			*w = worst{set: true, s: c.S[row]}
		}
	case def.Bool:
		if !w.set {
			*w = worst{set: true, b: c.B[row]}
		}
	}
}

func (t *Tally) distinct(g *Gate, gt *gateTally, col *Column) {
	limit := int(g.maxDistinct)
	for row := 0; row < col.Len; row++ {
		if col.Null(row) {
			continue
		}
		var size int
		switch col.Type {
		case def.Int64, def.Timestamp:
			if gt.distI == nil {
				gt.distI = map[int64]struct{}{}
			}
			gt.distI[col.I64[row]] = struct{}{}
			size = len(gt.distI)
		case def.Bool:
			if gt.distI == nil {
				gt.distI = map[int64]struct{}{}
			}
			var v int64
			if col.B[row] {
				v = 1
			}
			gt.distI[v] = struct{}{}
			size = len(gt.distI)
		case def.Double:
			if gt.distF == nil {
				gt.distF = map[uint64]struct{}{}
			}
			f := col.F64[row]
			if f == 0 {
				f = 0 // -0 and +0 are one value
			}
			gt.distF[math.Float64bits(f)] = struct{}{}
			size = len(gt.distF)
		case def.String:
			if gt.distS == nil {
				gt.distS = map[string]struct{}{}
			}
			if _, ok := gt.distS[col.S[row]]; !ok {
				gt.distS[strings.Clone(col.S[row])] = struct{}{}
			}
			size = len(gt.distS)
		}
		if size > limit {
			gt.distOver = true
			return
		}
	}
}

// Rows returns the number of rows gate gi has seen.
func (t *Tally) Rows(gi int) int64 { return t.gates[gi].rows }

// Violations returns the rules the batch broke so far, in gate then rule
// order; nil when none.
func (t *Tally) Violations() []Violation {
	var out []Violation
	for gi, g := range t.c.Gates {
		gt := &t.gates[gi]
		for r := RuleMin; r <= RuleNotNaN; r++ {
			if gt.count[r] == 0 {
				continue
			}
			out = append(out, Violation{View: g.View, Feature: g.Feature, Rule: r, Limit: g.Limit(r),
				Observed: gt.worstText(g, r), Count: gt.count[r], Rows: gt.rows, FirstRows: append([]int64(nil), gt.first[r]...)})
		}
		if g.hasNullFrac && gt.rows > 0 {
			if frac := float64(gt.nulls) / float64(gt.rows); frac > g.maxNullFrac {
				out = append(out, Violation{View: g.View, Feature: g.Feature, Rule: RuleMaxNullFraction, Limit: g.Limit(RuleMaxNullFraction),
					Observed: strconv.FormatFloat(frac, 'g', 4, 64), Count: gt.nulls, Rows: gt.rows})
			}
		}
		if gt.distOver {
			out = append(out, Violation{View: g.View, Feature: g.Feature, Rule: RuleMaxDistinct, Limit: g.Limit(RuleMaxDistinct),
				Observed: "more than " + strconv.FormatInt(g.maxDistinct, 10), Count: gt.rows, Rows: gt.rows})
		}
	}
	return out
}

func (gt *gateTally) worstText(g *Gate, r Rule) string {
	w := gt.worst[r]
	switch g.Type {
	case def.Int64:
		return strconv.FormatInt(w.i, 10)
	case def.Timestamp:
		return time.UnixMicro(w.i).UTC().Format(time.RFC3339Nano)
	case def.Double:
		return fmtFloat(w.f)
	case def.String:
		return strconv.Quote(w.s)
	case def.Bool:
		return strconv.FormatBool(w.b)
	}
	return "?"
}

// Freshness checks the freshness gate: newest (the view's newest event,
// microseconds) may lag at by at most MaxFreshnessLag. It returns the
// violation and true when broken; a view with no gate or no event (newest
// math.MinInt64) never breaks it here (no data is for max_null_fraction
// and the callers' own checks).
func (c *Expectations) Freshness(newest, at int64) (Violation, bool) {
	if c == nil || c.MaxFreshnessLag <= 0 || newest == math.MinInt64 {
		return Violation{}, false
	}
	lag := at - newest
	if lag <= c.MaxFreshnessLag {
		return Violation{}, false
	}
	return Violation{View: c.View, Rule: RuleFreshness,
		Limit:    time.Duration(c.MaxFreshnessLag * 1000).String(),
		Observed: time.Duration(lag * 1000).String(), Count: 1, Rows: 1}, true
}

// compileExpectations builds p's checker; an aggregation's gate that does
// not fit its output type is reported at aggregations[i].expect.
func compileExpectations(p *ViewPlan, report reporter) {
	nf := len(p.View.Features)
	c, err := NewExpectations(p.View.Name, p.Outputs, p.View.Expectations(), func(i int) string {
		if i < nf {
			return fmt.Sprintf("features[%d]", i)
		}
		return fmt.Sprintf("aggregations[%d]", i-nf)
	})
	if err != nil {
		pe := err.(*PlanError)
		report(pe.Field, pe.Err)
		return
	}
	c.MaxFreshnessLag = p.View.MaxFreshnessLag.Microseconds()
	p.Expect = c
	ins := make([]def.Field, len(p.Aggs))
	exps := make([]*def.Expectation, len(p.Aggs))
	for a, g := range p.Aggs {
		ins[a] = def.Field{Name: g.Name, Type: g.In}
		if ig := p.InputGate(a); ig != nil && g.Expr != nil {
			e := ig.Expect
			e.MaxNullFraction, e.MaxDistinct = nil, 0 // batch rules are on outputs
			exps[a] = &e
		}
	}
	in, err := NewExpectations(p.View.Name, ins, exps, func(i int) string { return fmt.Sprintf("aggregations[%d]", i) })
	if err != nil {
		// Cannot happen: InputGate only passes rules that fit the input.
		report(err.(*PlanError).Field, err.(*PlanError).Err)
		return
	}
	p.ExpectInput = in
}

// InputGate returns the gate that bounds aggregation a's input values,
// which push checks event by event: MIN, MAX and LAST output one of their
// inputs, so every row rule carries over; MEAN lies within its inputs'
// range and is NaN when one is, so min, max and not_nan carry over. COUNT,
// SUM and STDDEV outputs are not bounded by single events: nil.
func (p *ViewPlan) InputGate(a int) *Gate {
	if p.Expect == nil {
		return nil
	}
	g := p.Expect.ByOutput[len(p.Features)+a]
	if g == nil || !g.rowRules {
		return nil
	}
	switch p.Aggs[a].Func {
	case def.Min, def.Max, def.Last:
		return g
	case def.Mean:
		if g.hasAllowed {
			// allowed_values cannot be set on MEAN (DOUBLE output); kept
			// for safety.
			return nil
		}
		if p.Aggs[a].In != def.Double && p.Aggs[a].In != def.Int64 {
			return nil
		}
		return g
	}
	return nil
}
