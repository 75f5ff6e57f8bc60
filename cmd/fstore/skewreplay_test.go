package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/fstore/fstore/compute"
	"github.com/fstore/fstore/featurestore"
	"github.com/fstore/fstore/featurestore/def"
	"github.com/fstore/fstore/skewcheck/featurelog"
)

const replayDefs = `
entities { name: "e" join_keys { name: "k" type: INT64 } }
sources { name: "src" parquet { path: "src" } timestamp_column: "ts" }
sources { name: "live" push { batch_source: "src" } timestamp_column: "ts"
  schema { name: "k" type: INT64 } schema { name: "ts" type: TIMESTAMP }
  schema { name: "x" type: DOUBLE } }
feature_views {
  name: "v" entities: "e" source: "live" online: true
  features { name: "x" type: DOUBLE }
  aggregations { name: "cnt" function: COUNT window { seconds: 3600 } hop { seconds: 300 } }
}
feature_services { name: "svc" features: "v:*" }
`

type replayEvent struct {
	K  int64   `parquet:"k"`
	TS int64   `parquet:"ts,timestamp(microsecond)"`
	X  float64 `parquet:"x"`
}

// replayLogs applies definitions and a history of 4 entities, materialises
// it, and logs the rows served at two times into DIR/good; then pushes an
// event the history lacks for entity 2 and logs the same requests into
// DIR/bad, where entity 2's two rows disagree on both features (4 of 16
// values).
func replayLogs(t *testing.T, dir string) (data, good, bad string) {
	const minute = int64(time.Minute / time.Microsecond)
	t0 := int64(1_700_000_000_000_000) / (60 * minute) * (60 * minute)
	os.MkdirAll(filepath.Join(dir, "src"), 0o755)
	var rows []replayEvent
	for k := range int64(4) {
		for j := range int64(6) {
			rows = append(rows, replayEvent{K: k, TS: t0 + j*10*minute, X: float64(k*10+j) + 0.25})
		}
	}
	if err := parquet.WriteFile(filepath.Join(dir, "src", "part.parquet"), rows); err != nil {
		t.Fatal(err)
	}
	defs := filepath.Join(dir, "defs.textproto")
	os.WriteFile(defs, []byte(replayDefs), 0o644)
	data = filepath.Join(dir, "data")
	mustRun(t, "--data-dir", data, "apply", "-f", defs)

	st, err := featurestore.Open(data, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	snap := st.Registry().Latest()
	end := t0 + 50*minute
	if _, err := featurestore.Materialize(context.Background(), snap.Index, st.Online(), featurestore.MaterializeOptions{End: time.UnixMicro(end)}); err != nil {
		t.Fatal(err)
	}
	ov, err := featurestore.CompileOnline(snap.Index, snap.Index.FeatureView("v"))
	if err != nil {
		t.Fatal(err)
	}
	schema := featurelog.Schema{Service: "svc", RegistryVersion: snap.Version, Keys: []def.Field{{Name: "k", Type: def.Int64}}}
	for _, o := range ov.Outputs {
		schema.Features = append(schema.Features, def.Field{Name: "v__" + o.Name, Type: o.Type})
	}
	s, err := featurelog.NewSchema(schema)
	if err != nil {
		t.Fatal(err)
	}
	var keys compute.Column
	keys.Reset(def.Int64, 4)
	for k := range keys.I64 {
		keys.I64[k] = int64(k)
	}
	serve := func(logs string) {
		lg, err := featurelog.Open(featurelog.Options{Dir: logs})
		if err != nil {
			t.Fatal(err)
		}
		for _, ts := range []int64{end + 10*minute, end + 20*minute} {
			var res featurestore.ReadResult
			if err := featurestore.Read(context.Background(), st.Online(), ov, []*compute.Column{&keys}, 4, ts, &res); err != nil {
				t.Fatal(err)
			}
			b := featurelog.Acquire(s)
			for i := range 4 {
				row := b.AddRow(fmt.Sprintf("r%d-%d", ts, i), ts)
				b.SetKey(row, 0, &keys, i)
				for o := range ov.Outputs {
					b.SetFeature(row, o, &res.Values[o], i, res.Status[o][i], res.EventTS[i])
				}
			}
			lg.Submit(b)
		}
		if err := lg.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	good, bad = filepath.Join(dir, "good"), filepath.Join(dir, "bad")
	serve(good)
	eb := featurestore.NewEventBuilder(snap.Index.Source("live"))
	eb.AddRow()
	eb.SetInt64(0, 2)
	eb.SetInt64(1, end+5*minute)
	eb.SetDouble(2, -1)
	if _, err := featurestore.Push(context.Background(), st.Online(), ov, eb.Batch(), featurestore.PushOptions{}); err != nil {
		t.Fatal(err)
	}
	serve(bad)
	return data, good, bad
}

func TestSkewReplay(t *testing.T) {
	dir := t.TempDir()
	data, good, bad := replayLogs(t, dir)
	base := []string{"--data-dir", data, "skew", "replay", "--temp-dir", dir}

	r := mustRun(t, append(base, "--logs", good)...)
	for _, want := range []string{"service svc at registry version 1: 8 rows from 1 files", "v__x", "v__cnt", "total: 8 rows, 16 values compared, 0 disagree"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("table lacks %q:\n%s", want, r.stdout)
		}
	}

	// Above the default --max-mismatch 0: exit 1, a one-line reason, the
	// table on stdout and the JSON in --out.
	out := filepath.Join(dir, "report.json")
	r = fstore(t, append(base, "--logs", bad, "--out", out)...)
	if r.code != exitError || r.stderr != "fstore: skew replay: mismatch rate 0.25 (4 of 16 values) is above --max-mismatch 0\n" {
		t.Fatalf("bad logs: exit %d, stderr %q", r.code, r.stderr)
	}
	if !strings.Contains(r.stdout, "k=2") || !strings.Contains(r.stdout, "served -1 (PRESENT)") {
		t.Errorf("table lacks the worst entity:\n%s", r.stdout)
	}
	var rep struct {
		Logs   string `json:"logs"`
		Rows   int64  `json:"rows"`
		Groups []struct {
			Service         string `json:"service"`
			RegistryVersion uint64 `json:"registry_version"`
			Features        []struct {
				Feature  string  `json:"feature"`
				Compared int64   `json:"compared"`
				Mismatch int64   `json:"mismatch"`
				Rate     float64 `json:"mismatch_rate"`
			} `json:"features"`
			Worst []struct {
				Keys []struct {
					Name  string  `json:"name"`
					Value *string `json:"value"`
				} `json:"keys"`
				Rows    int64 `json:"rows"`
				Example struct {
					Feature      string  `json:"feature"`
					Served       *string `json:"served"`
					ServedStatus string  `json:"served_status"`
					Offline      *string `json:"offline"`
				} `json:"example"`
			} `json:"worst_entities"`
		} `json:"groups"`
		Total struct {
			Compared, Match, Mismatch int64
			ServedOnly                int64   `json:"served_only"`
			OfflineOnly               int64   `json:"offline_only"`
			Rate                      float64 `json:"mismatch_rate"`
		} `json:"total"`
	}
	js, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(js, &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Logs != bad || rep.Rows != 8 || rep.Total.Compared != 16 || rep.Total.Match != 12 || rep.Total.Mismatch != 4 || rep.Total.Rate != 0.25 {
		t.Fatalf("--out report: %s", js)
	}
	g := rep.Groups[0]
	if g.Service != "svc" || g.RegistryVersion != 1 || len(g.Features) != 2 || g.Features[0].Feature != "v__x" || g.Features[0].Mismatch != 2 || g.Features[0].Rate != 0.25 {
		t.Fatalf("--out group: %s", js)
	}
	if len(g.Worst) != 1 || g.Worst[0].Keys[0].Name != "k" || *g.Worst[0].Keys[0].Value != "2" || g.Worst[0].Rows != 2 ||
		*g.Worst[0].Example.Served != "-1" || *g.Worst[0].Example.Offline != "25.25" || g.Worst[0].Example.ServedStatus != "PRESENT" {
		t.Fatalf("--out worst entities: %s", js)
	}

	// -o json prints the same report; --max-mismatch at the rate passes.
	r = mustRun(t, append(base, "--logs", bad, "--max-mismatch", "0.25", "-o", "json")...)
	if !json.Valid([]byte(r.stdout)) || !strings.Contains(r.stdout, `"mismatch_rate": 0.25`) {
		t.Fatalf("-o json: %s", r.stdout)
	}
	r = fstore(t, append(base, "--logs", bad, "--max-mismatch", "0.2", "-q")...)
	if r.code != exitError || !strings.Contains(r.stderr, "above --max-mismatch 0.2") {
		t.Fatalf("--max-mismatch 0.2: exit %d, %q", r.code, r.stderr)
	}

	// No logs: exit 2 with the reason, never "0 mismatches".
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--logs", filepath.Join(dir, "nowhere")}, "nowhere does not exist"},
		{[]string{"--logs", filepath.Join(dir, "defs.textproto")}, "defs.textproto is not a directory"},
		{[]string{"--logs", t.TempDir()}, "holds no published feature log"},
		{[]string{"--logs", good, "--since", "2030-01-01"}, "none of the 1 log files"},
		{[]string{"--logs", good, "--since", "yesterday"}, "--since \"yesterday\""},
		{[]string{"--logs", good, "--max-mismatch", "2"}, "want a rate from 0 to 1"},
		{nil, "want --logs DIR"},
	} {
		r := fstore(t, append(base, c.args...)...)
		if r.code != exitUsage || !strings.Contains(r.stderr, c.want) || strings.Count(r.stderr, "\n") != 1 {
			t.Errorf("%v: exit %d, stderr %q, want exit 2 with %q", c.args, r.code, r.stderr, c.want)
		}
	}

	// A Parquet file that is not a log is bad input: exit 1, naming it.
	r = fstore(t, append(base, "--logs", filepath.Join(dir, "src"))...)
	if r.code != exitError || !strings.Contains(r.stderr, "part.parquet") || !strings.Contains(r.stderr, "not an fstore feature log") {
		t.Errorf("a directory of other Parquet files: exit %d, %q", r.code, r.stderr)
	}
}
