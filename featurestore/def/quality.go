package def

import (
	"fmt"
	"math"
	"strconv"
	"time"
)

// Expectation is a data-quality gate on one feature's values. Nil and
// zero fields are unset. Row rules (Min, Max, AllowedValues, NotNaN) hold
// for every value; batch rules (MaxNullFraction, MaxDistinct) over a batch
// of values (a materialised or backfilled chunk, a push, a served window).
// compute compiles and checks them; this type is the vocabulary only.
type Expectation struct {
	// Min and Max bound numbers (timestamps in microseconds).
	Min, Max *float64
	// MaxNullFraction bounds the fraction of null values, in [0, 1].
	MaxNullFraction *float64
	// AllowedValues lists the only values allowed, as text ("card", "42",
	// "true"), for STRING, INT64 and BOOL features.
	AllowedValues []string
	// MaxDistinct bounds the distinct values of a batch; 0 is unset.
	MaxDistinct int64
	// NotNaN forbids NaN (DOUBLE).
	NotNaN bool
}

// IsZero reports whether e sets no rule.
func (e *Expectation) IsZero() bool {
	return e == nil || e.Min == nil && e.Max == nil && e.MaxNullFraction == nil &&
		len(e.AllowedValues) == 0 && e.MaxDistinct == 0 && !e.NotNaN
}

// DriftThresholds are the warn and alert levels of the drift distances;
// nil fields take skewcheck/drift's defaults.
type DriftThresholds struct {
	PSIWarn, PSIAlert           *float64
	JSWarn, JSAlert             *float64
	KSWarn, KSAlert             *float64
	LInfWarn, LInfAlert         *float64
	NullRateWarn, NullRateAlert *float64
	MinSamples                  *int64
}

// MonitoringConfig turns on skew and drift monitoring of a service.
type MonitoringConfig struct {
	Enabled bool
	// Window is the tumbling window; 0 means the default (5 minutes).
	Window time.Duration
	// Baseline is a profile file to compare with when no model of the
	// service carries one.
	Baseline string
	// Thresholds apply to every feature; FeatureThresholds (keyed by
	// view__feature) override them field by field.
	Thresholds        DriftThresholds
	FeatureThresholds map[string]DriftThresholds
}

// Floats returns the threshold fields in a fixed order with their names,
// for validation and display.
func (t *DriftThresholds) Floats() []NamedFloat {
	return []NamedFloat{
		{"psi_warn", t.PSIWarn}, {"psi_alert", t.PSIAlert},
		{"js_warn", t.JSWarn}, {"js_alert", t.JSAlert},
		{"ks_warn", t.KSWarn}, {"ks_alert", t.KSAlert},
		{"linf_warn", t.LInfWarn}, {"linf_alert", t.LInfAlert},
		{"null_rate_warn", t.NullRateWarn}, {"null_rate_alert", t.NullRateAlert},
	}
}

// NamedFloat is an optional float with its definition-file name.
type NamedFloat struct {
	Name string
	V    *float64
}

func validThreshold(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) && x >= 0 }

// Expectations returns the gate of each of the view's outputs, in
// FeatureNames order (nil where an output has none).
func (v *FeatureView) Expectations() []*Expectation {
	out := make([]*Expectation, 0, len(v.Features)+len(v.Aggregations))
	for i := range v.Features {
		out = append(out, v.Features[i].Expect)
	}
	for i := range v.Aggregations {
		out = append(out, v.Aggregations[i].Expect)
	}
	return out
}

// checkExpect validates a gate's structure and, when typed, its fit with
// the value type t (aggregations' types are known only once compiled, and
// compute checks them there).
func checkExpect(report reporter, field string, e *Expectation, t ValueType, typed bool) {
	if e == nil {
		return
	}
	for _, b := range []struct {
		name string
		v    *float64
	}{{"min", e.Min}, {"max", e.Max}} {
		if b.v != nil && (math.IsNaN(*b.v) || math.IsInf(*b.v, 0)) {
			report(field+"."+b.name, "%s %v is not a finite number", b.name, *b.v)
		}
	}
	if e.Min != nil && e.Max != nil && *e.Min > *e.Max {
		report(field+".min", "min %v is greater than max %v", *e.Min, *e.Max)
	}
	if f := e.MaxNullFraction; f != nil && !(*f >= 0 && *f <= 1) {
		report(field+".max_null_fraction", "max_null_fraction %v is not in [0, 1]", *f)
	}
	if e.MaxDistinct < 0 {
		report(field+".max_distinct", "max_distinct %d is negative", e.MaxDistinct)
	}
	if !typed {
		return
	}
	numeric := t == Int64 || t == Double || t == Timestamp
	if (e.Min != nil || e.Max != nil) && !numeric {
		report(field+".min", "min and max apply to INT64, DOUBLE and TIMESTAMP features, not %s", t)
	}
	if e.NotNaN && t != Double {
		report(field+".not_nan", "not_nan applies to DOUBLE features, not %s", t)
	}
	if len(e.AllowedValues) > 0 {
		switch t {
		case String:
		case Int64, Bool:
			for i, s := range e.AllowedValues {
				if _, err := ParseText(t, s); err != nil {
					report(fmt.Sprintf("%s.allowed_values[%d]", field, i), "%q is not a valid %s value: %v", s, t, err)
				}
			}
		default:
			report(field+".allowed_values", "allowed_values apply to STRING, INT64 and BOOL features, not %s", t)
		}
	}
}

// ParseText parses the text form of an allowed value of type t (INT64:
// decimal; BOOL: true or false; STRING: itself) into an int64 (BOOL: 0 or
// 1); STRING returns 0.
func ParseText(t ValueType, s string) (int64, error) {
	switch t {
	case Int64:
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("want a decimal integer")
		}
		return v, nil
	case Bool:
		switch s {
		case "true":
			return 1, nil
		case "false":
			return 0, nil
		}
		return 0, fmt.Errorf("want true or false")
	}
	return 0, nil
}

func (v *validator) monitoring(s *FeatureService, report reporter) {
	m := &s.Monitoring
	checkDuration(report, "monitoring.window", m.Window, false)
	checkThresholds(report, "monitoring.thresholds", &m.Thresholds)
	if len(m.FeatureThresholds) == 0 {
		return
	}
	refs, err := v.ix.ExpandRefs(s.Features)
	if err != nil {
		return // reported with the features
	}
	known := map[string]bool{}
	var names []string
	for _, r := range refs {
		n := r.View + "__" + r.Feature
		known[n] = true
		names = append(names, n)
	}
	for k, t := range m.FeatureThresholds {
		field := fmt.Sprintf("monitoring.feature_thresholds[%q]", k)
		if !known[k] {
			report(field, "%q is not a feature of the service (want view__feature)%s", k, hint(k, names))
		}
		checkThresholds(report, field, &t)
	}
}

func checkThresholds(report reporter, field string, t *DriftThresholds) {
	fs := t.Floats()
	for _, f := range fs {
		if f.V != nil && !validThreshold(*f.V) {
			report(field+"."+f.Name, "%s %v is not a finite, non-negative number", f.Name, *f.V)
		}
	}
	for i := 0; i+1 < len(fs); i += 2 {
		w, a := fs[i], fs[i+1]
		if w.V != nil && a.V != nil && *w.V > *a.V {
			report(field+"."+w.Name, "%s %v is above %s %v", w.Name, *w.V, a.Name, *a.V)
		}
	}
	if t.MinSamples != nil && *t.MinSamples < 1 {
		report(field+".min_samples", "min_samples %d is below 1", *t.MinSamples)
	}
}
