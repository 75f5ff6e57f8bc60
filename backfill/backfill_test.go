package backfill

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
	"go.uber.org/goleak"

	"github.com/fstore/fstore/compute"
	"github.com/fstore/fstore/examples/rides"
	"github.com/fstore/fstore/featurestore/registry"
	"github.com/fstore/fstore/internal/pqtest"
)

type quietLog struct{}

func (quietLog) Infof(string, ...any)      {}
func (quietLog) Errorf(string, ...any)     {}
func (quietLog) Fatalf(f string, a ...any) { panic(f) }

// snapshotOf applies the definitions under dir to an in-memory registry.
func snapshotOf(t testing.TB, dir string) *registry.Snapshot {
	t.Helper()
	db, err := pebble.Open("db", &pebble.Options{FS: vfs.NewMem(), Logger: quietLog{}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	reg, err := registry.Open(db, &registry.Options{Checker: compute.NewChecker()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(reg.Close)
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
	return res.Snapshot
}

// readTable reads a flat Parquet file: column names in file order and
// rows of Go values (nil for null).
func readTable(t testing.TB, path string) ([]string, [][]any) { return pqtest.ReadTable(t, path) }

func TestExampleTrainingSet(t *testing.T) {
	dir := t.TempDir()
	if _, err := rides.Write(dir, rides.Config{Drivers: 30, Riders: 50, Days: 3, SpineRows: 2500}); err != nil {
		t.Fatal(err)
	}
	snap := snapshotOf(t, dir)
	out := filepath.Join(dir, "train.parquet")
	st, err := Run(context.Background(), Config{Snapshot: snap, Service: "trip_completion", Spine: filepath.Join(dir, "data", "spine.parquet"), Out: out, Workers: 2, MemoryLimit: 64 << 20})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v", st)
	names, rows := readTable(t, out)
	if len(rows) != 2500 { // one row group of 2500 rows: several 1024-row write batches
		t.Fatalf("%d rows", len(rows))
	}
	want := []string{"request_id", "driver_id", "rider_id", "event_timestamp", "distance_km", "surge", "completed"}
	for i, n := range want {
		if names[i] != n {
			t.Fatalf("column %d is %s, want %s (spine columns first, in spine order): %v", i, names[i], n, names)
		}
	}
	if names[len(want)] != "driver_hourly__conv_rate" || len(names) != len(want)+16 {
		t.Fatalf("feature columns: %v", names[len(want):])
	}
	// Spine order is kept: request ids ascend as generated.
	for i, r := range rows {
		if r[0].(int64) != int64(i+1) {
			t.Fatalf("row %d has request_id %v", i, r[0])
		}
	}
	if _, err := os.Stat(out + ".profile.json"); err != nil {
		t.Fatal(err)
	}
}

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
