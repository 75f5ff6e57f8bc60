package backfill

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"

	"github.com/parquet-go/parquet-go"

	"github.com/fstore/fstore/compute"
	"github.com/fstore/fstore/featurestore/def"
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

// TestRadixSortKeyRowsParallel checks the parallel sort against the
// serial one, which is stable, on inputs large enough to be split.
func TestRadixSortKeyRowsParallel(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, c := range []struct {
		n, workers int
		span       int64
	}{{300_000, 2, 1000}, {200_001, 3, 1 << 40}, {150_000, 4, 3}, {100_000, 2, 0}} {
		recs := make([]keyRow, c.n)
		for i := range recs {
			k := int64(0)
			if c.span > 0 {
				k = r.Int64N(c.span) - c.span/2
			}
			recs[i] = keyRow{k: k, row: int32(i)}
		}
		want := radixSortKeyRows(slices.Clone(recs), make([]keyRow, c.n))
		got := radixSortKeyRowsParallel(recs, make([]keyRow, c.n), c.workers)
		if !slices.Equal(got, want) {
			t.Fatalf("n=%d workers=%d: parallel order differs from the serial one", c.n, c.workers)
		}
	}
}

// TestNewestFirst checks the probe's row group order: by each row group's
// greatest time, newest first, across files whose times have different
// units, stably; and file order where a file has no statistics to go by.
func TestNewestFirst(t *testing.T) {
	dir := t.TempDir()
	var micros []rowMicros
	var millis []rowMillis
	for i := int64(0); i < 6; i++ {
		// Row groups of 2 rows: micros at 0-1, 2-3, 4-5 minutes; millis
		// at 3-3.5, 1-1.5, 5-5.5 minutes.
		micros = append(micros, rowMicros{K: ptr(i), TS: ptr(i * minute)})
		m := []int64{3, 1, 5}[i/2]*minute/1000 + i%2*30_000
		millis = append(millis, rowMillis{K: ptr(i), TS: ptr(m)})
	}
	write := func(path string, rows any) {
		var err error
		switch rows := rows.(type) {
		case []rowMicros:
			err = parquet.WriteFile(path, rows, parquet.MaxRowsPerRowGroup(2))
		case []rowMillis:
			err = parquet.WriteFile(path, rows, parquet.MaxRowsPerRowGroup(2))
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(dir, "a.parquet"), micros)
	write(filepath.Join(dir, "b.parquet"), millis)
	var files []*pqFile
	var tasks []task
	for fi, name := range []string{"a.parquet", "b.parquet"} {
		pf, err := openProjected(filepath.Join(dir, name), nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer pf.Close()
		files = append(files, pf)
		for g := range pf.File.RowGroups() {
			tasks = append(tasks, task{file: fi, rowGroup: g})
		}
	}
	newestFirst(tasks, files, "ts")
	var got []string
	for _, tk := range tasks {
		got = append(got, fmt.Sprintf("%d/%d", tk.file, tk.rowGroup))
	}
	// Greatest times: a 1, 3, 5 min; b 3.5, 1.5, 5.5 min.
	want := []string{"1/2", "0/2", "1/0", "0/1", "1/1", "0/0"}
	if !slices.Equal(got, want) {
		t.Fatalf("order %v, want %v", got, want)
	}
	// No statistics for a column named so: file order.
	before := slices.Clone(tasks)
	newestFirst(tasks, files, "nope")
	if !slices.Equal(tasks, before) {
		t.Fatalf("order changed without statistics")
	}
}

// TestBroadcastLeastTime probes events at the least time there is (whose
// bits are those of zero memory with the sign bit set): ties at that time
// must be broken by created time and then file order, whatever order the
// events come in; an event without a created time still counts.
func TestBroadcastLeastTime(t *testing.T) {
	const least = math.MinInt64
	spine := &compute.Batch{Len: 3, Cols: []*compute.Column{
		{Type: def.Int64, Len: 3, I64: []int64{1, 1, 2}},
		{Type: def.Timestamp, Len: 3, I64: []int64{least, least + 5, least}},
	}}
	sig := &keySig{types: []def.ValueType{def.Int64}, spineCols: []int{0}}
	bld := newSpineIndexBuilder(sig, 3)
	bld.add(0, spine, 1)
	ix := bld.build(1)
	plan := &compute.ViewPlan{Keys: []int{0}, Timestamp: 1, Created: 2,
		Outputs: []def.Field{{Name: "x", Type: def.Double}}}
	job := &viewJob{plan: plan, outs: []int{0}}
	// key, time, created, x: for key 1 at the least time, created 5 beats
	// created 3, and the later of two equal rows wins; key 2's only
	// event has no created time.
	events := [][4]int64{{1, least, 3, 10}, {1, least, 5, 20}, {1, least, 5, 30}, {1, least + 9, 9, 40}, {2, least, 0, 50}}
	for _, order := range [][]int{{0, 1, 2, 3, 4}, {4, 3, 2, 1, 0}, {2, 0, 4, 1, 3}} {
		v := newBcastView(ix, job)
		var sc probeScratch
		for _, e := range order {
			ev := events[e]
			b := &compute.Batch{Len: 1, Cols: []*compute.Column{
				{Type: def.Int64, Len: 1, I64: []int64{ev[0]}},
				{Type: def.Timestamp, Len: 1, I64: []int64{ev[1]}},
				{Type: def.Timestamp, Len: 1, I64: []int64{ev[2]}},
				{Type: def.Double, Len: 1, F64: []float64{float64(ev[3])}},
			}}
			if ev[0] == 2 {
				b.Cols[2].Valid = compute.Bitmap{0}
			}
			v.probe(b, nil, b.Cols[3:], int64(e), &sc, 0)
		}
		v.finish(1)
		out := &compute.Column{}
		out.ResetBitmap(def.Double, 3, true)
		v.fill(0, 3, []*compute.Column{out}, &gatherScratch{})
		v.release()
		if got := []any{out.Value(0), out.Value(1), out.Value(2)}; !reflect.DeepEqual(got, []any{30.0, 30.0, 50.0}) {
			t.Fatalf("order %v: values %v, want [30 30 50]", order, got)
		}
	}
}
