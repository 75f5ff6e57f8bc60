package featurelog_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/fstore/fstore/backfill"
	"github.com/fstore/fstore/compute"
	"github.com/fstore/fstore/examples/rides"
	"github.com/fstore/fstore/featurestore"
	"github.com/fstore/fstore/featurestore/def"
	"github.com/fstore/fstore/featurestore/registry"
	"github.com/fstore/fstore/internal/pqtest"
	"github.com/fstore/fstore/skewcheck/featurelog"
)

type quietLog struct{}

func (quietLog) Infof(string, ...any)      {}
func (quietLog) Errorf(string, ...any)     {}
func (quietLog) Fatalf(f string, a ...any) { panic(f) }

// TestLogIsBackfillSpine logs rows of the rides example's trip_completion
// keys and request context, then runs backfill.Run with the log file as
// the spine (timestamp column request_ts): every logged row comes out in
// order with its columns carried, and the on-demand feature computed from
// the logged request context.
func TestLogIsBackfillSpine(t *testing.T) {
	dir := t.TempDir()
	if _, err := rides.Write(dir, rides.Config{Drivers: 10, Riders: 10, Days: 2, SpineRows: 10}); err != nil {
		t.Fatal(err)
	}
	db, err := pebble.Open("db", &pebble.Options{FS: vfs.NewMem(), Logger: quietLog{}})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	reg, err := registry.Open(db, &registry.Options{Checker: compute.NewChecker()})
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	p, origins, err := registry.LoadFiles([]string{dir})
	if err != nil {
		t.Fatal(err)
	}
	d, err := registry.Compile(p, origins, compute.NewChecker())
	if err != nil {
		t.Fatal(err)
	}
	res, err := reg.Apply(d, registry.ApplyOptions{})
	if err != nil {
		t.Fatal(err)
	}

	sc, err := featurelog.NewSchema(featurelog.Schema{
		Service:         "trip_completion",
		RegistryVersion: res.Snapshot.Version,
		Keys:            []def.Field{{Name: "driver_id", Type: def.Int64}, {Name: "rider_id", Type: def.Int64}},
		Context:         []def.Field{{Name: "distance_km", Type: def.Double}, {Name: "surge", Type: def.Double}},
		Features:        []def.Field{{Name: "driver_hourly__conv_rate", Type: def.Double}},
		Model:           true,
	})
	if err != nil {
		t.Fatal(err)
	}
	logDir := filepath.Join(dir, "log")
	l, err := featurelog.Open(featurelog.Options{Dir: logDir})
	if err != nil {
		t.Fatal(err)
	}
	const n = 40
	col := func(t def.ValueType) *compute.Column {
		return &compute.Column{Type: t, Len: n, I64: make([]int64, n), F64: make([]float64, n)}
	}
	driver, rider, dist, surge, conv := col(def.Int64), col(def.Int64), col(def.Double), col(def.Double), col(def.Double)
	asOf := rides.DefaultEnd.Add(-time.Hour).UnixMicro()
	b := featurelog.Acquire(sc)
	for i := 0; i < n; i++ {
		driver.I64[i], rider.I64[i] = int64(1001+i%10), int64(1+i%10)
		dist.F64[i], surge.F64[i], conv.F64[i] = float64(i), 1+float64(i%3)/2, 0.5
		r := b.AddRow(fmt.Sprintf("r%02d", i), asOf+int64(i)*1e6)
		b.SetKey(r, 0, driver, i)
		b.SetKey(r, 1, rider, i)
		b.SetContext(r, 0, dist, i)
		b.SetContext(r, 1, surge, i)
		b.SetFeature(r, 0, conv, i, featurestore.Present, asOf)
		b.SetModel(r, "completion", "completion", 1, 0.25)
	}
	l.Submit(b)
	if err := l.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	files, err := featurelog.List(logDir, time.Time{}, time.Time{})
	if err != nil || len(files) != 1 {
		t.Fatal(files, err)
	}
	out := filepath.Join(dir, "replay.parquet")
	// The log's own feature columns would collide with the same features
	// requested again (backfill refuses that), so the replay asks for
	// others: the on-demand ones, computed from the logged request
	// context, and a plain one joined on the logged keys.
	st, err := backfill.Run(context.Background(), backfill.Config{Snapshot: res.Snapshot,
		Features: []string{"trip_request:est_fare", "rider_profile:segment"}, Spine: files[0].Path,
		TimestampColumn: "request_ts", Out: out, Workers: 2, MemoryLimit: 64 << 20})
	if err != nil {
		t.Fatal(err)
	}
	if st.Rows != n {
		t.Fatalf("backfill wrote %d rows, want %d", st.Rows, n)
	}
	names, rows := pqtest.ReadTable(t, out)
	idx := map[string]int{}
	for i, nm := range names {
		idx[nm] = i
	}
	for _, c := range []string{"request_id", "request_ts", "driver_id", "rider_id", "distance_km", "surge", "driver_hourly__conv_rate__status", "prediction", "trip_request__est_fare", "rider_profile__segment"} {
		if _, ok := idx[c]; !ok {
			t.Fatalf("replay has no column %q: %v", c, names)
		}
	}
	for i, r := range rows {
		if r[idx["request_id"]] != fmt.Sprintf("r%02d", i) {
			t.Fatalf("row %d has request_id %v (spine order lost)", i, r[idx["request_id"]])
		}
		want := (2.5 + 1.2*dist.F64[i]) * surge.F64[i]
		if got := r[idx["trip_request__est_fare"]]; got != want {
			t.Fatalf("row %d: est_fare %v, want %v", i, got, want)
		}
	}
}
