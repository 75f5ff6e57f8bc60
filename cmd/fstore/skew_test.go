package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fstore/fstore/skewcheck/drift"
)

// serveInProcess runs `fstore serve` with args until the returned stop is
// called (which flushes the feature logs).
func serveInProcess(t *testing.T, args ...string) (base string, stop func()) {
	t.Helper()
	httpAddr, grpcAddr := freePort(t), freePort(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan result, 1)
	go func() {
		var out, errb bytes.Buffer
		all := append(append([]string{}, args...), "serve", "--http", httpAddr, "--grpc", grpcAddr, "--log-format", "json")
		code := run(ctx, all, &out, &errb)
		done <- result{code, out.String(), errb.String()}
	}()
	base = "http://" + httpAddr
	waitReady(t, base+"/readyz", done)
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		http.DefaultClient.CloseIdleConnections()
		cancel()
		select {
		case r := <-done:
			if r.code != 0 {
				t.Errorf("serve exited %d: %s", r.code, r.stderr)
			}
		case <-time.After(30 * time.Second):
			t.Error("serve did not stop")
		}
	}
	t.Cleanup(stop)
	return base, stop
}

func postJSON(t *testing.T, url, body string) string {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	b.ReadFrom(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("POST %s: %d %s", url, resp.StatusCode, b.String())
	}
	return b.String()
}

// quickstartRequests are trip_completion rows for n drivers from 1001 on,
// with driver 1001 always asked with rider 7.
func quickstartRequests(n int) (features, predict string) {
	var drivers, riders, dist, surge []string
	for i := 0; i < n; i++ {
		drivers = append(drivers, fmt.Sprint(1001+i))
		riders = append(riders, fmt.Sprint(7+i))
		dist = append(dist, fmt.Sprintf("%.1f", 1.5+float64(i%20)))
		surge = append(surge, fmt.Sprintf("%.1f", 1+float64(i%3)/2))
	}
	ents := fmt.Sprintf(`"entities": {"driver_id": [%s], "rider_id": [%s]}, "request_context": {"distance_km": [%s], "surge": [%s]}`,
		strings.Join(drivers, ","), strings.Join(riders, ","), strings.Join(dist, ","), strings.Join(surge, ","))
	return `{"feature_service": "trip_completion", ` + ents + `}`, `{"model": "completion", ` + ents + `}`
}

type replayJSON struct {
	Rows  int64 `json:"rows"`
	Total struct {
		Compared, Match, Mismatch int64
		ServedOnly                int64 `json:"served_only"`
		OfflineOnly               int64 `json:"offline_only"`
	} `json:"total"`
	Groups []struct {
		Worst []struct {
			Keys []struct {
				Name  string  `json:"name"`
				Value *string `json:"value"`
			} `json:"keys"`
			Rows int64 `json:"rows"`
		} `json:"worst_entities"`
	} `json:"groups"`
}

// TestSkewQuickstart: the quickstart's data, a trained model and a
// server; its served traffic is monitored against the model's training
// set (features and predictions), shown by skew status and report, and
// its logged rows replay with no mismatch at all. A push the offline
// source lacks is then reported for exactly the rows that served it.
func TestSkewQuickstart(t *testing.T) {
	tmp := t.TempDir()
	dataDir := filepath.Join(tmp, "data")
	data := "--data-dir=" + dataDir
	qs := filepath.Join(tmp, "qs")
	mustRun(t, data, "-q", "quickstart", "--dir", qs)
	mustRun(t, data, "-q", "train", "--dataset", filepath.Join(qs, "train.parquet"), "--label", "completed", "--model", "completion", "--arch", "logreg", "--epochs", "2", "--seed", "7")

	base, stop := serveInProcess(t, data, "--as-of", "2026-01-08T00:00:00Z")
	features, predict := quickstartRequests(300)
	postJSON(t, base+"/get-online-features", features)
	postJSON(t, base+"/v1/predict", predict)

	rep, err := drift.DecodeReport([]byte(get(t, base+"/v1/skew")))
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]drift.SubjectReport{}
	for _, s := range rep.Subjects {
		kinds[s.Kind+" "+s.Name] = s
	}
	svc, ok := kinds["feature_service trip_completion"]
	if !ok || !strings.Contains(svc.BaselineSource, "model completion v1") {
		t.Fatalf("trip_completion not monitored against the model's training set: %+v", kinds)
	}
	if _, ok := kinds["model_version completion/v1"]; !ok {
		t.Fatalf("the model's predictions are not monitored: %+v", kinds)
	}
	for _, f := range svc.Features {
		// Features the model reads are seen twice (feature request and
		// predict); the others once.
		if n := f.Current.Total + f.Window.Total; n != 300 && n != 600 {
			t.Errorf("feature %s: %d observations, want 300 or 600", f.Name, n)
		}
	}
	r := mustRun(t, data, "skew", "status")
	if !strings.Contains(r.stdout, "feature service trip_completion") || !strings.Contains(r.stdout, "model version completion/v1") || !strings.Contains(r.stdout, "driver_hourly__conv_rate") {
		t.Fatalf("skew status:\n%s", r.stdout)
	}
	html := filepath.Join(tmp, "skew.html")
	mustRun(t, data, "skew", "report", "--html", html)
	if b, err := os.ReadFile(html); err != nil || !bytes.Contains(b, []byte("trip_completion")) {
		t.Fatalf("report: %v", err)
	}
	stop()

	logs := filepath.Join(dataDir, "feature_logs")
	r = mustRun(t, data, "-o", "json", "skew", "replay", "--logs", logs)
	var clean replayJSON
	if err := json.Unmarshal([]byte(r.stdout), &clean); err != nil {
		t.Fatalf("%v\n%s", err, r.stdout)
	}
	if clean.Rows != 600 || clean.Total.Compared == 0 || clean.Total.Match != clean.Total.Compared {
		t.Fatalf("replay of the quickstart's traffic: %+v\n%s", clean, r.stdout)
	}

	// Skew injected: a live event that the batch source does not have.
	// Every row serving driver 1001 after it disagrees; no other does.
	logs2 := filepath.Join(tmp, "logs2")
	base, stop = serveInProcess(t, data, "--as-of", "2026-01-08T00:00:00Z", "--feature-log-dir", logs2)
	postJSON(t, base+"/push", `{"push_source_name": "trips_live", "to": "online", "df": {"trip_id": [900001], "driver_id": [1001], "rider_id": [7], "event_ts": ["2026-01-07 23:55:00"], "fare": [42.0], "completed": [true]}}`)
	for i := 0; i < 3; i++ {
		postJSON(t, base+"/get-online-features", features)
	}
	stop()
	r = fstore(t, data, "-o", "json", "skew", "replay", "--logs", logs2)
	if r.code != 1 {
		t.Fatalf("replay with injected skew: exit %d, want 1\n%s%s", r.code, r.stdout, r.stderr)
	}
	var skewed replayJSON
	if err := json.Unmarshal([]byte(r.stdout), &skewed); err != nil {
		t.Fatalf("%v\n%s", err, r.stdout)
	}
	if skewed.Rows != 900 || len(skewed.Groups) != 1 || len(skewed.Groups[0].Worst) != 1 {
		t.Fatalf("injected skew: %+v\n%s", skewed, r.stdout)
	}
	w := skewed.Groups[0].Worst[0]
	if w.Rows != 3 || len(w.Keys) == 0 || w.Keys[0].Value == nil || *w.Keys[0].Value != "1001" {
		t.Fatalf("injected skew: want exactly driver 1001's 3 rows, got %+v", w)
	}
}
