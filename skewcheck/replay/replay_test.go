package replay_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"
	"go.uber.org/goleak"

	"github.com/fstore/fstore/compute"
	"github.com/fstore/fstore/featurestore"
	"github.com/fstore/fstore/featurestore/def"
	"github.com/fstore/fstore/featurestore/registry"
	"github.com/fstore/fstore/skewcheck/featurelog"
	"github.com/fstore/fstore/skewcheck/replay"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type event struct {
	K  int64   `parquet:"k"`
	TS int64   `parquet:"ts,timestamp(microsecond)"`
	X  float64 `parquet:"x"`
	N  int64   `parquet:"n"`
}

const defs = `
entities { name: "e" join_keys { name: "k" type: INT64 } }
sources { name: "src" parquet { path: "src" } timestamp_column: "ts" }
sources { name: "live" push { batch_source: "src" } timestamp_column: "ts"
  schema { name: "k" type: INT64 } schema { name: "ts" type: TIMESTAMP }
  schema { name: "x" type: DOUBLE } schema { name: "n" type: INT64 } }
feature_views {
  name: "v" entities: "e" source: "live" online: true
  features { name: "x" type: DOUBLE %s }
  features { name: "n" type: INT64 }
  aggregations { name: "sum_x" function: SUM expr: "x" window { seconds: 3600 } hop { seconds: 300 } }
  aggregations { name: "cnt" function: COUNT window { seconds: 3600 } hop { seconds: 300 } }
}
feature_services { name: "svc" features: "v:*" }
`

const (
	minute   = int64(time.Minute / time.Microsecond)
	t0       = int64(1_700_000_000_000_000) / (60 * minute) * (60 * minute) // on the hour
	tEnd     = t0 + 110*minute                                              // the last event
	entities = 10
)

// fixture is a data directory with the definitions applied and a history:
// entity k has an event every 10 minutes from t0, j = 0..11, except that
// entities 5 and up stop after j = 5.
type fixture struct {
	dir  string
	fs   *featurestore.Store
	snap *registry.Snapshot
	ov   *featurestore.OnlineView
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "src"), 0o755)
	var rows []event
	for k := range int64(entities) {
		for j := range int64(12) {
			if k >= 5 && j > 5 {
				continue
			}
			rows = append(rows, event{K: k, TS: t0 + j*10*minute, X: float64(k) + float64(j)/8 + 0.1, N: k*100 + j})
		}
	}
	if err := parquet.WriteFile(filepath.Join(dir, "src", "part-0.parquet"), rows); err != nil {
		t.Fatal(err)
	}
	fs, err := featurestore.Open(filepath.Join(dir, "data"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fs.Close() })
	f := &fixture{dir: dir, fs: fs}
	f.apply(t, "")
	return f
}

func (f *fixture) apply(t *testing.T, xExpr string) {
	t.Helper()
	path := filepath.Join(f.dir, "defs.textproto")
	os.WriteFile(path, []byte(fmt.Sprintf(defs, xExpr)), 0o644)
	p, origins, err := registry.LoadFiles([]string{path})
	if err != nil {
		t.Fatal(err)
	}
	d, err := registry.Compile(p, origins, compute.NewChecker())
	if err != nil {
		t.Fatal(err)
	}
	res, err := f.fs.Registry().Apply(d, registry.ApplyOptions{AllowBreaking: true})
	if err != nil {
		t.Fatal(err)
	}
	f.snap = res.Snapshot
	if f.ov, err = featurestore.CompileOnline(f.snap.Index, f.snap.Index.FeatureView("v")); err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) materialize(t *testing.T, end int64) {
	t.Helper()
	if _, err := featurestore.Materialize(context.Background(), f.snap.Index, f.fs.Online(), featurestore.MaterializeOptions{End: time.UnixMicro(end)}); err != nil {
		t.Fatal(err)
	}
}

// serve reads every entity at each time from the online store, as serve
// does, and logs the rows with featurelog under dir.
func (f *fixture) serve(t *testing.T, dir string, times ...int64) {
	t.Helper()
	f.serveWith(t, featurelog.Options{Dir: dir}, false, times...)
}

