package serve

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fstore/fstore/backfill"
	"github.com/fstore/fstore/compute"
	"github.com/fstore/fstore/examples/rides"
	"github.com/fstore/fstore/featurestore"
	"github.com/fstore/fstore/featurestore/def"
	"github.com/fstore/fstore/featurestore/registry"
	"github.com/fstore/fstore/skewcheck/drift"
	"github.com/fstore/fstore/skewcheck/featurelog"
)

// skewEnv is a server over the example whose trip_completion service logs
// every row and is monitored against the profile of a training set built
// from the example's spine.
type skewEnv struct {
	*testServer
	logDir string
	now    time.Time
	sk     *SkewConfig
}

func startSkew(t *testing.T, mutate func(svc *def.FeatureService)) *skewEnv {
	return startSkewWith(t, mutate, nil)
}

func startSkewWith(t *testing.T, mutate func(svc *def.FeatureService), setup func(cfg *Config)) *skewEnv {
	t.Helper()
	data := t.TempDir()
	if _, err := rides.Write(data, rides.Config{Drivers: 60, Riders: 120, Days: 3, SpineRows: 3000}); err != nil {
		t.Fatal(err)
	}
	p, origins, err := registry.LoadFiles([]string{data})
	if err != nil {
		t.Fatal(err)
	}
	d, err := registry.Compile(p, origins, compute.NewChecker())
	if err != nil {
		t.Fatal(err)
	}
	env := &skewEnv{now: rides.DefaultEnd, logDir: filepath.Join(t.TempDir(), "logs")}
	env.testServer = startServerWith(t, func(st *featurestore.Store, cfg *Config) {
		loadExample(t, st, st.Online(), d)
		out := filepath.Join(t.TempDir(), "train.parquet")
		if _, err := backfill.Run(context.Background(), backfill.Config{
			Snapshot: st.Registry().Latest(), Service: "trip_completion",
			Spine: filepath.Join(data, "data", "spine.parquet"), Out: out,
		}); err != nil {
			t.Fatal(err)
		}
		for _, svc := range d.FeatureServices {
			if svc.Name != "trip_completion" {
				continue
			}
			min := int64(50)
			svc.Logging = def.LoggingConfig{SampleRate: 1, Destination: env.logDir}
			svc.Monitoring = def.MonitoringConfig{Enabled: true, Baseline: out + ".profile.json", Thresholds: def.DriftThresholds{MinSamples: &min}}
			if mutate != nil {
				mutate(svc)
			}
		}
		if _, err := st.Registry().Apply(d, registry.ApplyOptions{}); err != nil {
			t.Fatal(err)
		}
		cfg.Now = func() time.Time { return env.now }
		if setup != nil {
			setup(cfg)
		}
		env.sk = &cfg.Skew
	})
	return env
}

// completionBody is a trip_completion request for n drivers.
func completionBody(n int) string {
	var drivers, riders, dist, surge []string
	for i := 0; i < n; i++ {
		drivers = append(drivers, fmt.Sprint(1001+i%60))
		riders = append(riders, fmt.Sprint(1+i%120))
		dist = append(dist, fmt.Sprintf("%.1f", 1+float64(i%30)))
		surge = append(surge, "1.2")
	}
	return fmt.Sprintf(`{"feature_service": "trip_completion", "full_feature_names": true, "entities": {"driver_id": [%s], "rider_id": [%s]}, "request_context": {"distance_km": [%s], "surge": [%s]}}`,
		strings.Join(drivers, ","), strings.Join(riders, ","), strings.Join(dist, ","), strings.Join(surge, ","))
}

