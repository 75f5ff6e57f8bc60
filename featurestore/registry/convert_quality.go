package registry

import (
	"github.com/fstore/fstore/featurestore/def"
	fstorev1 "github.com/fstore/fstore/proto/fstore/v1"
)

func optF(p *float64) *float64 {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}

func optI(p *int64) *int64 {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}

func expectToDef(p *fstorev1.FeatureExpectation) *def.Expectation {
	if p == nil {
		return nil
	}
	e := &def.Expectation{
		Min: optF(p.Min), Max: optF(p.Max), MaxNullFraction: optF(p.MaxNullFraction),
		AllowedValues: append([]string(nil), p.GetAllowedValues()...),
		MaxDistinct:   p.GetMaxDistinct(), NotNaN: p.GetNotNan(),
	}
	if len(e.AllowedValues) == 0 {
		e.AllowedValues = nil
	}
	return e
}

func expectFromDef(e *def.Expectation) *fstorev1.FeatureExpectation {
	if e == nil {
		return nil
	}
	p := &fstorev1.FeatureExpectation{
		Min: optF(e.Min), Max: optF(e.Max), MaxNullFraction: optF(e.MaxNullFraction),
		AllowedValues: append([]string(nil), e.AllowedValues...), NotNan: e.NotNaN,
	}
	if e.MaxDistinct != 0 {
		d := e.MaxDistinct
		p.MaxDistinct = &d
	}
	return p
}

func thresholdsToDef(p *fstorev1.DriftThresholds) def.DriftThresholds {
	if p == nil {
		return def.DriftThresholds{}
	}
	return def.DriftThresholds{
		PSIWarn: optF(p.PsiWarn), PSIAlert: optF(p.PsiAlert),
		JSWarn: optF(p.JsWarn), JSAlert: optF(p.JsAlert),
		KSWarn: optF(p.KsWarn), KSAlert: optF(p.KsAlert),
		LInfWarn: optF(p.LinfWarn), LInfAlert: optF(p.LinfAlert),
		NullRateWarn: optF(p.NullRateWarn), NullRateAlert: optF(p.NullRateAlert),
		MinSamples: optI(p.MinSamples),
	}
}

func thresholdsFromDef(t def.DriftThresholds) *fstorev1.DriftThresholds {
	if t == (def.DriftThresholds{}) {
		return nil
	}
	return &fstorev1.DriftThresholds{
		PsiWarn: optF(t.PSIWarn), PsiAlert: optF(t.PSIAlert),
		JsWarn: optF(t.JSWarn), JsAlert: optF(t.JSAlert),
		KsWarn: optF(t.KSWarn), KsAlert: optF(t.KSAlert),
		LinfWarn: optF(t.LInfWarn), LinfAlert: optF(t.LInfAlert),
		NullRateWarn: optF(t.NullRateWarn), NullRateAlert: optF(t.NullRateAlert),
		MinSamples: optI(t.MinSamples),
	}
}

func monitoringToDef(p *fstorev1.FeatureMonitoringConfig) def.MonitoringConfig {
	if p == nil {
		return def.MonitoringConfig{}
	}
	m := def.MonitoringConfig{
		Enabled: p.GetEnabled(), Window: durToDef(p.GetWindow()), Baseline: p.GetBaseline(),
		Thresholds: thresholdsToDef(p.GetThresholds()),
	}
	for k, v := range p.GetFeatureThresholds() {
		if m.FeatureThresholds == nil {
			m.FeatureThresholds = map[string]def.DriftThresholds{}
		}
		m.FeatureThresholds[k] = thresholdsToDef(v)
	}
	return m
}

func monitoringFromDef(m def.MonitoringConfig) *fstorev1.FeatureMonitoringConfig {
	if !m.Enabled && m.Window == 0 && m.Baseline == "" && m.Thresholds == (def.DriftThresholds{}) && len(m.FeatureThresholds) == 0 {
		return nil
	}
	p := &fstorev1.FeatureMonitoringConfig{
		Enabled: m.Enabled, Window: durFromDef(m.Window), Baseline: m.Baseline,
		Thresholds: thresholdsFromDef(m.Thresholds),
	}
	for k, v := range m.FeatureThresholds {
		if p.FeatureThresholds == nil {
			p.FeatureThresholds = map[string]*fstorev1.DriftThresholds{}
		}
		t := thresholdsFromDef(v)
		if t == nil {
			t = &fstorev1.DriftThresholds{}
		}
		p.FeatureThresholds[k] = t
	}
	return p
}