// serveWith is serve with the logger's options; with model, every request
// also logs a model's rows (features x and cnt as its inputs, endpoint
// "ep", model "m"), interleaved with the service's, as /v1/predict does.
func (f *fixture) serveWith(t *testing.T, opts featurelog.Options, model bool, times ...int64) {
	t.Helper()
	schema := featurelog.Schema{Service: "svc", RegistryVersion: f.snap.Version, Keys: []def.Field{{Name: "k", Type: def.Int64}}}
	mschema := schema
	mschema.Model = true
	var inputs []int // model input i is output inputs[i]
	for o, out := range f.ov.Outputs {
		fd := def.Field{Name: "v__" + out.Name, Type: out.Type}
		schema.Features = append(schema.Features, fd)
		if out.Name == "x" || out.Name == "cnt" {
			mschema.Features = append(mschema.Features, fd)
			inputs = append(inputs, o)
		}
	}
	s, err := featurelog.NewSchema(schema)
	if err != nil {
		t.Fatal(err)
	}
	ms, err := featurelog.NewSchema(mschema)
	if err != nil {
		t.Fatal(err)
	}
	lg, err := featurelog.Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	var keys compute.Column
	keys.Reset(def.Int64, entities)
	for k := range keys.I64 {
		keys.I64[k] = int64(k)
	}
	for _, ts := range times {
		var res featurestore.ReadResult
		if err := featurestore.Read(context.Background(), f.fs.Online(), f.ov, []*compute.Column{&keys}, entities, ts, &res); err != nil {
			t.Fatal(err)
		}
		b := featurelog.Acquire(s)
		for i := range entities {
			row := b.AddRow(fmt.Sprintf("req-%d-%d", ts, i), ts)
			b.SetKey(row, 0, &keys, i)
			for o := range f.ov.Outputs {
				b.SetFeature(row, o, &res.Values[o], i, res.Status[o][i], res.EventTS[i])
			}
		}
		if b.Err() != nil {
			t.Fatal(b.Err())
		}
		lg.Submit(b)
		if !model {
			continue
		}
		b = featurelog.Acquire(ms)
		for i := range entities {
			row := b.AddRow(fmt.Sprintf("pred-%d-%d", ts, i), ts)
			b.SetKey(row, 0, &keys, i)
			for m, o := range inputs {
				b.SetFeature(row, m, &res.Values[o], i, res.Status[o][i], res.EventTS[i])
			}
			b.SetModel(row, "ep", "m", 1, float64(i)/10)
		}
		if b.Err() != nil {
			t.Fatal(b.Err())
		}
		lg.Submit(b)
	}
	if err := lg.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	want := entities * len(times)
	if model {
		want *= 2
	}
	if st := lg.Stats(); st.RowsLogged != int64(want) {
		t.Fatalf("logged %+v, want %d rows", st, want)
	}
}

