package serve

import (
	"math"
	"math/bits"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fstore/fstore/compute"
	"github.com/fstore/fstore/featurestore"
	"github.com/fstore/fstore/featurestore/def"
)

// Serve-time data-quality gates: the expectations of the definitions
// (compute.Expectations, compiled with each view's plan) checked on the
// values a feature request has already read, after the store read and
// before the response is encoded. Serving never refuses a value for
// breaking a gate; it counts, so that alerting sees bad data reaching
// models.
//
//   - Row rules (min, max, allowed_values, not_nan) are checked on every
//     PRESENT value a request reads of an output with a gate:
//     fstore_quality_violations_total{view,feature,rule} counts the values
//     that break one, each under the first rule it breaks in compute's
//     order (min, max, allowed_values, not_nan). Only the outputs a
//     request reads are checked (its features and its on-demand views'
//     inputs); NULL_VALUE, NOT_FOUND and OUTSIDE_MAX_AGE values are nulls
//     and break no row rule. On-demand outputs have no gates.
//   - Batch rules (max_null_fraction, max_distinct) are not checked at
//     serve: a request's handful of values is no batch.
//   - Freshness (max_freshness_lag): for each view a request reads, the
//     view's newest served event is the greatest event time among the
//     request's entities that have a row in the online state (every status
//     but NOT_FOUND; OUTSIDE_MAX_AGE rows count, their event time is
//     known). The view is stale for the request when the request's time
//     ("now", computed once per request) minus that newest event is more
//     than max_freshness_lag — the comparison of
//     compute.Expectations.Freshness, with the lag exactly at the bound
//     still fresh. Each stale (request, view) pair adds one to
//     fstore_quality_freshness_violations_total{view}. A request that
//     finds no row of the view counts nothing: no data is not stale data.
//     An event stored at exactly the Unix epoch reads as "no row" here, as
//     featurestore.ReadResult.EventTS reports it.
//
// Cost: gates are compiled once per catalog (compileQuality), with every
// labelled counter resolved then; a view without gates has a nil
// servedView.quality and costs the request one nil check. A view with
// gates costs one pass over its read values with row rules (a validity
// bitmap word at a time, nulls skipped whole words at once), one pass over
// its event times with a freshness bound, and one atomic add per
// (output, rule) broken. Nothing allocates.

// qualityMetrics are the serve-time gate counters.
type qualityMetrics struct {
	violations *prometheus.CounterVec
	freshness  *prometheus.CounterVec
}

// newQualityMetrics creates the gate counters and registers them on reg.
func newQualityMetrics(reg prometheus.Registerer) qualityMetrics {
	q := qualityMetrics{
		violations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fstore_quality_violations_total",
			Help: "Served PRESENT values that break a row rule (min, max, allowed_values, not_nan) of their feature's expectation, by view, feature and the first rule broken.",
		}, []string{"view", "feature", "rule"}),
		freshness: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fstore_quality_freshness_violations_total",
			Help: "Feature requests whose newest served event of the view lags the request's time by more than the view's max_freshness_lag (one per request and view).",
		}, []string{"view"}),
	}
	reg.MustRegister(q.violations, q.freshness)
	return q
}

// viewQuality is one served view's gates compiled for the request path.
type viewQuality struct {
	// gates are the outputs with row rules, in output order.
	gates []servedGate
	// maxLag is max_freshness_lag in microseconds; 0: none. fresh counts
	// its violations.
	maxLag int64
	fresh  prometheus.Counter
}

// servedGate is one output's row rules and their counters.
type servedGate struct {
	gate *compute.Gate
	out  int
	// counters[r] counts rule r; nil for the rules the gate does not set.
	counters [compute.NumRules]prometheus.Counter
}

// compileQuality compiles the gates of c's views and resolves their
// counters, so that checking allocates nothing. A view without row rules
// or a freshness bound keeps a nil quality. Without metrics (m nil) no
// view is checked: there is nothing to count into.
func (m *metrics) compileQuality(c *catalog) {
	if m == nil {
		return
	}
	for name, sv := range c.views {
		sv.quality = m.quality.compile(name, viewExpectations(sv.ov))
	}
}

