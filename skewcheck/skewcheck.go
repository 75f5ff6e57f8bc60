package skewcheck

import (
	"encoding/json"
	"fmt"
	"sort"
	"time"

	"github.com/fstore/fstore/featurestore/def"
	"github.com/fstore/fstore/skewcheck/drift"
	"github.com/fstore/fstore/skewcheck/profile"
)

// MergeReports joins the snapshots of several monitors (one per window
// length) into one report: subjects sorted by kind and name, the state
// the worst of theirs, the window the first monitor's (each subject's own
// is in its windows' start and end).
func MergeReports(now time.Time, ms ...*drift.Monitor) drift.Report {
	out := drift.Report{GeneratedAt: now.UTC(), State: drift.OK, Subjects: []drift.SubjectReport{}}
	for i, m := range ms {
		r := m.Snapshot()
		if i == 0 {
			out.WindowSeconds = r.WindowSeconds
		}
		out.Subjects = append(out.Subjects, r.Subjects...)
		out.State = drift.Worst(out.State, r.State)
	}
	sort.Slice(out.Subjects, func(i, j int) bool {
		a, b := out.Subjects[i], out.Subjects[j]
		if a.Kind != b.Kind {
			return a.Kind < b.Kind
		}
		return a.Name < b.Name
	})
	return out
}

// EncodeReport is the JSON of a report, as GET /v1/skew serves it.
func EncodeReport(r drift.Report) ([]byte, error) {
	return json.Marshal(r)
}

// Thresholds converts definition thresholds (nil fields unset) into
// drift's (zero fields take the monitor's defaults); feature overrides
// service field by field.
func Thresholds(service, feature def.DriftThresholds) drift.Thresholds {
	var t drift.Thresholds
	for _, d := range []def.DriftThresholds{service, feature} {
		set := func(dst *float64, v *float64) {
			if v != nil {
				*dst = *v
			}
		}
		set(&t.PSIWarn, d.PSIWarn)
		set(&t.PSIAlert, d.PSIAlert)
		set(&t.JSWarn, d.JSWarn)
		set(&t.JSAlert, d.JSAlert)
		set(&t.KSWarn, d.KSWarn)
		set(&t.KSAlert, d.KSAlert)
		set(&t.LInfWarn, d.LInfWarn)
		set(&t.LInfAlert, d.LInfAlert)
		set(&t.NullWarn, d.NullRateWarn)
		set(&t.NullAlert, d.NullRateAlert)
		if d.MinSamples != nil {
			t.MinSamples = *d.MinSamples
		}
	}
	return t
}

// Profile is a baseline profile (see package profile).
type Profile = profile.Profile

// ReadProfile reads a baseline profile file (fstore.profile/v1 or v2).
func ReadProfile(path string) (*Profile, error) { return profile.Read(path) }

// baselineBins is the number of equal-mass bins a numeric baseline is cut
// into: the 5%, 10%, …, 95% quantiles are the cut points. PSI's usual
// levels (0.1, 0.2) are calibrated for about ten to twenty bins; with a
// hundred, sampling noise alone adds about 99/n to PSI (0.1 at a thousand
// served values), and values served for the same entities again and again
// land in few fine bins.
const baselineBins = 20

// maxIntCategories is the most distinct values an INT64 feature may have
// to be monitored as categories (a code, a bucket) rather than numbers.
const maxIntCategories = 50

// FeatureSpec turns a profile's feature into a drift feature spec: DOUBLE
// and TIMESTAMP (and INT64 with many values) as numbers binned at the
// baseline's percentiles; STRING, BOOL and INT64 with few values as
// categories with the profile's top values. service and feature are the
// definition thresholds (feature overrides service field by field).
func FeatureSpec(p *Profile, name string, t def.ValueType, service, feature def.DriftThresholds) (drift.FeatureSpec, error) {
	spec := drift.FeatureSpec{Name: name, Thresholds: Thresholds(service, feature)}
	f := p.Feature(name)
	if f == nil {
		return spec, fmt.Errorf("%w: the baseline profile of %q has no feature %q", ErrBaseline, p.Dataset, name)
	}
	if f.Type != t.String() {
		return spec, fmt.Errorf("%w: feature %q is %s in the baseline profile of %q but served as %s", ErrBaseline, name, f.Type, p.Dataset, t)
	}
	categorical := t == def.String || t == def.Bool
	if t == def.Int64 && f.Distinct != nil && *f.Distinct <= maxIntCategories && !f.DistinctApprox && !f.DistinctCapped {
		categorical = true
	}
	if categorical {
		top, other, ok := f.Shares()
		if !ok {
			return spec, fmt.Errorf("%w: feature %q has no values in the baseline profile of %q", ErrBaseline, name, p.Dataset)
		}
		cb := &drift.CategoricalBaseline{Other: other, Count: f.Count, NullFraction: f.NullFraction()}
		for _, s := range top {
			cb.Values = append(cb.Values, s.Value)
			cb.Shares = append(cb.Shares, s.Share)
		}
		spec.Type = drift.String
		switch t {
		case def.Bool:
			spec.Type = drift.Bool
		case def.Int64:
			spec.Type = drift.Int64
		}
		spec.Baseline.Categorical = cb
		return spec, nil
	}
	cuts := f.CutPoints(baselineBins)
	if len(cuts) == 0 {
		return spec, fmt.Errorf("%w: feature %q has no numbers in the baseline profile of %q", ErrBaseline, name, p.Dataset)
	}
	nb, err := drift.NewNumericBaseline(cuts, f.Count, f.NullFraction())
	if err != nil {
		return spec, fmt.Errorf("%w: feature %q in the baseline profile of %q: %w", ErrBaseline, name, p.Dataset, err)
	}
	spec.Type = drift.Float64
	if t != def.Double {
		spec.Type = drift.Int64
	}
	spec.Baseline.Numeric = &nb
	return spec, nil
}
