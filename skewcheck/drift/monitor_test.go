package drift

import (
	"encoding/json"
	"errors"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// clock is a settable Now.
type clock struct{ ns atomic.Int64 }

func (c *clock) now() time.Time      { return time.Unix(0, c.ns.Load()).UTC() }
func (c *clock) set(t time.Time)     { c.ns.Store(t.UnixNano()) }
func (c *clock) add(d time.Duration) { c.ns.Add(int64(d)) }

var t0 = time.Date(2026, 1, 8, 12, 0, 0, 0, time.UTC) // a multiple of 5 minutes

func testBaselines(t *testing.T) (Baseline, Baseline) {
	r := rand.New(rand.NewPCG(1, 2))
	return numericBaseline(t, r, 100_000), categoricalBaseline(r, 100_000)
}

func newTestMonitor(t *testing.T, c *clock) (*Monitor, *Subject) {
	t.Helper()
	m, err := NewMonitor(&Options{Window: time.Minute, Now: c.now, CheckInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	num, cat := testBaselines(t)
	s, err := m.Register(SubjectSpec{
		Kind: KindFeatureService, Name: "driver_ranking", BaselineSource: "train.parquet@v3",
		Features: []FeatureSpec{
			{Name: "driver_hourly__conv_rate", Type: Float64, Baseline: num},
			{Name: "driver_hourly__city", Type: String, Baseline: cat},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return m, s
}

func serveNormal(f *Feature, r *rand.Rand, n int, shift float64) {
	for range n {
		f.ObserveFloat(r.NormFloat64() + shift)
	}
}

func serveCats(f *Feature, r *rand.Rand, n int, shares []float64) {
	for range n {
		f.ObserveString(drawCategory(r, shares))
	}
}

func TestMonitorWindows(t *testing.T) {
	var c clock
	c.set(t0.Add(10 * time.Second))
	m, s := newTestMonitor(t, &c)
	num, cat := s.Feature("driver_hourly__conv_rate"), s.Feature("driver_hourly__city")
	if num == nil || cat == nil || s.Feature("nope") != nil {
		t.Fatal("Feature lookup")
	}
	r := rand.New(rand.NewPCG(3, 4))

	// Window 0: 5,000 values, 100 nulls.
	serveNormal(num, r, 5000, 0)
	for range 100 {
		num.ObserveStatus(StatusNotFound)
	}
	rep := m.Snapshot()
	f := rep.Subjects[0].Features[0]
	if f.Current.Samples != 5000 || f.Current.NotFound != 100 || f.Window.Total != 0 || f.SinceStart.Samples != 5000 {
		t.Fatalf("window 0: current %d/%d window %d since %d", f.Current.Samples, f.Current.NotFound, f.Window.Total, f.SinceStart.Samples)
	}
	if f.State != InsufficientData || rep.Subjects[0].State != InsufficientData {
		t.Errorf("no completed window: state %v, subject %v", f.State, rep.Subjects[0].State)
	}

	// Window 1: Snapshot closes window 0.
	c.add(time.Minute)
	m.Snapshot()
	serveNormal(num, r, 3000, 0)
	rep = m.Snapshot()
	f = rep.Subjects[0].Features[0]
	if f.Window.Samples != 5000 || f.Window.NotFound != 100 || f.Current.Samples != 3000 || f.SinceStart.Samples != 8000 {
		t.Fatalf("window 1: window %d current %d since %d", f.Window.Samples, f.Current.Samples, f.SinceStart.Samples)
	}
	if !f.Window.Start.Equal(t0) || !f.Window.End.Equal(t0.Add(time.Minute)) || !f.Current.Start.Equal(t0.Add(time.Minute)) {
		t.Errorf("window bounds %v–%v, current from %v", f.Window.Start, f.Window.End, f.Current.Start)
	}
	if f.State != OK {
		t.Errorf("window of 5,000 baseline values: %v %v", f.State, f.Window.Reasons)
	}
	// The categorical feature saw nothing: insufficient, and so is the
	// subject (never ok).
	if rep.Subjects[0].Features[1].State != InsufficientData || rep.Subjects[0].State != InsufficientData {
		t.Errorf("empty feature %v, subject %v", rep.Subjects[0].Features[1].State, rep.Subjects[0].State)
	}

	// Three windows later with nothing observed: the last completed window
	// is empty, since_start keeps everything.
	c.add(3 * time.Minute)
	rep = m.Snapshot()
	f = rep.Subjects[0].Features[0]
	if f.Window.Total != 0 || f.Current.Total != 0 || f.SinceStart.Samples != 8000 || f.SinceStart.NotFound != 100 {
		t.Fatalf("after a gap: window %d current %d since %d/%d", f.Window.Total, f.Current.Total, f.SinceStart.Samples, f.SinceStart.NotFound)
	}
	if !f.Window.Start.Equal(t0.Add(3 * time.Minute)) {
		t.Errorf("window after a gap starts %v", f.Window.Start)
	}
	// Histogram data for charts.
	if len(f.SinceStart.Histogram.Edges)+1 != len(f.SinceStart.Histogram.Baseline) || len(f.SinceStart.Histogram.Served) != len(f.SinceStart.Histogram.Baseline) {
		t.Errorf("histogram shape %d edges %d baseline %d served", len(f.SinceStart.Histogram.Edges), len(f.SinceStart.Histogram.Baseline), len(f.SinceStart.Histogram.Served))
	}
}

type recorder struct {
	mu sync.Mutex
	ev []Event
	ch chan struct{}
}

func (r *recorder) SkewStateChanged(e Event) {
	r.mu.Lock()
	r.ev = append(r.ev, e)
	r.mu.Unlock()
	r.ch <- struct{}{}
}

// wait waits for n more events.
func (r *recorder) wait(t *testing.T, n int) []Event {
	t.Helper()
	for range n {
		select {
		case <-r.ch:
		case <-time.After(10 * time.Second):
			t.Fatalf("timed out waiting for events; have %+v", r.ev)
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Event(nil), r.ev...)
}

func TestMonitorEvents(t *testing.T) {
	var c clock
	c.set(t0)
	m, s := newTestMonitor(t, &c)
	num, cat := s.Features()[0], s.Features()[1]
	rec := &recorder{ch: make(chan struct{}, 100)}
	unsubscribe := m.Subscribe(rec)
	r := rand.New(rand.NewPCG(5, 6))

	// Window 0 shifted by 0.25σ, categories as the baseline.
	serveNormal(num, r, 10_000, 0.25)
	serveCats(cat, r, 10_000, catShares)
	c.add(time.Minute)
	rep := m.Snapshot()
	if rep.State != Alert || rep.Subjects[0].Features[0].State != Alert || rep.Subjects[0].Features[1].State != OK {
		t.Fatalf("states: report %v, numeric %v, categorical %v", rep.State, rep.Subjects[0].Features[0].State, rep.Subjects[0].Features[1].State)
	}
	ev := rec.wait(t, 2)
	want := []Event{
		{Kind: KindFeatureService, Subject: "driver_ranking", Feature: "driver_hourly__conv_rate", From: InsufficientData, To: Alert},
		{Kind: KindFeatureService, Subject: "driver_ranking", Feature: "", From: InsufficientData, To: Alert},
	}
	for i, w := range want {
		e := ev[i]
		if e.Kind != w.Kind || e.Subject != w.Subject || e.Feature != w.Feature || e.From != w.From || e.To != w.To {
			t.Errorf("event %d: %+v, want %+v", i, e, w)
		}
		if !e.At.Equal(t0.Add(time.Minute)) || !e.WindowStart.Equal(t0) {
			t.Errorf("event %d at %v from %v", i, e.At, e.WindowStart)
		}
	}
	if !strings.Contains(ev[0].Summary, "ks") || !strings.Contains(ev[1].Summary, "driver_hourly__conv_rate: alert") {
		t.Errorf("summaries %q / %q", ev[0].Summary, ev[1].Summary)
	}

	// Window 1: back to the baseline, and the category doubles.
	serveNormal(num, r, 10_000, 0)
	serveCats(cat, r, 10_000, doubled())
	c.add(time.Minute)
	m.Snapshot()
	ev = rec.wait(t, 2)[2:]
	if ev[0].Feature != "driver_hourly__conv_rate" || ev[0].From != Alert || ev[0].To != OK ||
		ev[1].Feature != "driver_hourly__city" || ev[1].From != OK || ev[1].To != Alert {
		t.Errorf("window 1 events %+v", ev)
	}
	// The subject stays in alert: no subject event.
	select {
	case <-rec.ch:
		t.Errorf("unexpected event %+v", rec.ev[len(rec.ev)-1])
	case <-time.After(50 * time.Millisecond):
	}

	// Alerts counted for the collector: the numeric feature once, the
	// subject once, the categorical feature once.
	got := testutil.ToFloat64(alertCollector{m, alertKey{KindFeatureService, "driver_ranking", ""}})
	if got != 1 {
		t.Errorf("subject alerts_total %v, want 1", got)
	}

	// Unsubscribed: nothing more, though the state changes.
	unsubscribe()
	unsubscribe()
	c.add(time.Minute)
	m.Snapshot()
	time.Sleep(50 * time.Millisecond)
	rec.mu.Lock()
	n := len(rec.ev)
	rec.mu.Unlock()
	if n != 4 {
		t.Errorf("%d events after unsubscribing, want 4", n)
	}
}

// alertCollector exposes one alerts_total series for testutil.ToFloat64.
type alertCollector struct {
	m *Monitor
	k alertKey
}

func (a alertCollector) Describe(ch chan<- *prometheus.Desc) { ch <- descAlerts }
func (a alertCollector) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.MustNewConstMetric(descAlerts, prometheus.CounterValue, float64(a.m.alertCounts()[a.k]), a.k.kind, a.k.subject, a.k.feature)
}

// The monitor's goroutine closes windows by itself: with a real clock and
// a short window the listener hears of the alert without any Snapshot.
func TestMonitorBackgroundClose(t *testing.T) {
	num, _ := testBaselines(t)
	m, err := NewMonitor(&Options{Window: 100 * time.Millisecond, CheckInterval: 10 * time.Millisecond, Thresholds: Thresholds{MinSamples: 100}})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	s, err := m.Register(SubjectSpec{Kind: KindModelVersion, Name: "completion/v1", Features: []FeatureSpec{{Name: "prediction", Type: Float64, Baseline: num}}})
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan Event, 16)
	m.Subscribe(ListenerFunc(func(e Event) {
		m.Snapshot() // listeners may call back into the monitor
		got <- e
	}))
	f := s.Features()[0]
	deadline := time.After(10 * time.Second)
	for {
		for range 2000 {
			f.ObserveFloat(5) // far above the baseline's 99th percentile
		}
		select {
		case e := <-got:
			if e.To != Alert || e.Kind != KindModelVersion {
				t.Fatalf("event %+v", e)
			}
			return
		case <-deadline:
			t.Fatal("no event from the monitor's goroutine")
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func TestMonitorConcurrent(t *testing.T) {
	var c clock
	c.set(t0)
	m, s := newTestMonitor(t, &c)
	num, cat := s.Features()[0], s.Features()[1]
	const goroutines, per = 8, 2000
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range per {
				num.ObserveFloat(float64(i%7) - 3)
				cat.ObserveBytes([]byte(catValues[(g+i)%len(catValues)]))
				if i == per/2 && g == 0 {
					m.Snapshot()
				}
			}
		}()
	}
	wg.Wait()
	rep := m.Snapshot()
	for _, f := range rep.Subjects[0].Features {
		if f.Current.Samples != goroutines*per {
			t.Errorf("%s: %d samples counted, want %d", f.Name, f.Current.Samples, goroutines*per)
		}
	}
}

func TestRegisterErrors(t *testing.T) {
	var c clock
	c.set(t0)
	m, _ := newTestMonitor(t, &c)
	num, cat := testBaselines(t)
	cases := []struct {
		spec SubjectSpec
		want string
	}{
		{SubjectSpec{Kind: "model", Name: "x"}, `kind "model"`},
		{SubjectSpec{Kind: KindModelVersion}, "empty name"},
		{SubjectSpec{Kind: KindFeatureService, Name: "driver_ranking"}, "already registered"},
		{SubjectSpec{Kind: KindModelVersion, Name: "m", Features: []FeatureSpec{{Name: "a", Type: String, Baseline: num}}}, `feature[0] "a": a numeric baseline for type "string"`},
		{SubjectSpec{Kind: KindModelVersion, Name: "m", Features: []FeatureSpec{{Name: "a", Type: Float64, Baseline: cat}}}, `a categorical baseline for type "float64"`},
		{SubjectSpec{Kind: KindModelVersion, Name: "m", Features: []FeatureSpec{{Name: "a", Type: Float64}}}, "neither numeric nor categorical"},
		{SubjectSpec{Kind: KindModelVersion, Name: "m", Features: []FeatureSpec{{Name: "a", Type: Float64, Baseline: num}, {Name: "a", Type: Float64, Baseline: num}}}, `feature[1] "a": name repeats`},
		{SubjectSpec{Kind: KindModelVersion, Name: "m", Features: []FeatureSpec{{Name: "a", Type: Float64, Baseline: num, Thresholds: Thresholds{PSIWarn: 0.5}}}}, "psi warn level 0.5 is above its alert level 0.2"},
	}
	for _, c := range cases {
		_, err := m.Register(c.spec)
		if !errors.Is(err, ErrInvalidSubject) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: error %v, want one saying %q", c.spec, err, c.want)
		}
	}
	if !m.Unregister(KindFeatureService, "driver_ranking") || m.Unregister(KindFeatureService, "driver_ranking") {
		t.Error("Unregister")
	}
	if _, err := NewMonitor(&Options{Window: time.Microsecond}); !errors.Is(err, ErrInvalidOptions) {
		t.Errorf("a 1µs window: %v", err)
	}
	m.Close()
	if _, err := m.Register(SubjectSpec{Kind: KindModelVersion, Name: "late"}); !errors.Is(err, ErrClosed) {
		t.Errorf("Register after Close: %v", err)
	}
}

func TestCollector(t *testing.T) {
	var c clock
	c.set(t0)
	m, s := newTestMonitor(t, &c)
	r := rand.New(rand.NewPCG(7, 8))
	serveNormal(s.Features()[0], r, 10_000, 0.5)
	c.add(time.Minute)
	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(m.Collector()); err != nil {
		t.Fatal(err)
	}
	want := `
# HELP fstore_skew_state Skew state of the last completed window: 0 ok, 1 warn, 2 alert, -1 insufficient data; feature="" for the subject as a whole.
# TYPE fstore_skew_state gauge
fstore_skew_state{feature="",kind="feature_service",subject="driver_ranking"} 2
fstore_skew_state{feature="driver_hourly__city",kind="feature_service",subject="driver_ranking"} -1
fstore_skew_state{feature="driver_hourly__conv_rate",kind="feature_service",subject="driver_ranking"} 2
# HELP fstore_skew_alerts_total Times a subject (feature="") or feature entered alert at a window's close.
# TYPE fstore_skew_alerts_total counter
fstore_skew_alerts_total{feature="",kind="feature_service",subject="driver_ranking"} 1
fstore_skew_alerts_total{feature="driver_hourly__conv_rate",kind="feature_service",subject="driver_ranking"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "fstore_skew_state", "fstore_skew_alerts_total"); err != nil {
		t.Error(err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var ks, samples float64
	for _, mf := range mfs {
		for _, mt := range mf.GetMetric() {
			l := map[string]string{}
			for _, p := range mt.GetLabel() {
				l[p.GetName()] = p.GetValue()
			}
			if mf.GetName() == "fstore_skew_distance" && l["metric"] == "ks" && l["window"] == "window" {
				ks = mt.GetGauge().GetValue()
			}
			if mf.GetName() == "fstore_skew_samples" && l["window"] == "window" && l["feature"] == "driver_hourly__conv_rate" {
				samples = mt.GetGauge().GetValue()
			}
		}
	}
	if ks < 0.15 || samples != 10_000 { // a 0.5σ shift: D ≈ 0.197
		t.Errorf("ks %v samples %v", ks, samples)
	}
	if n := testutil.CollectAndCount(m.Collector(), "fstore_skew_distance"); n < 10 {
		t.Errorf("%d distance series", n)
	}
}

func TestReportJSON(t *testing.T) {
	var c clock
	c.set(t0)
	m, s := newTestMonitor(t, &c)
	r := rand.New(rand.NewPCG(9, 10))
	serveNormal(s.Features()[0], r, 2000, 0)
	serveCats(s.Features()[1], r, 2000, doubled())
	s.Features()[1].ObserveStatus(StatusNull)
	c.add(90 * time.Second)
	rep := m.Snapshot()
	b, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{`"generated_at"`, `"window_seconds":60`, `"kind":"feature_service"`, `"baseline_source":"train.parquet@v3"`,
		`"state":"alert"`, `"state":"insufficient_data"`, `"since_start"`, `"current"`, `"histogram"`, `"edges"`, `"categories"`, `"ks_critical"`, `"linf"`, `"psi_alert":0.2`} {
		if !strings.Contains(string(b), key) {
			t.Errorf("report JSON lacks %s", key)
		}
	}
	got, err := DecodeReport(b)
	if err != nil {
		t.Fatal(err)
	}
	b2, _ := json.Marshal(got)
	if string(b) != string(b2) {
		t.Errorf("round trip changed the report:\n%s\n%s", b, b2)
	}
	for _, bad := range []string{`{"subjects":[{"features":[{"window":{"histogram":{"baseline":[1],"served":[]}}}]}]}`, `{"state":"fine"}`, `{"x":1}`, `{} {}`, `[`} {
		if _, err := DecodeReport([]byte(bad)); !errors.Is(err, ErrInvalidReport) {
			t.Errorf("DecodeReport(%s): %v", bad, err)
		}
	}
}