// TestSkewMonitorAndLog: every served row of a monitored, logged service
// is counted by the monitor (exactly: the sample rate is 1) and written to
// the feature log with the values the response carried.
func TestSkewMonitorAndLog(t *testing.T) {
	env := startSkew(t, nil)
	const reqs, n = 3, 40
	var served []feastResponse
	for i := 0; i < reqs; i++ {
		code, body := post(t, env.httpURL+"/get-online-features", completionBody(n))
		if code != 200 {
			t.Fatalf("request %d: %d %s", i, code, body)
		}
		var r feastResponse
		if err := json.Unmarshal(body, &r); err != nil {
			t.Fatal(err)
		}
		served = append(served, r)
	}
	code, body := httpGetBytes(t, env.httpURL+"/v1/skew")
	if code != 200 {
		t.Fatalf("/v1/skew: %d %s", code, body)
	}
	rep, err := drift.DecodeReport(body)
	if err != nil {
		t.Fatalf("/v1/skew does not decode: %v\n%s", err, body)
	}
	var subj *drift.SubjectReport
	for i := range rep.Subjects {
		if rep.Subjects[i].Kind == drift.KindFeatureService && rep.Subjects[i].Name == "trip_completion" {
			subj = &rep.Subjects[i]
		}
	}
	if subj == nil {
		t.Fatalf("trip_completion is not monitored: %s", body)
	}
	if want := len(served[0].Metadata.FeatureNames) - 2; len(subj.Features) != want { // less the two join keys
		t.Errorf("%d features monitored, want %d", len(subj.Features), want)
	}
	for _, f := range subj.Features {
		if got := f.Current.Total + f.Window.Total; got != reqs*n {
			t.Errorf("feature %s: %d observations, want %d", f.Name, got, reqs*n)
		}
	}
	code, metrics := httpGetBytes(t, env.httpURL+"/metrics")
	for _, want := range []string{`fstore_skew_state{feature="",kind="feature_service",subject="trip_completion"}`, `fstore_feature_log_rows_total{result="dropped_queue_full"} 0`} {
		if code != 200 || !strings.Contains(string(metrics), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}

	env.stop() // closes the loggers: every row is in a published file
	files, err := featurelog.List(env.logDir, time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	rows := 0
	var conv []any
	for _, fi := range files {
		f, err := featurelog.ReadFile(fi.Path)
		if err != nil {
			t.Fatal(err)
		}
		if f.Meta.Service != "trip_completion" {
			t.Errorf("%s: service %q", fi.Path, f.Meta.Service)
		}
		for _, fc := range f.Features {
			if fc.Name != "driver_hourly__conv_rate" {
				continue
			}
			for i := 0; i < f.Rows; i++ {
				if fc.Value.Null(i) {
					conv = append(conv, nil)
				} else {
					conv = append(conv, fc.Value.F64[i])
				}
			}
		}
		for i := 0; i < f.Rows; i++ {
			if f.RequestTS[i] != env.now.UnixMicro() {
				t.Fatalf("request_ts %d, want the request's time %d", f.RequestTS[i], env.now.UnixMicro())
			}
		}
		rows += f.Rows
	}
	if rows != reqs*n {
		t.Fatalf("%d rows logged, want %d", rows, reqs*n)
	}
	// The logged values are the served ones, in order.
	col := -1
	for i, name := range served[0].Metadata.FeatureNames {
		if name == "driver_hourly__conv_rate" {
			col = i
		}
	}
	var want []any
	for _, r := range served {
		want = append(want, r.Results[col].Values...)
	}
	if fmt.Sprint(conv) != fmt.Sprint(want) {
		t.Fatalf("logged conv_rate\n%v\nserved\n%v", conv, want)
	}
}

// TestSkewUnwritableLog: a destination that cannot be written never fails
// or delays a request; the failure is counted.
func TestSkewUnwritableLog(t *testing.T) {
	var blocked string
	env := startSkew(t, func(svc *def.FeatureService) {
		blocked = filepath.Join(t.TempDir(), "a-file")
		if err := os.WriteFile(blocked, []byte("not a directory"), 0o644); err != nil {
			t.Fatal(err)
		}
		svc.Logging.Destination = filepath.Join(blocked, "logs")
	})
	for i := 0; i < 5; i++ {
		if code, body := post(t, env.httpURL+"/get-online-features", completionBody(10)); code != 200 {
			t.Fatalf("request %d with an unwritable log: %d %s", i, code, body)
		}
	}
	// The rows reach the writer, which fails to create the file.
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, m := httpGetBytes(t, env.httpURL+"/metrics")
		if !strings.Contains(string(m), "fstore_feature_log_write_errors_total 0") && strings.Contains(string(m), "fstore_feature_log_write_errors_total") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no write error counted:\n%s", grepLines(string(m), "fstore_feature_log"))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

func httpGetBytes(t *testing.T, url string) (int, []byte) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b
}

// TestSkewSubscription: a subscriber learns when a feature service enters
// alert, at the close of the window whose served values drifted.
func TestSkewSubscription(t *testing.T) {
	var mu sync.Mutex
	clock := time.Date(2026, 1, 8, 12, 0, 1, 0, time.UTC)
	now := func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
	events := make(chan drift.Event, 100)
	env := startSkewWith(t, nil, func(cfg *Config) {
		cfg.Skew.Now = now
		cfg.Skew.Listeners = []drift.Listener{drift.ListenerFunc(func(e drift.Event) { events <- e })}
	})
	// Trips of 1 to 30 km at surge 1.2 for every request: far from the
	// training requests' distances and surges.
	for i := 0; i < 5; i++ {
		if code, body := post(t, env.httpURL+"/get-online-features", completionBody(60)); code != 200 {
			t.Fatalf("%d %s", code, body)
		}
	}
	mu.Lock()
	clock = clock.Add(5 * time.Minute)
	mu.Unlock()
	httpGetBytes(t, env.httpURL+"/v1/skew") // closes the window
	deadline := time.After(10 * time.Second)
	for {
		select {
		case e := <-events:
			if e.Kind == drift.KindFeatureService && e.Subject == "trip_completion" && e.Feature == "" && e.To == drift.Alert {
				if e.From == drift.Alert || e.Summary == "" {
					t.Fatalf("event %+v", e)
				}
				return
			}
		case <-deadline:
			t.Fatal("no alert event for trip_completion")
		}
	}
}

// TestRowSampler: below the target every row is observed; above it, a
// window observes on the order of the target whatever the traffic, spread
// over the window, not bunched at its start.
func TestRowSampler(t *testing.T) {
	const window = 5 * time.Minute
	for _, c := range []struct {
		name      string
		requests  int
		n         int
		lo, hi    int
		wantEvery bool
	}{
		{"quiet", 50, 10, 500, 500, true},
		{"busy", 30_000, 100, 16_000, 30_000, false},
		{"very busy", 120_000, 100, 16_000, 30_000, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			var s rowSampler
			s.init(window, 20_000)
			start := time.Date(2026, 1, 8, 12, 0, 0, 0, time.UTC).UnixNano()
			start -= start % int64(window)
			observed, late := 0, 0
			var rows []int32
			// The first window learns the traffic; the second is measured.
			for q := 0; q < c.requests; q++ {
				s.rows(rows[:0], start+int64(q)*int64(window)/int64(c.requests), c.n)
			}
			start += int64(window)
			for q := 0; q < c.requests; q++ {
				now := start + int64(q)*int64(window)/int64(c.requests)
				rows = s.rows(rows[:0], now, c.n)
				prev := int32(-1)
				for _, i := range rows {
					if i <= prev || int(i) >= c.n {
						t.Fatalf("rows %v not increasing within [0, %d)", rows, c.n)
					}
					prev = i
				}
				observed += len(rows)
				if q >= c.requests/2 {
					late += len(rows)
				}
			}
			if observed < c.lo || observed > c.hi {
				t.Errorf("%d rows observed in a window of %d, want [%d, %d]", observed, c.requests*c.n, c.lo, c.hi)
			}
			if c.wantEvery && observed != c.requests*c.n {
				t.Errorf("quiet traffic: %d of %d rows observed", observed, c.requests*c.n)
			}
			if !c.wantEvery && (late < observed*2/5 || late > observed*3/5) {
				t.Errorf("the window's second half got %d of %d observations", late, observed)
			}
		})
	}
}
