package backfill

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/fstore/fstore/compute"
	"github.com/fstore/fstore/featurestore/def"
	"github.com/fstore/fstore/skewcheck/profile"
)

// Data-quality gates in a backfill. The gates of a view (compute's
// Expectations, compiled with its plan) are checked on the training set's
// columns of the view's outputs, output chunk by output chunk (one spine
// row group), on the assembling workers next to the profile's per-chunk
// work; a requested output without an expectation, and every output of a
// view without one, costs nothing.
//
//   - Row rules (min, max, allowed_values, not_nan) are checked on every
//     non-null value.
//   - Batch rules (max_null_fraction, max_distinct) hold per output chunk,
//     the backfill's batch (see compute/expect.go).
//
// The chunks' results are combined in spine order by the committer, so the
// result does not depend on the number of workers: per column and rule,
// Violations sums the offending rows (row rules: the values; max_null_fraction:
// the null rows of the offending chunks; max_distinct: the rows of the
// offending chunks), Observed is the worst the data gave (the greatest value
// above max, the least below min, the first value not allowed, the highest
// null fraction of a chunk), and FirstRows are the smallest training-set
// row numbers (from 0) that broke a row rule, or the first rows of the
// offending chunks for a batch rule, at most compute.MaxFirstRows.
//
// Without Config.Strict the results go into the profile's "expectations"
// array and Stats.Violations; with it, the first chunk in spine order that
// breaks a gate fails the run with a QualityError and no output file.

// QualityError is a Strict backfill's failure: the first output chunk, in
// spine order, that broke a data-quality gate.
type QualityError struct {
	// From and To bound the chunk's training-set rows: [From, To).
	From, To int64
	// Violations are every rule the chunk broke, in column then rule
	// order; their FirstRows are training-set row numbers.
	Violations []compute.Violation
	// Columns[i] is Violations[i]'s training-set column ("view__feature").
	Columns []string
}

func (e *QualityError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "backfill: data-quality gate failed (strict) in training-set rows [%d, %d): ", e.From, e.To)
	for i := range e.Violations {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(e.Violations[i].String())
	}
	return b.String()
}

// Is matches ErrQuality.
func (e *QualityError) Is(target error) bool { return target == ErrQuality }

// gates are a run's data-quality gates: the views with a gated output in
// the training set. nil when there are none.
type gates struct {
	strict bool
	jobs   []gatedJob
	// acc[o] holds, per rule, output o's combined result (o indexes
	// run.outputs); nil for outputs without a gate.
	acc [][compute.NumRules]*gateResult
}

// gatedJob is one view's gated outputs.
type gatedJob struct {
	job int // index into run.jobs
	exp *compute.Expectations
	// checks are the gates to tally: gate index (into exp.Gates), the
	// view column (index into job.outs) and the run output.
	checks []gateCheck
	// output maps a feature name to its run output.
	output map[string]int
}

type gateCheck struct{ gate, col, output int }

type gateResult struct {
	typ def.ValueType
	res profile.ExpectationResult
}

// newGates compiles the gates of the run's requested view outputs; nil
// when none has a gate. strict is Config.Strict.
func (r *run) newGates(strict bool) *gates {
	g := &gates{strict: strict}
	for ji, j := range r.jobs {
		exp := j.plan.Expect
		if exp.Empty() {
			continue
		}
		gj := gatedJob{job: ji, exp: exp, output: map[string]int{}}
		for gi, gate := range exp.Gates {
			for oi, o := range r.outputs {
				if o.view == ji && j.outs[o.out] == gate.Output {
					gj.checks = append(gj.checks, gateCheck{gate: gi, col: o.out, output: oi})
					gj.output[gate.Feature] = oi
				}
			}
		}
		if len(gj.checks) > 0 {
			g.jobs = append(g.jobs, gj)
		}
	}
	if len(g.jobs) == 0 {
		return nil
	}
	g.acc = make([][compute.NumRules]*gateResult, len(r.outputs))
	return g
}

// gateWorker is one assembling worker's tallies, one per gated view.
type gateWorker struct {
	g       *gates
	tallies []*compute.Tally
}

// worker returns a worker's tallies; nil for nil g.
func (g *gates) worker() *gateWorker {
	if g == nil {
		return nil
	}
	w := &gateWorker{g: g}
	for _, gj := range g.jobs {
		w.tallies = append(w.tallies, gj.exp.NewTally())
	}
	return w
}

