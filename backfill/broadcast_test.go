package backfill

import (
	"cmp"
	"context"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
)

// TestJoinChosenBySize runs one window-less view over the same random
// inputs under a memory limit its broadcast state does not fit in (the
// spill path) and one it fits in (the broadcast join), and checks that
// both pick the path the size calls for and write the same training set.
func TestJoinChosenBySize(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 5))
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "src"), 0o755)
	const keys = 500
	var src []rowMicros
	for i := 0; i < 20_000; i++ {
		row := rowMicros{K: ptr(r.Int64N(keys)), TS: ptr(r.Int64N(1000) * minute)}
		if r.IntN(10) != 0 {
			row.X = ptr(float64(r.IntN(1000)))
		}
		if r.IntN(4) == 0 {
			row.Created = ptr(r.Int64N(3))
		}
		src = append(src, row)
	}
	writeFile(t, filepath.Join(dir, "src", "part-0.parquet"), src)
	// 150,000 spine rows need about 14 MiB of broadcast state: more than
	// half of a 16 MiB limit, well under half of 256 MiB.
	var spine []spineRow
	for i := 0; i < 150_000; i++ {
		s := spineRow{K: ptr(r.Int64N(keys + 10)), T: ptr(r.Int64N(1100)*minute - 50*minute), Label: int64(i)}
		if r.IntN(100) == 0 {
			s.K = nil
		}
		spine = append(spine, s)
	}
	writeFile(t, filepath.Join(dir, "spine.parquet"), spine)
	defs := `entities { name: "e" join_keys { name: "k" type: INT64 } }
sources { name: "s" parquet { path: "src" } timestamp_column: "ts" created_timestamp_column: "created" }
feature_views { name: "v" entities: "e" source: "s" ttl { seconds: 36000 } features { name: "x" type: DOUBLE } }
`
	os.WriteFile(filepath.Join(dir, "defs.textproto"), []byte(defs), 0o644)
	snap := snapshotOf(t, filepath.Join(dir, "defs.textproto"))
	var tables [][][]any
	for _, c := range []struct {
		limit int64
		plan  string
	}{{16 << 20, "spill"}, {256 << 20, "broadcast"}} {
		out := filepath.Join(dir, c.plan+".parquet")
		st, err := Run(context.Background(), Config{Snapshot: snap, Features: []string{"v:x"}, Spine: filepath.Join(dir, "spine.parquet"), Out: out, Workers: 2, MemoryLimit: c.limit})
		if err != nil {
			t.Fatal(err)
		}
		if st.Plans["v"] != c.plan {
			t.Fatalf("memory limit %d MiB: view joined by %q, want %q", c.limit>>20, st.Plans["v"], c.plan)
		}
		_, rows := readTable(t, out)
		tables = append(tables, rows)
	}
	if len(tables[0]) != len(spine) {
		t.Fatalf("%d rows for %d spine rows", len(tables[0]), len(spine))
	}
	nulls := 0
	for i := range tables[0] {
		if !reflect.DeepEqual(tables[0][i], tables[1][i]) {
			t.Fatalf("spine row %d: spill %v, broadcast %v", i, tables[0][i], tables[1][i])
		}
		if tables[0][i][4] == nil {
			nulls++
		}
	}
	if nulls == 0 || nulls == len(spine) {
		t.Fatalf("%d null values of %d: the case tests nothing", nulls, len(spine))
	}
}

// TestRadixSortKeyRows checks the probe's batch sort against a stable
// comparison sort, with negative, extreme and repeated keys.
func TestRadixSortKeyRows(t *testing.T) {
	r := rand.New(rand.NewPCG(4, 4))
	for it := 0; it < 200; it++ {
		n := r.IntN(3000)
		recs := make([]keyRow, n)
		extremes := []int64{math.MinInt64, math.MaxInt64, -1, 0, 1 << 40}
		for i := range recs {
			k := r.Int64N(100) - 50
			switch r.IntN(4) {
			case 0:
				k = extremes[r.IntN(len(extremes))]
			case 1:
				k = r.Int64()
			}
			recs[i] = keyRow{k: k, row: int32(i)}
		}
		want := slices.Clone(recs)
		slices.SortStableFunc(want, func(a, b keyRow) int { return cmp.Compare(a.k, b.k) })
		got := radixSortKeyRows(recs, make([]keyRow, n))
		if !slices.Equal(got, want) {
			t.Fatalf("iteration %d: radix order differs from a stable comparison sort", it)
		}
	}
}