// viewExpectations returns the compiled gates of ov: its history plan's,
// else its push plan's (both are compiled from the one definition against
// the same output types).
func viewExpectations(ov *featurestore.OnlineView) *compute.Expectations {
	switch {
	case ov.History != nil:
		return ov.History.Expect
	case ov.Push != nil:
		return ov.Push.Expect
	}
	return nil
}

// compile returns view's serve-time gates, nil when it has none that
// serving checks.
func (q qualityMetrics) compile(view string, exp *compute.Expectations) *viewQuality {
	if exp.Empty() {
		return nil
	}
	vq := &viewQuality{maxLag: exp.MaxFreshnessLag}
	for _, g := range exp.Gates {
		if !g.RowRules() {
			continue
		}
		sg := servedGate{gate: g, out: g.Output}
		e := &g.Expect
		for r, set := range map[compute.Rule]bool{
			compute.RuleMin:           e.Min != nil,
			compute.RuleMax:           e.Max != nil,
			compute.RuleAllowedValues: len(e.AllowedValues) > 0,
			compute.RuleNotNaN:        e.NotNaN,
		} {
			if set {
				sg.counters[r] = q.violations.WithLabelValues(view, g.Feature, r.String())
			}
		}
		vq.gates = append(vq.gates, sg)
	}
	if vq.maxLag > 0 {
		vq.fresh = q.freshness.WithLabelValues(view)
	}
	if len(vq.gates) == 0 && vq.maxLag == 0 {
		return nil
	}
	return vq
}

// check counts the gate violations of one view's read rr: the row rules of
// the outputs the read selected (want, by output index) and the freshness
// of its rows at now (the request's time, microseconds).
func (q *viewQuality) check(rr *featurestore.ReadResult, want []bool, now int64) {
	for i := range q.gates {
		sg := &q.gates[i]
		if sg.out >= len(want) || !want[sg.out] {
			continue
		}
		var counts [compute.NumRules]uint32
		countRowViolations(sg.gate, &rr.Values[sg.out], rr.N, &counts)
		for r, n := range counts {
			if n > 0 && sg.counters[r] != nil {
				sg.counters[r].Add(float64(n))
			}
		}
	}
	if q.maxLag > 0 {
		newest := int64(math.MinInt64)
		for _, ts := range rr.EventTS[:rr.N] {
			if ts != 0 && ts > newest {
				newest = ts
			}
		}
		if newest != math.MinInt64 && now-newest > q.maxLag {
			q.fresh.Inc()
		}
	}
}

// countRowViolations adds to counts, by rule, the valid values among the
// first n of col that break a row rule of g. It visits the validity
// bitmap a word at a time, so that the nulls of absent entities cost
// nothing, with the type switched once per column rather than per value.
func countRowViolations(g *compute.Gate, col *compute.Column, n int, counts *[compute.NumRules]uint32) {
	nw := (n + 63) / 64
	valid := col.Valid
	word := func(w int) uint64 {
		x := ^uint64(0)
		if valid != nil {
			x = valid[w]
		}
		if rem := n - w*64; rem < 64 {
			x &= 1<<uint(rem) - 1
		}
		return x
	}
	switch col.Type {
	case def.Int64, def.Timestamp:
		vs := col.I64[:n]
		for w := 0; w < nw; w++ {
			for x := word(w); x != 0; x &= x - 1 {
				if r := g.CheckInt64(vs[w*64+bits.TrailingZeros64(x)]); r != 0 {
					counts[r]++
				}
			}
		}
	case def.Double:
		vs := col.F64[:n]
		for w := 0; w < nw; w++ {
			for x := word(w); x != 0; x &= x - 1 {
				if r := g.CheckDouble(vs[w*64+bits.TrailingZeros64(x)]); r != 0 {
					counts[r]++
				}
			}
		}
	case def.String:
		vs := col.S[:n]
		for w := 0; w < nw; w++ {
			for x := word(w); x != 0; x &= x - 1 {
				if r := g.CheckString(vs[w*64+bits.TrailingZeros64(x)]); r != 0 {
					counts[r]++
				}
			}
		}
	case def.Bool:
		vs := col.B[:n]
		for w := 0; w < nw; w++ {
			for x := word(w); x != 0; x &= x - 1 {
				if r := g.CheckBool(vs[w*64+bits.TrailingZeros64(x)]); r != 0 {
					counts[r]++
				}
			}
		}
	}
}