// check tallies chunk c's gated columns and returns what they broke
// (nil when nothing; always nil for a nil w). Row numbers are the
// training set's.
func (w *gateWorker) check(c *chunk) []compute.Violation {
	if w == nil {
		return nil
	}
	var out []compute.Violation
	for i, gj := range w.g.jobs {
		t := w.tallies[i]
		t.Reset()
		for _, ck := range gj.checks {
			t.Add(ck.gate, c.viewCols[gj.job][ck.col], c.base)
		}
		out = append(out, t.Violations()...)
	}
	return out
}

// commit combines chunk c's violations (in spine order: chunks are
// committed in order). With Strict, a violation fails the run.
func (g *gates) commit(r *run, c *chunk, vs []compute.Violation) error {
	if g == nil || len(vs) == 0 {
		return nil
	}
	if g.strict {
		e := &QualityError{From: c.base, To: c.base + int64(c.n), Violations: vs}
		for _, v := range vs {
			e.Columns = append(e.Columns, r.outputs[g.outputOf(v)].column)
		}
		return e
	}
	for _, v := range vs {
		o := g.outputOf(v)
		slot := &g.acc[o][v.Rule]
		if *slot == nil {
			*slot = &gateResult{typ: r.outputs[o].typ, res: profile.ExpectationResult{
				Feature: r.outputs[o].column, Rule: v.Rule.String(), Limit: v.Limit, Observed: v.Observed}}
		}
		acc := *slot
		acc.res.Violations += v.Count
		first := v.FirstRows
		if !v.Rule.Row() {
			first = []int64{c.base}
		}
		for _, row := range first {
			if len(acc.res.FirstRows) < compute.MaxFirstRows {
				acc.res.FirstRows = append(acc.res.FirstRows, row)
			}
		}
		if worse(v.Rule, acc.typ, acc.res.Observed, v.Observed) {
			acc.res.Observed = v.Observed
		}
	}
	return nil
}

// outputOf returns the run output of violation v.
func (g *gates) outputOf(v compute.Violation) int {
	for _, gj := range g.jobs {
		if gj.exp.View == v.View {
			return gj.output[v.Feature]
		}
	}
	return 0 // cannot happen: violations come from g's tallies
}

// results returns the combined results in column then rule order; nil
// when no gate was broken.
func (g *gates) results() []profile.ExpectationResult {
	if g == nil {
		return nil
	}
	var out []profile.ExpectationResult
	for o := range g.acc {
		for _, acc := range g.acc[o] {
			if acc != nil {
				out = append(out, acc.res)
			}
		}
	}
	return out
}

// worse reports whether observed value b of rule r is worse than a: lower
// for min, higher for max and max_null_fraction. Values are compute's
// renderings, which parse back exactly; other rules keep the first.
func worse(r compute.Rule, t def.ValueType, a, b string) bool {
	var less bool
	switch r {
	case compute.RuleMin:
		less = true
	case compute.RuleMax:
	case compute.RuleMaxNullFraction:
		t = def.Double
	default:
		return false
	}
	x, errA := parseObserved(t, a)
	y, errB := parseObserved(t, b)
	if errA != nil || errB != nil {
		return false
	}
	if less {
		return y < x
	}
	return y > x
}

// parseObserved parses compute's rendering of a number or timestamp.
func parseObserved(t def.ValueType, s string) (float64, error) {
	switch t {
	case def.Int64:
		// Compared as int64 would be exact; float64 keeps one path and is
		// exact up to 2^53, beyond which a tie only keeps the first.
		i, err := strconv.ParseInt(s, 10, 64)
		return float64(i), err
	case def.Timestamp:
		ts, err := time.Parse(time.RFC3339Nano, s)
		return float64(ts.UnixMicro()), err
	case def.Double:
		return strconv.ParseFloat(s, 64)
	}
	return 0, errors.ErrUnsupported
}

// DescribeViolation renders one gate result of a training set for people:
// "driver_trips__fare_max_24h: max 200, observed 250: 3 rows (first rows
// 5, 17, 40)".
func DescribeViolation(e profile.ExpectationResult) string {
	s := fmt.Sprintf("%s: %s %s, observed %s: %d rows", e.Feature, e.Rule, e.Limit, e.Observed, e.Violations)
	if len(e.FirstRows) > 0 {
		parts := make([]string, len(e.FirstRows))
		for j, r := range e.FirstRows {
			parts[j] = strconv.FormatInt(r, 10)
		}
		s += " (first rows " + strings.Join(parts, ", ") + ")"
	}
	return s
}
