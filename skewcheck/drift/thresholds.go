package drift

import (
	"encoding/json"
	"fmt"
	"math"
)

// State is the verdict on a window: ok, warn, alert or insufficient_data.
// States order by severity as OK < InsufficientData < Warn < Alert, so the
// worst of several is their maximum; InsufficientData is never shown as ok.
type State uint8

const (
	// OK: enough samples, and no metric past its warn level (or none
	// significant).
	OK State = iota
	// InsufficientData: fewer served samples than MinSamples; never a pass.
	InsufficientData
	// Warn: a significant metric at or past its warn level.
	Warn
	// Alert: a significant metric at or past its alert level.
	Alert
)

var stateNames = [...]string{OK: "ok", InsufficientData: "insufficient_data", Warn: "warn", Alert: "alert"}

// String returns the state's JSON name.
func (s State) String() string {
	if int(s) < len(stateNames) {
		return stateNames[s]
	}
	return fmt.Sprintf("State(%d)", uint8(s))
}

// MetricValue is the state's Prometheus value: 0 ok, 1 warn, 2 alert,
// −1 insufficient data.
func (s State) MetricValue() float64 {
	switch s {
	case Warn:
		return 1
	case Alert:
		return 2
	case InsufficientData:
		return -1
	}
	return 0
}

// MarshalJSON writes the state's name.
func (s State) MarshalJSON() ([]byte, error) {
	if int(s) >= len(stateNames) {
		return nil, fmt.Errorf("drift: cannot encode state %d", uint8(s))
	}
	return json.Marshal(stateNames[s])
}

// UnmarshalJSON reads a state's name.
func (s *State) UnmarshalJSON(b []byte) error {
	var name string
	if err := json.Unmarshal(b, &name); err != nil {
		return fmt.Errorf("%w: state: %v", ErrInvalidReport, err)
	}
	st, err := ParseState(name)
	if err != nil {
		return err
	}
	*s = st
	return nil
}

// ParseState returns the state named name.
func ParseState(name string) (State, error) {
	for i, n := range stateNames {
		if n == name {
			return State(i), nil
		}
	}
	return OK, fmt.Errorf("%w: unknown state %q (want ok, warn, alert or insufficient_data)", ErrInvalidReport, name)
}

// Worst returns the more severe of a and b.
func Worst(a, b State) State { return max(a, b) }

// Thresholds are the levels at which a metric warns or alerts. A zero
// field takes its default; a negative level turns that metric's verdict
// off (it is still reported). A metric counts only when its test is
// significant at Alpha, so that sampling noise never warns or alerts.
//
// The defaults are chosen so that served traffic drawn from the baseline
// stays below alert in at least 99% of 10,000-sample windows while a mean
// shift of 0.25σ in a normal feature and a category whose share doubles
// from 0.1 to 0.2 alert in at least 95% of them (POWER.md has the
// measured rates). PSI, the usual industry index, barely moves for a
// 0.25σ shift (≈ 0.06 over percentile bins), so the KS statistic carries
// numeric detection: for a normal feature a shift of δσ gives
// D = 2Φ(δ/2) − 1, 0.0995 at δ = 0.25, and D's standard error at 10,000
// samples is about 0.005, so an alert level of 0.08 is crossed with near
// certainty while 0.05 (warn) is δ ≈ 0.125. L∞ carries categorical
// detection: doubling a 0.1 share moves it by 0.1, against a standard error
// of 0.004 at 10,000 samples; alert at 0.05 (warn 0.03) is half that.
// JS levels match PSI's (JS ≈ PSI / (8 ln 2) for small shifts).
type Thresholds struct {
	// PSIWarn, PSIAlert: population stability index. Default 0.1, 0.2.
	PSIWarn  float64 `json:"psi_warn"`
	PSIAlert float64 `json:"psi_alert"`
	// JSWarn, JSAlert: Jensen–Shannon divergence (base 2). Default 0.02,
	// 0.04.
	JSWarn  float64 `json:"js_warn"`
	JSAlert float64 `json:"js_alert"`
	// KSWarn, KSAlert: Kolmogorov–Smirnov D, numeric features. Default
	// 0.05, 0.08.
	KSWarn  float64 `json:"ks_warn"`
	KSAlert float64 `json:"ks_alert"`
	// LInfWarn, LInfAlert: largest share difference over the categories,
	// categorical features. Default 0.03, 0.05.
	LInfWarn  float64 `json:"linf_warn"`
	LInfAlert float64 `json:"linf_alert"`
	// NullWarn, NullAlert: |served null rate − baseline null fraction|,
	// where the served null rate counts null, NOT_FOUND and
	// OUTSIDE_MAX_AGE (the training set holds null for all three).
	// Default 0.05, 0.10.
	NullWarn  float64 `json:"null_warn"`
	NullAlert float64 `json:"null_alert"`
	// Alpha is the significance level of the tests (KS critical value,
	// chi-square on the bins, two-proportion z on the null rate).
	// Default 0.001.
	Alpha float64 `json:"alpha"`
	// MinSamples is the fewest served observations a window needs for a
	// verdict; below it the state is insufficient_data. Default 1000.
	MinSamples int64 `json:"min_samples"`
}

