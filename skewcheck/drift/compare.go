package drift

import (
	"fmt"
	"math"
)

// Compare evaluates served counts against a baseline under thresholds th
// (zero fields take their defaults): it fills everything of a
// WindowReport but Start and End.
//
// The verdict: with fewer than th.MinSamples observations, or fewer than
// th.MinSamples values for the distribution metrics, those metrics are
// insufficient_data. Otherwise each metric's state is its level against
// its warn and alert thresholds when its test is significant at th.Alpha
// (PSI, JS and L∞: the chi-square test on the bins; KS: D above the KS
// critical value; the null rate: the two-proportion z-test), and ok when
// not. The window's state is the worst of its metrics'.
func Compare(b Baseline, c *Counts, th Thresholds) WindowReport {
	th = th.EnsureDefaults()
	probs := b.probs()
	r := WindowReport{
		Samples:       c.Samples(),
		Total:         c.Total(),
		Nulls:         c.Nulls,
		NaN:           c.NaN,
		NotFound:      c.NotFound,
		OutsideMaxAge: c.OutsideMaxAge,
		Histogram: Histogram{
			Baseline: probs,
			Served:   append([]int64(nil), c.Bins...),
		},
	}
	if b.Numeric != nil {
		r.Histogram.Edges = b.Numeric.Edges
	} else {
		r.Histogram.Categories = b.Categorical.Values
	}
	state := OK
	insufficient := func(what string) {
		state = Worst(state, InsufficientData)
		r.Reasons = append(r.Reasons, what)
	}
	judge := func(name string, x, warn, alert float64, significant bool) {
		if !significant {
			return
		}
		if s := level(x, warn, alert); s != OK {
			state = Worst(state, s)
			lv := warn
			if s == Alert {
				lv = alert
			}
			r.Reasons = append(r.Reasons, fmt.Sprintf("%s %.4g ≥ %s %.4g", name, x, s, lv))
		}
	}

	// The null rate: every observation that the training set would hold
	// as null.
	if r.Total > 0 {
		nullish := c.Nulls + c.NotFound + c.OutsideMaxAge
		ft := float64(r.Total)
		r.NullRate = float64(nullish) / ft
		r.NullRateDelta = r.NullRate - b.nullFraction()
		r.NotFoundRate = float64(c.NotFound) / ft
		r.OutsideMaxAgeRate = float64(c.OutsideMaxAge) / ft
		p := ProportionTest(nullish, r.Total, b.nullFraction(), b.count())
		r.Significance.NullP = &p
	}
	if r.Total < th.MinSamples {
		insufficient(fmt.Sprintf("%d observations < min samples %d", r.Total, th.MinSamples))
	} else {
		judge("null rate delta", math.Abs(r.NullRateDelta), th.NullWarn, th.NullAlert, *r.Significance.NullP < th.Alpha)
	}

	if r.Samples > 0 {
		q := shares(make([]float64, 0, len(probs)), c.Bins)
		d := &Distances{PSI: finite(PSI(probs, q)), JS: JS(probs, q)}
		stat, df, p := ChiSquare(probs, b.count(), c.Bins)
		r.Significance.ChiSquare, r.Significance.ChiSquareDF, r.Significance.ChiSquareP = finite(stat), df, p
		if b.Numeric != nil {
			ks := KS(probs, q)
			crit := KSCritical(th.Alpha, b.count(), r.Samples)
			d.KS = &ks
			r.Significance.KSCritical = &crit
		} else {
			l := LInf(probs, q)
			d.LInf = &l
		}
		r.Distances = d
	}
	switch {
	case r.Samples < th.MinSamples:
		if r.Total >= th.MinSamples {
			insufficient(fmt.Sprintf("%d values < min samples %d", r.Samples, th.MinSamples))
		}
	default:
		d, sig := r.Distances, &r.Significance
		chi := sig.ChiSquareP < th.Alpha
		judge("psi", d.PSI, th.PSIWarn, th.PSIAlert, chi)
		judge("js", d.JS, th.JSWarn, th.JSAlert, chi)
		if d.KS != nil {
			judge("ks", *d.KS, th.KSWarn, th.KSAlert, *d.KS > *sig.KSCritical)
		}
		if d.LInf != nil {
			judge("linf", *d.LInf, th.LInfWarn, th.LInfAlert, chi)
		}
	}
	r.State = state
	return r
}

// finite keeps a statistic JSON-encodable: +Inf (a served value where the
// baseline has none) becomes the largest float64.
func finite(x float64) float64 {
	switch {
	case math.IsInf(x, 1):
		return math.MaxFloat64
	case math.IsInf(x, -1):
		return -math.MaxFloat64
	case math.IsNaN(x):
		return 0
	}
	return x
}
