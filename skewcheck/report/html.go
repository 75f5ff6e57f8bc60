package report

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"math"
	"strings"
	"time"

	"github.com/fstore/fstore/skewcheck/drift"
)

var (
	//go:embed assets/uPlot.iife.min.js
	uplotJS string
	//go:embed assets/uPlot.min.css
	uplotCSS string
)

// Options configures WriteHTML. A nil *Options means all defaults.
type Options struct {
	// Title heads the page. Default "fstore skew report".
	Title string
}

// EnsureDefaults returns o with unset fields set to their defaults.
func (o *Options) EnsureDefaults() *Options {
	var c Options
	if o != nil {
		c = *o
	}
	if c.Title == "" {
		c.Title = "fstore skew report"
	}
	return &c
}

// WriteHTML writes r as one self-contained HTML page to w.
func WriteHTML(w io.Writer, r drift.Report, opts *Options) error {
	o := opts.EnsureDefaults()
	p := buildPage(r, o)
	data, err := json.Marshal(p.charts)
	if err != nil {
		return fmt.Errorf("report: cannot encode the chart data: %w", err)
	}
	// json.Marshal escapes <, > and & (and U+2028/9), so no name can end
	// the script block the data goes into.
	p.Data = template.JS(data)
	p.Script = template.JS(uplotJS)
	p.Style = template.CSS(uplotCSS)
	if err := pageTemplate.Execute(w, p); err != nil {
		return fmt.Errorf("%w: %w", ErrWrite, err)
	}
	return nil
}

type page struct {
	Title       string
	GeneratedAt string
	Window      string
	State       drift.State
	Subjects    []subjectView
	Data        template.JS
	Script      template.JS
	Style       template.CSS
	ChartCount  int
	charts      []chart
}

type subjectView struct {
	Anchor, Kind, Name, Source string
	State                      drift.State
	Alert, Warn, Insufficient  []string
	Features                   []featureView
}

type featureView struct {
	Anchor, Name, Type string
	State              drift.State
	Chart              int
	ChartNote          string
	Rows               []metricRow
	Reasons            []string
	Window             string
}

type metricRow struct {
	Metric                 string
	Window, Current, Since string
	Warn, Alert            string
	WindowState            drift.State
}

// chart is what the page's script draws: for a numeric feature X holds
// the bin boundaries and the series are densities (share / width) per bin,
// the last repeated for the closing step; for a categorical one X indexes
// Labels and the series are shares.
type chart struct {
	Name    string      `json:"name"`
	Numeric bool        `json:"numeric"`
	X       []float64   `json:"x"`
	Labels  []string    `json:"labels,omitempty"`
	Series  [][]float64 `json:"series"`
	Names   []string    `json:"names"`
}

func buildPage(r drift.Report, o *Options) *page {
	p := &page{
		Title:       o.Title,
		GeneratedAt: r.GeneratedAt.UTC().Format(time.RFC3339),
		Window:      (time.Duration(r.WindowSeconds * float64(time.Second))).String(),
		State:       r.State,
	}
	for si, s := range r.Subjects {
		sv := subjectView{Anchor: fmt.Sprintf("s%d", si), Kind: s.Kind, Name: s.Name, Source: s.BaselineSource, State: s.State}
		for fi, f := range s.Features {
			switch f.State {
			case drift.Alert:
				sv.Alert = append(sv.Alert, f.Name)
			case drift.Warn:
				sv.Warn = append(sv.Warn, f.Name)
			case drift.InsufficientData:
				sv.Insufficient = append(sv.Insufficient, f.Name)
			}
			fv := featureView{
				Anchor: fmt.Sprintf("s%df%d", si, fi), Name: f.Name, Type: string(f.Type), State: f.State,
				Reasons: f.Window.Reasons,
				Window:  fmt.Sprintf("%s – %s", f.Window.Start.UTC().Format("2006-01-02 15:04:05"), f.Window.End.UTC().Format("15:04:05 MST")),
				Rows:    rows(&f),
				Chart:   len(p.charts),
			}
			c, note := makeChart(&f)
			fv.ChartNote = note
			p.charts = append(p.charts, c)
			sv.Features = append(sv.Features, fv)
		}
		p.Subjects = append(p.Subjects, sv)
	}
	p.ChartCount = len(p.charts)
	return p
}

func num(x float64) string {
	switch {
	case math.IsNaN(x):
		return "–"
	case x == 0:
		return "0"
	case math.Abs(x) >= 1000 || math.Abs(x) < 0.001:
		return fmt.Sprintf("%.3g", x)
	}
	return fmt.Sprintf("%.4f", x)
}

func level(x float64) string {
	if x < 0 {
		return "off"
	}
	return num(x)
}

