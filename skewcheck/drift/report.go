package drift

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"time"
)

// Report is a Monitor's snapshot: the body of GET /v1/skew. Its JSON shape
// is documented in doc.go.
type Report struct {
	GeneratedAt time.Time `json:"generated_at"`
	// WindowSeconds is the tumbling window's length.
	WindowSeconds float64 `json:"window_seconds"`
	// State is the worst of the subjects' states (ok with no subjects).
	State    State           `json:"state"`
	Subjects []SubjectReport `json:"subjects"`
}

// SubjectReport is one subject: a feature service or a model version's
// predictions.
type SubjectReport struct {
	Kind string `json:"kind"`
	Name string `json:"name"`
	// State is the worst of the features' states in the last completed
	// window.
	State          State           `json:"state"`
	BaselineSource string          `json:"baseline_source"`
	RegisteredAt   time.Time       `json:"registered_at"`
	Features       []FeatureReport `json:"features"`
}

// FeatureReport is one feature of a subject.
type FeatureReport struct {
	Name string `json:"name"`
	Type Type   `json:"type"`
	// State is Window.State: the last completed window's verdict.
	State      State      `json:"state"`
	Thresholds Thresholds `json:"thresholds"`
	// Window is the last completed window, the one that counts for
	// alerts; Current the window in progress; SinceStart everything since
	// registration.
	Window     WindowReport `json:"window"`
	Current    WindowReport `json:"current"`
	SinceStart WindowReport `json:"since_start"`
}

// WindowReport is the comparison of one span of served values with the
// baseline.
type WindowReport struct {
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
	// Samples are the values counted in the bins; Total every
	// observation (values, NaN, nulls, NOT_FOUND, OUTSIDE_MAX_AGE).
	Samples       int64 `json:"samples"`
	Total         int64 `json:"total"`
	Nulls         int64 `json:"nulls"`
	NaN           int64 `json:"nan"`
	NotFound      int64 `json:"not_found"`
	OutsideMaxAge int64 `json:"outside_max_age"`
	// NullRate is (nulls + not_found + outside_max_age) / total and
	// NullRateDelta that minus the baseline's null fraction.
	NullRate          float64 `json:"null_rate"`
	NullRateDelta     float64 `json:"null_rate_delta"`
	NotFoundRate      float64 `json:"not_found_rate"`
	OutsideMaxAgeRate float64 `json:"outside_max_age_rate"`
	// Distances is absent without samples.
	Distances    *Distances   `json:"distances,omitempty"`
	Significance Significance `json:"significance"`
	State        State        `json:"state"`
	// Reasons say which metrics set the state ("ks 0.1 ≥ alert 0.08").
	Reasons   []string  `json:"reasons,omitempty"`
	Histogram Histogram `json:"histogram"`
}

// Distances between the served and baseline distributions over the
// baseline's bins. KS is set for numeric features, LInf for categorical.
type Distances struct {
	PSI  float64  `json:"psi"`
	JS   float64  `json:"js"`
	KS   *float64 `json:"ks,omitempty"`
	LInf *float64 `json:"linf,omitempty"`
}

// Significance holds the tests that keep noise from warning.
type Significance struct {
	// KSCritical is the KS critical value at α for the two sample sizes
	// (numeric features with samples).
	KSCritical *float64 `json:"ks_critical,omitempty"`
	// ChiSquare, ChiSquareDF, ChiSquareP: the chi-square test on the bins.
	ChiSquare   float64 `json:"chi_square"`
	ChiSquareDF int     `json:"chi_square_df"`
	ChiSquareP  float64 `json:"chi_square_p"`
	// NullP is the two-proportion z-test's p-value on the null rate.
	NullP *float64 `json:"null_p,omitempty"`
}

// Histogram is what a chart needs: for a numeric feature the bin edges
// (bin i is (Edges[i-1], Edges[i]], the first and last bins open), for a
// categorical one the categories, with one more bin last for "other";
// Baseline holds the baseline's mass per bin and Served the served counts.
type Histogram struct {
	Edges      []float64 `json:"edges,omitempty"`
	Categories []string  `json:"categories,omitempty"`
	Baseline   []float64 `json:"baseline"`
	Served     []int64   `json:"served"`
}

// maxReportBytes bounds what DecodeReport reads.
const maxReportBytes = 256 << 20

// DecodeReport reads a report as Snapshot's JSON encodes it, checking its
// shape: known states and types, histograms whose bins agree in number,
// non-negative counts. It never panics.
func DecodeReport(b []byte) (Report, error) {
	if len(b) > maxReportBytes {
		return Report{}, fmt.Errorf("%w: %d bytes, limit %d", ErrInvalidReport, len(b), maxReportBytes)
	}
	var r Report
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return Report{}, fmt.Errorf("%w: %v", ErrInvalidReport, err)
	}
	if dec.More() {
		return Report{}, fmt.Errorf("%w: data after the report", ErrInvalidReport)
	}
	if r.WindowSeconds < 0 || math.IsNaN(r.WindowSeconds) {
		return Report{}, fmt.Errorf("%w: window_seconds %v is negative", ErrInvalidReport, r.WindowSeconds)
	}
	for i := range r.Subjects {
		s := &r.Subjects[i]
		for j := range s.Features {
			f := &s.Features[j]
			for _, w := range []struct {
				name string
				w    *WindowReport
			}{{"window", &f.Window}, {"current", &f.Current}, {"since_start", &f.SinceStart}} {
				if err := w.w.check(); err != nil {
					return Report{}, fmt.Errorf("%w: subject[%d] %q feature[%d] %q %s: %v", ErrInvalidReport, i, s.Name, j, f.Name, w.name, err)
				}
			}
		}
	}
	return r, nil
}

func (w *WindowReport) check() error {
	for _, c := range []int64{w.Samples, w.Total, w.Nulls, w.NaN, w.NotFound, w.OutsideMaxAge} {
		if c < 0 {
			return fmt.Errorf("negative count %d", c)
		}
	}
	h := &w.Histogram
	if len(h.Served) != len(h.Baseline) {
		return fmt.Errorf("histogram has %d served bins for %d baseline bins", len(h.Served), len(h.Baseline))
	}
	switch {
	case len(h.Edges) > 0 && len(h.Categories) > 0:
		return fmt.Errorf("histogram has both edges and categories")
	case len(h.Edges) > 0 && len(h.Baseline) != len(h.Edges)+1:
		return fmt.Errorf("histogram has %d bins for %d edges", len(h.Baseline), len(h.Edges))
	case len(h.Categories) > 0 && len(h.Baseline) != len(h.Categories)+1:
		return fmt.Errorf("histogram has %d bins for %d categories (+ other)", len(h.Baseline), len(h.Categories))
	}
	for _, c := range h.Served {
		if c < 0 {
			return fmt.Errorf("negative served count %d", c)
		}
	}
	return nil
}
