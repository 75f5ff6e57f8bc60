package featurestore

import (
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/fstore/fstore/compute"
	"github.com/fstore/fstore/featurestore/def"
)

// ErrQuality is matched by errors from a data-quality gate (a view's
// expect rules or max_freshness_lag): nothing the gate guarded was written.
var ErrQuality = errors.New("featurestore: data-quality gate failed")

// QualityError lists the rules a batch broke at one gate. It matches
// ErrQuality, and also ErrBadEvents at the push gate (the request is at
// fault, not the store).
type QualityError struct {
	// Gate is "materialize" or "push".
	Gate string
	View string
	// Violations are what broke, in output then rule order.
	Violations []compute.Violation
	// Where[i] names Violations[i].FirstRows: "trips.parquet row 3" for
	// source rows, "events[3]" for pushed events.
	Where [][]string
}

func (e *QualityError) Error() string {
	if e.Gate == "push" && len(e.Violations) == 1 && len(e.Where) == 1 && len(e.Where[0]) == 1 {
		v := &e.Violations[0]
		return fmt.Sprintf("%s: %s (expect of %s:%s)", e.Where[0][0], v.Problem(), e.View, v.Feature)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "data-quality gate of view %q failed: ", e.View)
	for i := range e.Violations {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(describeViolation(&e.Violations[i], e.Where[i]))
	}
	return b.String()
}

// Is matches ErrQuality, and ErrBadEvents for pushes.
func (e *QualityError) Is(target error) bool {
	return target == ErrQuality || target == ErrBadEvents && e.Gate == "push"
}

// describeViolation is v's description with its rows named by where.
func describeViolation(v *compute.Violation, where []string) string {
	s := v.Describe()
	if v.Rule.Row() {
		s += fmt.Sprintf(" (%d of %d rows", v.Count, v.Rows)
		if len(where) > 0 {
			s += "; first: " + strings.Join(where, ", ")
		}
		s += ")"
	}
	return s
}

// QualityViolation is a broken rule that materialisation was allowed to go
// past (MaterializeOptions.AllowViolations), with its rows named.
type QualityViolation struct {
	compute.Violation
	Where []string
}

func (q QualityViolation) String() string {
	return fmt.Sprintf("view %q: %s", q.View, describeViolation(&q.Violation, q.Where))
}

// sourceRows maps the file-order number of a history row (seq) to its
// file and row.
type sourceRows struct {
	files []string
	start []int64 // seq of each file's first row, ascending
}

func (s *sourceRows) name(seq int64) string {
	i := sort.Search(len(s.start), func(i int) bool { return s.start[i] > seq }) - 1
	if i < 0 {
		return fmt.Sprintf("row %d", seq)
	}
	return fmt.Sprintf("%s row %d", filepath.Base(s.files[i]), seq-s.start[i])
}

// checkMaterialized applies the view's gates to what one materialisation
// run would write: each entity's latest plain-feature values (the batch of
// the batch rules), the events its windows aggregate (row rules that hold
// event by event) and the freshness of its newest event at end. Rows are
// named by source file and row.
func checkMaterialized(ov *OnlineView, tab *entityTable, src *sourceRows, from, end int64) []QualityViolation {
	p := ov.History
	var out []QualityViolation
	// name lists the offending rows in file order: the entity table's
	// order is not the files', and messages must not change from run to
	// run. (With more offending rows than a violation keeps, which ones
	// are kept follows the table's order.)
	name := func(seqs []int64) []string {
		slices.Sort(seqs)
		w := make([]string, len(seqs))
		for i, s := range seqs {
			w[i] = src.name(s)
		}
		return w
	}
	// report turns a tally's violations into QualityViolations, their
	// rows (indexes into the checked columns) named through rowSeq.
	report := func(tally *compute.Tally, rowSeq []int64) []QualityViolation {
		var vs []QualityViolation
		for _, v := range tally.Violations() {
			seqs := make([]int64, len(v.FirstRows))
			for i, e := range v.FirstRows {
				seqs[i] = rowSeq[e]
			}
			vs = append(vs, QualityViolation{v, name(seqs)})
		}
		return vs
	}
	if c := p.Expect; c != nil && len(c.Gates) > 0 {
		tally := c.NewTally()
		for gi, g := range c.Gates {
			if g.Output < len(p.Features) {
				tally.Add(gi, &tab.feats[g.Output], 0)
			}
		}
		out = append(out, report(tally, tab.seq)...)
	}
	if c := p.ExpectInput; c != nil && len(c.Gates) > 0 && len(tab.evSeq) > 0 {
		tally := c.NewTally()
		for gi, g := range c.Gates {
			tally.Add(gi, &tab.evVals[g.Output], 0)
		}
		out = append(out, report(tally, tab.evSeq)...)
	}
	if c := p.Expect; c != nil && c.MaxFreshnessLag > 0 {
		newest := int64(math.MinInt64)
		for _, ts := range tab.ts {
			newest = max(newest, ts)
		}
		if newest == math.MinInt64 {
			// No event in this run: the newest is at most from, which
			// bounds the lag from below.
			if from != math.MinInt64 && end-from > c.MaxFreshnessLag {
				v, _ := c.Freshness(from, end)
				v.Observed = "more than " + v.Observed + " (no event after " + fmtMicros(from) + ")"
				out = append(out, QualityViolation{Violation: v})
			} else if from == math.MinInt64 {
				v, _ := c.Freshness(end-c.MaxFreshnessLag-1, end)
				v.Observed = "forever (the history has no event)"
				out = append(out, QualityViolation{Violation: v})
			}
		} else if v, bad := c.Freshness(newest, end); bad {
			out = append(out, QualityViolation{Violation: v})
		}
	}
	return out
}