func (f *fixture) replay(t *testing.T, logs string) *replay.Report {
	t.Helper()
	rep, err := replay.Run(context.Background(), f.config(logs))
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func (f *fixture) config(logs string) replay.Config {
	return replay.Config{
		Logs:     logs,
		Snapshot: func(_ context.Context, v uint64) (*registry.Snapshot, error) { return f.fs.Registry().At(v) },
		TempDir:  f.dir, Workers: 2,
	}
}

func featureCounts(rep *replay.Report) map[string]replay.Counts {
	m := map[string]replay.Counts{}
	for _, g := range rep.Groups {
		for _, fr := range g.Features {
			m[fr.Feature] = fr.Counts
		}
	}
	return m
}

// TestReplayMatches serves from a store materialised from the whole
// history, at times at and after its last event: every value matches. A
// later registry version that changes a feature's expression does not
// change that, since replay recomputes with the version the log recorded.
func TestReplayMatches(t *testing.T) {
	f := newFixture(t)
	f.materialize(t, tEnd)
	logs := filepath.Join(f.dir, "logs")
	f.serve(t, logs, tEnd, tEnd+20*minute, tEnd+50*minute)
	logged := f.snap.Version
	f.apply(t, `expr: "x + 1.0"`)
	if f.snap.Version == logged {
		t.Fatal("the changed definition made no new version")
	}
	rep := f.replay(t, logs)
	if len(rep.Groups) != 1 || rep.Groups[0].RegistryVersion != logged || rep.Groups[0].Service != "svc" {
		t.Fatalf("groups %+v", rep.Groups)
	}
	if rep.Rows != 30 || rep.Total.Compared != 120 || rep.Total.Match != 120 || rep.Total.Disagree() != 0 || rep.Total.MismatchRate != 0 {
		t.Fatalf("total %+v over %d rows, want 120 values all matching", rep.Total, rep.Rows)
	}
	if w := rep.Groups[0].Worst; len(w) != 0 {
		t.Fatalf("worst entities %+v, want none", w)
	}
	fc := featureCounts(rep)
	if fc["v__sum_x"].Compared != 30 || rep.Groups[0].Features[2].Tolerance != replay.DefaultTolerance || rep.Groups[0].Features[0].Tolerance != 0 {
		t.Fatalf("features %+v", rep.Groups[0].Features)
	}

	// The same logs at the latest version (where x is x + 1) would all
	// disagree on x: the version matters.
	cfg := f.config(logs)
	cfg.Snapshot = func(context.Context, uint64) (*registry.Snapshot, error) { return f.snap, nil }
	if _, err := replay.Run(context.Background(), cfg); err == nil || !strings.Contains(err.Error(), "asked for registry version") {
		t.Fatalf("a resolver returning another version: %v", err)
	}
}

// TestReplayPushedBehindBack pushes an event the history does not have
// for entity 3: exactly its rows served after it disagree, on every
// feature.
func TestReplayPushedBehindBack(t *testing.T) {
	f := newFixture(t)
	f.materialize(t, tEnd)
	eb := featurestore.NewEventBuilder(f.snap.Index.Source("live"))
	eb.AddRow()
	eb.SetInt64(0, 3)
	eb.SetInt64(1, tEnd+10*minute)
	eb.SetDouble(2, 999)
	eb.SetInt64(3, 7)
	if _, err := featurestore.Push(context.Background(), f.fs.Online(), f.ov, eb.Batch(), featurestore.PushOptions{}); err != nil {
		t.Fatal(err)
	}
	logs := filepath.Join(f.dir, "logs")
	f.serve(t, logs, tEnd+20*minute, tEnd+50*minute)
	rep := f.replay(t, logs)
	if rep.Rows != 20 || rep.Total.Compared != 80 || rep.Total.Disagree() != 8 {
		t.Fatalf("total %+v over %d rows, want 8 of 80 values disagreeing", rep.Total, rep.Rows)
	}
	fc := featureCounts(rep)
	for _, name := range []string{"v__x", "v__n", "v__sum_x", "v__cnt"} {
		if c := fc[name]; c.Disagree() != 2 || c.OfflineOnly != 0 {
			t.Errorf("%s: %+v, want 2 disagreeing (served by the push)", name, c)
		}
	}
	if c := fc["v__x"]; c.Mismatch != 2 {
		t.Errorf("v__x %+v, want 2 mismatches", c)
	}
	w := rep.Groups[0].Worst
	if len(w) != 1 || w[0].Rows != 2 || w[0].Values != 8 || len(w[0].Keys) != 1 || *w[0].Keys[0].Value != "3" {
		t.Fatalf("worst %+v, want entity k=3 with 2 rows", w)
	}
	x := w[0].Example
	if x.Feature != "v__x" || *x.Served != "999" || x.Category != "mismatch" || x.ServedStatus != "PRESENT" ||
		x.RequestTS != time.UnixMicro(tEnd+20*minute).UTC() || !strings.HasPrefix(x.RequestID, "req-") {
		t.Fatalf("example %+v", x)
	}
	if want := fmt.Sprint(float64(3) + 11.0/8 + 0.1); *x.Offline != want {
		t.Fatalf("example offline %s, want %s", *x.Offline, want)
	}

	// Since inside the file: the rows served at tEnd+20min are recomputed
	// (the file is the spine) but not compared.
	cfg := f.config(logs)
	cfg.Since = time.UnixMicro(tEnd + 30*minute)
	rep, err := replay.Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Rows != 10 || rep.Total.Compared != 40 || rep.Total.Disagree() != 4 {
		t.Fatalf("since tEnd+30min: total %+v over %d rows, want 4 of 40 values disagreeing", rep.Total, rep.Rows)
	}
	w = rep.Groups[0].Worst
	if len(w) != 1 || w[0].Rows != 1 || w[0].Example.RequestTS != time.UnixMicro(tEnd+50*minute).UTC() ||
		w[0].Example.RequestID != fmt.Sprintf("req-%d-3", tEnd+50*minute) {
		t.Fatalf("since tEnd+30min: worst %+v", w)
	}
}

// TestReplayTwoSchemas logs a service's rows and a model's rows on it,
// interleaved request by request, in small row groups and files (so that
// the comparison's windows cross row groups and files): replay reports
// two groups, the model's named in its header, and finds exactly the
// pushed entity's rows in both.
func TestReplayTwoSchemas(t *testing.T) {
	f := newFixture(t)
	f.materialize(t, tEnd)
	eb := featurestore.NewEventBuilder(f.snap.Index.Source("live"))
	eb.AddRow()
	eb.SetInt64(0, 3)
	eb.SetInt64(1, tEnd+10*minute)
	eb.SetDouble(2, 999)
	eb.SetInt64(3, 7)
	if _, err := featurestore.Push(context.Background(), f.fs.Online(), f.ov, eb.Batch(), featurestore.PushOptions{}); err != nil {
		t.Fatal(err)
	}
	logs := filepath.Join(f.dir, "logs")
	times := []int64{tEnd, tEnd + 20*minute, tEnd + 40*minute, tEnd + 50*minute}
	f.serveWith(t, featurelog.Options{Dir: logs, RowGroupRows: 7, MaxFileBytes: 1}, true, times...)
	rep := f.replay(t, logs)
	if len(rep.Groups) != 2 || rep.Rows != 80 {
		t.Fatalf("%d groups, %d rows; want 2 groups of 40 rows", len(rep.Groups), rep.Rows)
	}
	svc, mod := rep.Groups[0], rep.Groups[1]
	if svc.Model {
		svc, mod = mod, svc
	}
	if svc.Model || !mod.Model || !slices.Equal(mod.Models, []string{"m"}) || !slices.Equal(mod.Endpoints, []string{"ep"}) || len(mod.Files) < 2 {
		t.Fatalf("groups %+v / %+v", svc, mod)
	}
	if len(svc.Features) != 4 || len(mod.Features) != 2 || mod.Features[0].Feature != "v__x" || mod.Features[1].Feature != "v__cnt" {
		t.Fatalf("features %+v / %+v", svc.Features, mod.Features)
	}
	// Entity 3 is served the push at every time (the online state holds
	// the latest event, even at tEnd, before it).
	if svc.Rows != 40 || svc.Total.Disagree() != 16 || mod.Rows != 40 || mod.Total.Disagree() != 8 {
		t.Fatalf("service %d rows %+v, model %d rows %+v", svc.Rows, svc.Total, mod.Rows, mod.Total)
	}
	if w := mod.Worst; len(w) != 1 || w[0].Rows != 4 || w[0].Example.RequestID != fmt.Sprintf("pred-%d-3", tEnd) {
		t.Fatalf("model worst %+v", w)
	}
	var buf strings.Builder
	if err := rep.WriteTable(&buf); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "predictions of model m (endpoint ep)") {
		t.Fatalf("table:\n%s", buf.String())
	}
}

