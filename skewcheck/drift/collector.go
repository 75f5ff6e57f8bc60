package drift

import (
	"github.com/prometheus/client_golang/prometheus"
)

var (
	descDistance = prometheus.NewDesc("fstore_skew_distance",
		"Distance between served values and the training baseline (metric: psi, js, ks, linf, null_rate_delta, not_found_rate, outside_max_age_rate; window: window (last completed), current, since_start).",
		[]string{"kind", "subject", "feature", "metric", "window"}, nil)
	descState = prometheus.NewDesc("fstore_skew_state",
		"Skew state of the last completed window: 0 ok, 1 warn, 2 alert, -1 insufficient data; feature=\"\" for the subject as a whole.",
		[]string{"kind", "subject", "feature"}, nil)
	descSamples = prometheus.NewDesc("fstore_skew_samples",
		"Served values counted in the baseline's bins.",
		[]string{"kind", "subject", "feature", "window"}, nil)
	descAlerts = prometheus.NewDesc("fstore_skew_alerts_total",
		"Times a subject (feature=\"\") or feature entered alert at a window's close.",
		[]string{"kind", "subject", "feature"}, nil)
)

// Collector returns a prometheus.Collector exporting the monitor's state:
// fstore_skew_distance, fstore_skew_state, fstore_skew_samples and
// fstore_skew_alerts_total. Each scrape takes a Snapshot.
func (m *Monitor) Collector() prometheus.Collector { return collector{m} }

type collector struct{ m *Monitor }

func (c collector) Describe(ch chan<- *prometheus.Desc) { Describe(ch) }

// Describe sends the descriptors of every monitor's metrics, for a
// collector that gathers several monitors.
func Describe(ch chan<- *prometheus.Desc) {
	ch <- descDistance
	ch <- descState
	ch <- descSamples
	ch <- descAlerts
}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	r := c.m.Snapshot()
	for _, s := range r.Subjects {
		ch <- prometheus.MustNewConstMetric(descState, prometheus.GaugeValue, s.State.MetricValue(), s.Kind, s.Name, "")
		for _, f := range s.Features {
			ch <- prometheus.MustNewConstMetric(descState, prometheus.GaugeValue, f.State.MetricValue(), s.Kind, s.Name, f.Name)
			for _, w := range []struct {
				name string
				w    *WindowReport
			}{{"window", &f.Window}, {"current", &f.Current}, {"since_start", &f.SinceStart}} {
				ch <- prometheus.MustNewConstMetric(descSamples, prometheus.GaugeValue, float64(w.w.Samples), s.Kind, s.Name, f.Name, w.name)
				put := func(metric string, v float64) {
					ch <- prometheus.MustNewConstMetric(descDistance, prometheus.GaugeValue, v, s.Kind, s.Name, f.Name, metric, w.name)
				}
				if w.w.Total > 0 {
					put("null_rate_delta", w.w.NullRateDelta)
					put("not_found_rate", w.w.NotFoundRate)
					put("outside_max_age_rate", w.w.OutsideMaxAgeRate)
				}
				if d := w.w.Distances; d != nil {
					put("psi", d.PSI)
					put("js", d.JS)
					if d.KS != nil {
						put("ks", *d.KS)
					}
					if d.LInf != nil {
						put("linf", *d.LInf)
					}
				}
			}
		}
	}
	for k, v := range c.m.alertCounts() {
		ch <- prometheus.MustNewConstMetric(descAlerts, prometheus.CounterValue, float64(v), k.kind, k.subject, k.feature)
	}
}