func qualityError(gate, view string, vs []QualityViolation) error {
	e := &QualityError{Gate: gate, View: view}
	for _, v := range vs {
		e.Violations = append(e.Violations, v.Violation)
		e.Where = append(e.Where, v.Where)
	}
	return e
}

// sourceTypeChanged turns a failure to open history file path into a
// report of the column whose type changed since the view was compiled
// (its plan was typed from the source's first file or declared schema),
// when that is the cause; other errors come back as they were.
func sourceTypeChanged(ov *OnlineView, path string, err error) error {
	p := ov.History
	cols, serr := compute.ParquetSchema(path)
	if serr != nil {
		return err
	}
	have := make(map[string]compute.ParquetColumn, len(cols))
	for _, c := range cols {
		have[c.Name] = c
	}
	for i, f := range p.Input.Fields {
		c, ok := have[f.Name]
		if !ok || c.Unsupported != "" || c.Type == f.Type {
			continue
		}
		isTime := i == p.Timestamp || i == p.Created
		if isTime && (c.Type == def.Int64 || c.Type == def.Timestamp) {
			continue
		}
		return fmt.Errorf("%w: column %q was %s when the view was applied, the file %s now has %s (re-apply the definitions or convert the file)",
			compute.ErrInput, f.Name, f.Type, path, c.Type)
	}
	return err
}

// checkPushed applies the row rules of view ov's gates to pushed events,
// laid out by the push plan's input: each plain feature's value and each
// aggregation input whose rule holds event by event
// (compute.ViewPlan.InputGate), for the events the view's filter keeps.
// The first offending event fails the push with a QualityError naming it
// as `events[3].fare` (0-based, as the request lists them). Batch rules do
// not apply to pushes: a push of one event has no meaningful null
// fraction.
func checkPushed(ov *OnlineView, in *compute.Batch) error {
	p := ov.Push
	type check struct {
		g    *compute.Gate
		col  *compute.Column
		expr string
		agg  bool
	}
	var checks []check
	if p.Expect != nil {
		for _, g := range p.Expect.Gates {
			if g.RowRules() && g.Output < len(p.Features) {
				checks = append(checks, check{g: g, expr: p.Features[g.Output].Expr.Source})
			}
		}
	}
	if p.ExpectInput != nil {
		for _, g := range p.ExpectInput.Gates {
			checks = append(checks, check{g: g, expr: p.Aggs[g.Output].Expr.Source, agg: true})
		}
	}
	if len(checks) == 0 || in.Len == 0 {
		return nil
	}
	ev := p.NewEvaluator()
	// Evaluate every column before reading any: evaluators own results
	// only until their next call.
	for i := range checks {
		if c := &checks[i]; c.agg {
			c.col = ev.AggInput(c.g.Output, in)
		} else {
			c.col = ev.Feature(c.g.Output, in)
		}
	}
	filter := ev.Filter(in)
	for row := 0; row < in.Len; row++ {
		if !compute.Keep(filter, row) {
			continue
		}
		for _, c := range checks {
			r := c.g.CheckRow(c.col, row)
			if r == 0 {
				continue
			}
			v := c.g.RowViolation(r, c.col, row)
			where := fmt.Sprintf("events[%d].%s", row, c.expr)
			if _, ok := p.Input.Lookup(c.expr); !ok {
				where = fmt.Sprintf("events[%d] (%s)", row, c.expr)
			}
			return &QualityError{Gate: "push", View: ov.Name, Violations: []compute.Violation{v}, Where: [][]string{{where}}}
		}
	}
	return nil
}