// TestReplayStale materialises up to t0+1h and serves at tEnd+20min:
// entities 0-4, which have newer events, disagree on every feature;
// entities 5-9, which do not, match.
func TestReplayStale(t *testing.T) {
	f := newFixture(t)
	f.materialize(t, t0+60*minute)
	logs := filepath.Join(f.dir, "logs")
	f.serve(t, logs, tEnd+20*minute)
	rep := f.replay(t, logs)
	if rep.Rows != 10 || rep.Total.Compared != 40 || rep.Total.Disagree() != 20 || rep.Total.MismatchRate != 0.5 {
		t.Fatalf("total %+v, want 20 of 40 disagreeing", rep.Total)
	}
	fc := featureCounts(rep)
	for _, name := range []string{"v__x", "v__n"} {
		if c := fc[name]; c.Mismatch != 5 || c.Match != 5 {
			t.Errorf("%s: %+v, want 5 mismatches", name, c)
		}
	}
	// At tEnd+20min the offline window holds entities 0-4's last three
	// events; the stale online state has none in it.
	for _, name := range []string{"v__sum_x", "v__cnt"} {
		if c := fc[name]; c.Disagree() != 5 || c.ServedOnly != 0 {
			t.Errorf("%s: %+v, want 5 disagreeing, none served-only", name, c)
		}
	}
	w := rep.Groups[0].Worst
	if len(w) != 5 {
		t.Fatalf("worst %+v, want entities 0-4", w)
	}
	for i, e := range w {
		if *e.Keys[0].Value != fmt.Sprint(i) || e.Rows != 1 || e.Values != 4 {
			t.Errorf("worst %d: %+v", i, e)
		}
	}

	// Since/Until select rows: a range after every request is no logs.
	cfg := f.config(logs)
	cfg.Since = time.UnixMicro(tEnd + 21*minute)
	_, err := replay.Run(context.Background(), cfg)
	if !errors.Is(err, replay.ErrNoLogs) || !strings.Contains(err.Error(), "none of the 1 log files") {
		t.Fatalf("range after the logs: %v", err)
	}
}