func rows(f *drift.FeatureReport) []metricRow {
	ws := []*drift.WindowReport{&f.Window, &f.Current, &f.SinceStart}
	th := f.Thresholds
	pick := func(get func(*drift.WindowReport) (float64, bool)) [3]string {
		var out [3]string
		for i, w := range ws {
			out[i] = "–"
			if v, ok := get(w); ok {
				out[i] = num(v)
			}
		}
		return out
	}
	row := func(name string, vals [3]string, warn, alert string) metricRow {
		return metricRow{Metric: name, Window: vals[0], Current: vals[1], Since: vals[2], Warn: warn, Alert: alert}
	}
	count := func(get func(*drift.WindowReport) int64) [3]string {
		var out [3]string
		for i, w := range ws {
			out[i] = fmt.Sprint(get(w))
		}
		return out
	}
	dist := func(get func(*drift.Distances) *float64) [3]string {
		return pick(func(w *drift.WindowReport) (float64, bool) {
			if w.Distances == nil || get(w.Distances) == nil {
				return 0, false
			}
			return *get(w.Distances), true
		})
	}
	out := []metricRow{
		row("samples", count(func(w *drift.WindowReport) int64 { return w.Samples }), "", fmt.Sprintf("min %d", th.MinSamples)),
		row("PSI", dist(func(d *drift.Distances) *float64 { return &d.PSI }), level(th.PSIWarn), level(th.PSIAlert)),
		row("Jensen–Shannon", dist(func(d *drift.Distances) *float64 { return &d.JS }), level(th.JSWarn), level(th.JSAlert)),
	}
	if f.Window.Histogram.Edges != nil {
		out = append(out,
			row("KS D", dist(func(d *drift.Distances) *float64 { return d.KS }), level(th.KSWarn), level(th.KSAlert)),
			row("KS critical (α)", pick(func(w *drift.WindowReport) (float64, bool) {
				if w.Significance.KSCritical == nil {
					return 0, false
				}
				return *w.Significance.KSCritical, true
			}), "", num(th.Alpha)))
	} else {
		out = append(out, row("L∞", dist(func(d *drift.Distances) *float64 { return d.LInf }), level(th.LInfWarn), level(th.LInfAlert)))
	}
	rate := func(get func(*drift.WindowReport) float64) [3]string {
		return pick(func(w *drift.WindowReport) (float64, bool) { return get(w), w.Total > 0 })
	}
	out = append(out,
		row("χ² p-value", pick(func(w *drift.WindowReport) (float64, bool) {
			return w.Significance.ChiSquareP, w.Samples > 0
		}), "", "< "+num(th.Alpha)),
		row("null rate Δ", rate(func(w *drift.WindowReport) float64 { return w.NullRateDelta }), level(th.NullWarn), level(th.NullAlert)),
		row("NOT_FOUND rate", rate(func(w *drift.WindowReport) float64 { return w.NotFoundRate }), "", ""),
		row("OUTSIDE_MAX_AGE rate", rate(func(w *drift.WindowReport) float64 { return w.OutsideMaxAgeRate }), "", ""),
	)
	out[0].WindowState = f.Window.State
	return out
}

func shareOf(served []int64) []float64 {
	var t int64
	for _, c := range served {
		t += c
	}
	out := make([]float64, len(served))
	for i, c := range served {
		if t > 0 {
			out[i] = float64(c) / float64(t)
		}
	}
	return out
}

// makeChart turns a feature's histograms into chart data: baseline, the
// last completed window and everything since start.
func makeChart(f *drift.FeatureReport) (chart, string) {
	h := &f.Window.Histogram
	c := chart{Name: f.Name, Names: []string{"baseline", "last window", "since start"}}
	series := [][]float64{h.Baseline, shareOf(f.Window.Histogram.Served), shareOf(f.SinceStart.Histogram.Served)}
	note := fmt.Sprintf("last window: %d values; since start: %d", f.Window.Samples, f.SinceStart.Samples)
	if len(h.Edges) == 0 {
		c.Labels = append(append([]string(nil), h.Categories...), "(other)")
		for i := range c.Labels {
			c.X = append(c.X, float64(i))
		}
		c.Series = series
		return c, note + ". Bars: share of values per category."
	}
	c.Numeric = true
	e := h.Edges
	w0, wl := 1.0, 1.0
	if len(e) > 1 {
		w0, wl = e[1]-e[0], e[len(e)-1]-e[len(e)-2]
	}
	bounds := append(append([]float64{e[0] - w0}, e...), e[len(e)-1]+wl)
	c.X = bounds
	for _, s := range series {
		d := make([]float64, len(bounds))
		for i := 0; i+1 < len(bounds) && i < len(s); i++ {
			d[i] = s[i] / (bounds[i+1] - bounds[i])
		}
		d[len(d)-1] = d[len(d)-2]
		c.Series = append(c.Series, d)
	}
	return c, note + ". Steps: density (share ÷ bin width) over the baseline's quantile bins; the open outer bins are drawn as wide as their neighbours."
}

func stateClass(s drift.State) string { return strings.ReplaceAll(s.String(), "_", "-") }

func stateLabel(s drift.State) string {
	if s == drift.InsufficientData {
		return "insufficient data"
	}
	return s.String()
}

var pageTemplate = template.Must(template.New("page").Funcs(template.FuncMap{
	"class": stateClass, "label": stateLabel, "join": func(xs []string) string { return strings.Join(xs, ", ") },
}).Parse(pageHTML))
