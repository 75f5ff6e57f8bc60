package backfill

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/fstore/fstore/examples/rides"
	"github.com/fstore/fstore/skewcheck/profile"
)

// TestProfileBesideTrainingSet checks the baseline profile backfill
// writes: it decodes as the current format, covers every feature column
// with the run's null counts and rows, and numeric features carry a
// sketch; with NoProfile no profile is written and the statistics are
// the same.
func TestProfileBesideTrainingSet(t *testing.T) {
	dir := t.TempDir()
	if _, err := rides.Write(dir, rides.Config{Drivers: 30, Riders: 50, Days: 3, SpineRows: 3000}); err != nil {
		t.Fatal(err)
	}
	snap := snapshotOf(t, dir)
	spine := filepath.Join(dir, "data", "spine.parquet")
	out := filepath.Join(dir, "train.parquet")
	st, err := Run(context.Background(), Config{Snapshot: snap, Service: "trip_completion", Spine: spine, Out: out, Workers: 2, MemoryLimit: 64 << 20, RowGroupSize: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if st.Profile != out+".profile.json" {
		t.Fatalf("profile at %q", st.Profile)
	}
	p, err := profile.Read(st.Profile)
	if err != nil {
		t.Fatal(err)
	}
	if p.Format != profile.Format || p.Rows != 3000 || p.Dataset != "train.parquet" || len(p.Features) != len(st.Columns) {
		t.Fatalf("format %s rows %d dataset %s, %d features for %d columns", p.Format, p.Rows, p.Dataset, len(p.Features), len(st.Columns))
	}
	sketches := 0
	for i, name := range st.Columns {
		f := &p.Features[i]
		if f.Name != name || f.Nulls != st.Nulls[name] || f.Count+f.Nulls != 3000 {
			t.Fatalf("feature %d: %s count %d nulls %d; want %s with %d nulls of 3000", i, f.Name, f.Count, f.Nulls, name, st.Nulls[name])
		}
		if f.DDSketch() != nil {
			sketches++
			if cuts := f.CutPoints(100); len(cuts) != 99 || cuts[0] < *f.Min || cuts[98] > *f.Max {
				t.Fatalf("%s: cut points %v outside [%v, %v]", name, cuts, *f.Min, *f.Max)
			}
		}
	}
	if sketches == 0 {
		t.Fatal("no numeric feature has a sketch")
	}

	out2 := filepath.Join(dir, "train2.parquet")
	st2, err := Run(context.Background(), Config{Snapshot: snap, Service: "trip_completion", Spine: spine, Out: out2, Workers: 2, MemoryLimit: 64 << 20, RowGroupSize: 1000, NoProfile: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(out2 + ".profile.json"); !errors.Is(err, os.ErrNotExist) || st2.Profile != "" {
		t.Fatalf("NoProfile: stat %v, Stats.Profile %q", err, st2.Profile)
	}
	for _, name := range st.Columns {
		if st2.Nulls[name] != st.Nulls[name] {
			t.Fatalf("%s: %d nulls without the profile, %d with", name, st2.Nulls[name], st.Nulls[name])
		}
	}
}