func TestReplayNoLogs(t *testing.T) {
	dir := t.TempDir()
	snap := func(context.Context, uint64) (*registry.Snapshot, error) { return nil, errors.New("unused") }
	_, err := replay.Run(context.Background(), replay.Config{Logs: dir, Snapshot: snap})
	if !errors.Is(err, replay.ErrNoLogs) || !strings.Contains(err.Error(), "holds no published feature log") {
		t.Fatalf("empty directory: %v", err)
	}
	os.WriteFile(filepath.Join(dir, ".x.parquet.tmp"), []byte("partial"), 0o644)
	if _, err := replay.Run(context.Background(), replay.Config{Logs: dir, Snapshot: snap}); !errors.Is(err, replay.ErrNoLogs) {
		t.Fatalf("only a temporary file: %v", err)
	}
	_, err = replay.Run(context.Background(), replay.Config{Logs: filepath.Join(dir, "missing"), Snapshot: snap})
	if !errors.Is(err, replay.ErrConfig) || !strings.Contains(err.Error(), "missing does not exist") {
		t.Fatalf("missing directory: %v", err)
	}
	os.WriteFile(filepath.Join(dir, "bad.parquet"), []byte("not parquet"), 0o644)
	_, err = replay.Run(context.Background(), replay.Config{Logs: dir, Snapshot: snap})
	if !errors.Is(err, featurelog.ErrFormat) || !strings.Contains(err.Error(), "bad.parquet") {
		t.Fatalf("corrupt file: %v", err)
	}
	for _, c := range []replay.Config{{}, {Logs: dir}, {Logs: dir, Snapshot: snap, Tolerance: -1}, {Logs: dir, Snapshot: snap, Since: time.Unix(2, 0), Until: time.Unix(1, 0)}} {
		if _, err := replay.Run(context.Background(), c); !errors.Is(err, replay.ErrConfig) {
			t.Errorf("%+v: %v, want ErrConfig", c, err)
		}
	}
}