// DefaultThresholds returns the defaults documented on Thresholds.
func DefaultThresholds() Thresholds {
	return Thresholds{
		PSIWarn: 0.1, PSIAlert: 0.2,
		JSWarn: 0.02, JSAlert: 0.04,
		KSWarn: 0.05, KSAlert: 0.08,
		LInfWarn: 0.03, LInfAlert: 0.05,
		NullWarn: 0.05, NullAlert: 0.10,
		Alpha:      0.001,
		MinSamples: 1000,
	}
}

// Merge returns t with every non-zero field of over in its place: a
// feature's override on top of its monitor's thresholds.
func (t Thresholds) Merge(over Thresholds) Thresholds {
	pick := func(a *float64, b float64) {
		if b != 0 {
			*a = b
		}
	}
	pick(&t.PSIWarn, over.PSIWarn)
	pick(&t.PSIAlert, over.PSIAlert)
	pick(&t.JSWarn, over.JSWarn)
	pick(&t.JSAlert, over.JSAlert)
	pick(&t.KSWarn, over.KSWarn)
	pick(&t.KSAlert, over.KSAlert)
	pick(&t.LInfWarn, over.LInfWarn)
	pick(&t.LInfAlert, over.LInfAlert)
	pick(&t.NullWarn, over.NullWarn)
	pick(&t.NullAlert, over.NullAlert)
	pick(&t.Alpha, over.Alpha)
	if over.MinSamples != 0 {
		t.MinSamples = over.MinSamples
	}
	return t
}

// EnsureDefaults returns t with its zero fields set to the defaults.
func (t Thresholds) EnsureDefaults() Thresholds {
	return DefaultThresholds().Merge(t)
}

// Validate reports thresholds that cannot work.
func (t Thresholds) Validate() error {
	pairs := []struct {
		name        string
		warn, alert float64
	}{
		{"psi", t.PSIWarn, t.PSIAlert}, {"js", t.JSWarn, t.JSAlert}, {"ks", t.KSWarn, t.KSAlert},
		{"linf", t.LInfWarn, t.LInfAlert}, {"null", t.NullWarn, t.NullAlert},
	}
	for _, p := range pairs {
		if math.IsNaN(p.warn) || math.IsNaN(p.alert) {
			return fmt.Errorf("%w: %s levels are NaN", ErrInvalidThresholds, p.name)
		}
		if p.warn > 0 && p.alert > 0 && p.warn > p.alert {
			return fmt.Errorf("%w: %s warn level %v is above its alert level %v", ErrInvalidThresholds, p.name, p.warn, p.alert)
		}
	}
	if !(t.Alpha > 0 && t.Alpha < 1) {
		return fmt.Errorf("%w: alpha %v is outside (0, 1)", ErrInvalidThresholds, t.Alpha)
	}
	if t.MinSamples < 1 {
		return fmt.Errorf("%w: min samples %d, want at least 1", ErrInvalidThresholds, t.MinSamples)
	}
	return nil
}

// level returns the state of a significant effect x against warn and
// alert levels (a negative level is off).
func level(x, warn, alert float64) State {
	switch {
	case alert >= 0 && x >= alert:
		return Alert
	case warn >= 0 && x >= warn:
		return Warn
	}
	return OK
}
