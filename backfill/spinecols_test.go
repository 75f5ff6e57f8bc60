package backfill

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go"

	"github.com/fstore/fstore/examples/rides"
)

// nestedRequest is a rides spine row with a nested group column in the
// middle and a column named like a feature.
type nestedRequest struct {
	RequestID int64 `parquet:"request_id"`
	DriverID  int64 `parquet:"driver_id"`
	Meta      struct {
		A int64  `parquet:"a"`
		B string `parquet:"b"`
	} `parquet:"meta"`
	RiderID        int64    `parquet:"rider_id"`
	EventTimestamp int64    `parquet:"event_timestamp,timestamp(microsecond)"`
	DistanceKm     float64  `parquet:"distance_km"`
	Surge          float64  `parquet:"surge"`
	Completed      bool     `parquet:"completed"`
	Clash          *float64 `parquet:"driver_hourly__conv_rate,optional"`
}

// nestedOut is the output of SpineColumns [meta, completed] with one of
// the features read back.
type nestedOut struct {
	Meta struct {
		A int64  `parquet:"a"`
		B string `parquet:"b"`
	} `parquet:"meta"`
	Completed bool     `parquet:"completed"`
	ConvRate  *float64 `parquet:"driver_hourly__conv_rate,optional"`
}

// TestSpineColumnsAndSpines checks Config.SpineColumns and Config.Spines:
// the output holds exactly the kept spine columns (in spine order, leaves
// renumbered past dropped ones, nested groups whole) and the features,
// rows in the order of the files listed (not their lexical order), with
// values equal to a plain backfill's, through the chunk-copying writer and
// the parquet-go writer (flat column path and nested row path); bad
// names are configuration errors naming the column.
func TestSpineColumnsAndSpines(t *testing.T) {
	dir := t.TempDir()
	if _, err := rides.Write(dir, rides.Config{Drivers: 20, Riders: 40, Days: 3, SpineRows: 3000}); err != nil {
		t.Fatal(err)
	}
	snap := snapshotOf(t, dir)
	ctx := context.Background()
	spine := filepath.Join(dir, "data", "spine.parquet")
	ref := filepath.Join(dir, "ref.parquet")
	if _, err := Run(ctx, Config{Snapshot: snap, Service: "trip_completion", Spine: spine, Out: ref, Workers: 2, NoProfile: true}); err != nil {
		t.Fatal(err)
	}
	refNames, refRows := readTable(t, ref)
	col := func(name string) int { return slices.Index(refNames, name) }
	features := refNames[7:]

	// The spine split in two, listed second half first, in directories
	// whose lexical order is the other way round.
	reqs, err := parquet.ReadFile[rides.Request](spine)
	if err != nil {
		t.Fatal(err)
	}
	half := len(reqs) / 2
	first, second := filepath.Join(dir, "z", "part.parquet"), filepath.Join(dir, "a", "part.parquet")
	for path, rows := range map[string][]rides.Request{first: reqs[half:], second: reqs[:half]} {
		os.MkdirAll(filepath.Dir(path), 0o755)
		if err := parquet.WriteFile(path, rows, parquet.MaxRowsPerRowGroup(700)); err != nil {
			t.Fatal(err)
		}
	}
	order := append(slices.Clone(refRows[half:]), refRows[:half]...)

	for _, path := range []outputPath{outputAuto, outputRows} {
		for _, keep := range [][]string{{"rider_id", "event_timestamp"}, {}, {"completed", "request_id"}} {
			t.Run(fmt.Sprintf("path=%d/keep=%v", path, keep), func(t *testing.T) {
				out := filepath.Join(t.TempDir(), "out.parquet")
				st, err := Run(ctx, Config{Snapshot: snap, Service: "trip_completion", Spines: []string{first, second}, SpineColumns: keep,
					Out: out, Workers: 2, NoProfile: true, outputPath: path})
				if err != nil {
					t.Fatal(err)
				}
				if st.Rows != int64(len(reqs)) {
					t.Fatalf("%d rows", st.Rows)
				}
				names, rows := readTable(t, out)
				var want []string
				for _, n := range refNames[:7] {
					if slices.Contains(keep, n) {
						want = append(want, n)
					}
				}
				want = append(want, features...)
				if !slices.Equal(names, want) {
					t.Fatalf("columns %v, want %v", names, want)
				}
				for i, row := range rows {
					for j, n := range names {
						if w := order[i][col(n)]; !reflect.DeepEqual(row[j], w) {
							t.Fatalf("row %d column %s: %v, want %v", i, n, row[j], w)
						}
					}
				}
			})
		}
	}

	// A nested column kept whole, a dropped column named like a feature.
	nested := make([]nestedRequest, len(reqs))
	for i, r := range reqs {
		n := &nested[i]
		n.RequestID, n.DriverID, n.RiderID, n.EventTimestamp = r.RequestID, r.DriverID, r.RiderID, r.EventTimestamp
		n.DistanceKm, n.Surge, n.Completed = r.DistanceKm, r.Surge, r.Completed
		n.Meta.A, n.Meta.B = int64(i), fmt.Sprint("m", i%13)
		n.Clash = ptr(float64(i))
	}
	nspine := filepath.Join(dir, "nested.parquet")
	if err := parquet.WriteFile(nspine, nested, parquet.MaxRowsPerRowGroup(1000)); err != nil {
		t.Fatal(err)
	}
	for _, path := range []outputPath{outputAuto, outputRows} {
		out := filepath.Join(dir, fmt.Sprintf("nested-%d.parquet", path))
		if _, err := Run(ctx, Config{Snapshot: snap, Service: "trip_completion", Spine: nspine, SpineColumns: []string{"completed", "meta"},
			Out: out, Workers: 2, NoProfile: true, outputPath: path}); err != nil {
			t.Fatal(err)
		}
		f, _ := os.Open(out)
		st, _ := f.Stat()
		file, err := parquet.OpenFile(f, st.Size())
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, fd := range file.Schema().Fields() {
			names = append(names, fd.Name())
		}
		f.Close()
		if !slices.Equal(names, append([]string{"meta", "completed"}, features...)) {
			t.Fatalf("path %d: columns %v", path, names)
		}
		got, err := parquet.ReadFile[nestedOut](out)
		if err != nil {
			t.Fatal(err)
		}
		for i, g := range got {
			var conv *float64
			if v := refRows[i][col("driver_hourly__conv_rate")]; v != nil {
				conv = ptr(v.(float64))
			}
			if g.Meta != nested[i].Meta || g.Completed != nested[i].Completed || !reflect.DeepEqual(g.ConvRate, conv) {
				t.Fatalf("path %d row %d: %+v, want meta %+v completed %v conv %v", path, i, g, nested[i].Meta, nested[i].Completed, conv)
			}
		}
	}

	bad := []struct {
		cfg  Config
		want string
	}{
		{Config{Spine: spine, SpineColumns: []string{"driver_id", "nope"}}, `SpineColumns[1]: the spine has no column "nope"`},
		{Config{Spine: spine, SpineColumns: []string{"driver_id", "driver_id"}}, `SpineColumns[1] "driver_id" repeats SpineColumns[0]`},
		{Config{Spine: spine, Spines: []string{first}}, "set one, not both"},
		{Config{Spines: []string{first, ""}}, "Spines[1] is empty"},
		{Config{Spine: nspine, SpineColumns: []string{"driver_hourly__conv_rate"}}, `the spine already has a column "driver_hourly__conv_rate"`},
	}
	for _, b := range bad {
		b.cfg.Snapshot, b.cfg.Service, b.cfg.Out = snap, "trip_completion", filepath.Join(dir, "bad.parquet")
		_, err := Run(ctx, b.cfg)
		if !errors.Is(err, ErrConfig) || !containsText(err, b.want) {
			t.Errorf("%+v: error %v, want ErrConfig with %q", b.cfg.SpineColumns, err, b.want)
		}
		if _, serr := os.Stat(b.cfg.Out); serr == nil {
			t.Errorf("output written despite %v", err)
		}
	}
}

func containsText(err error, s string) bool {
	return err != nil && strings.Contains(err.Error(), s)
}
